import * as core from '@actions/core';
import { acquireLock, type EnvLock, holderIdentity } from '../environment/lock.js';
import type { Inputs } from '../inputs.js';
import { actionsLog } from '../log.js';
import type { Log } from '../util/log.js';
import { downReason, tearDown } from './teardown.js';
import { connectWith, type RunContext } from './up.js';

export interface DownResult {
  envId: string;
  namespace: string;
  deleted: string[];
  /**
   * The tombstone ConfigMap left behind (src/environment/tombstone.ts); absent when the environment had no objects:
   * then nothing was changed.
   */
  tombstone?: string;
}

/**
 * inputs → identity → lock → find → tombstone → delete → unlock. Deleting an environment that is not there
 * succeeds, and changes nothing: no tombstone (a PR that never had an environment leaves no trace), and the lock's
 * Lease is removed again.
 */
export async function down(inputs: Inputs, ctx: RunContext): Promise<DownResult> {
  const log: Log = ctx.log ?? actionsLog;
  const phase = ctx.phase ?? ((name, fn) => core.group(name, fn));
  const { namespace } = inputs;
  const client = await phase('Connect to the cluster', () => connectWith(inputs, log));
  let lock: EnvLock | undefined;
  try {
    lock = await phase('Lock the environment', () =>
      acquireLock(client, {
        namespace,
        envId: ctx.envId,
        holder: { identity: ctx.lockHolder ?? holderIdentity(), command: 'down', runUrl: ctx.event.runUrl },
        timeoutMs: inputs.readyTimeoutMs,
        timing: ctx.lockTiming,
        log,
      }),
    );
    const result = await tearDown(client, {
      namespace,
      envId: ctx.envId,
      event: ctx.event,
      reason: downReason(ctx.event),
      timeoutMs: inputs.readyTimeoutMs,
      log,
      phase,
      now: ctx.now,
      onlyIfPresent: true,
    });
    return { envId: ctx.envId, namespace, deleted: result.deleted, tombstone: result.tombstone?.name };
  } finally {
    // The Lease belongs to the environment, which is gone: delete it rather than leave it free.
    await lock?.release({ remove: true });
    client.close();
  }
}
