import * as core from '@actions/core';
import type { Inputs } from '../inputs.js';
import { deleteEnvironment } from '../kube/delete.js';
import { listDockerHosts } from '../kube/find.js';
import type { Log } from '../kube/log.js';
import { actionsLog } from '../log.js';
import { connectWith, type RunContext } from './up.js';

export interface DownResult {
  envId: string;
  namespace: string;
  deleted: string[];
}

/** inputs → identity → find → delete. Deleting an environment that is not there succeeds with a notice. */
export async function down(inputs: Inputs, ctx: RunContext): Promise<DownResult> {
  const log: Log = ctx.log ?? actionsLog;
  const phase = ctx.phase ?? ((name, fn) => core.group(name, fn));
  const { namespace } = inputs;
  const client = await phase('Connect to the cluster', () => connectWith(inputs, log));
  try {
    // Every docker host of the env counts here, duplicates included: down must clean up whatever exists.
    const hosts = await phase('Find the environment', () =>
      listDockerHosts(client, { namespace, envId: ctx.envId }),
    );
    const types = hosts.flatMap((h) => h.types);
    const result = await phase('Delete the objects', () =>
      deleteEnvironment(client, {
        namespace,
        envId: ctx.envId,
        types,
        timeoutMs: inputs.readyTimeoutMs,
        log,
      }),
    );
    if (result.deleted.length === 0) {
      log.info(`Environment ${ctx.envId} has no objects in namespace ${namespace}: nothing to delete.`);
    } else {
      log.info(
        `Deleted ${result.deleted.length} objects of environment ${ctx.envId}: ${result.deleted.join(', ')}`,
      );
    }
    return { envId: ctx.envId, namespace, deleted: result.deleted };
  } finally {
    client.close();
  }
}
