import type { EventInfo } from '../github/event.js';
import type { KubeClient } from '../kube/client.js';
import { deleteEnvironment } from '../kube/delete.js';
import { listDockerHosts } from '../kube/find.js';
import type { Log } from '../kube/log.js';
import { type Tombstone, type TombstoneReason, writeTombstone } from '../kube/tombstone.js';

export interface TearDownOptions {
  namespace: string;
  envId: string;
  event: EventInfo;
  reason: TombstoneReason;
  timeoutMs: number;
  log: Log;
  phase: <T>(name: string, fn: () => Promise<T>) => Promise<T>;
  now?: () => Date;
  /** A tombstone that is there already and stays as it is (a down that ran without the lock wrote it). */
  keepTombstone?: Tombstone;
}

/** The tombstone's reason for a down of this event. */
export function downReason(event: EventInfo): TombstoneReason {
  if (event.action === 'closed') return 'closed';
  if (event.action === 'unlabeled') return 'unlabeled';
  return 'down';
}

/**
 * What `down` does, and what an `up` does when its PR closed while it deployed: the tombstone first, then
 * every object of the environment. The tombstone goes first so that a down that fails halfway still keeps
 * later runs from deploying again. The caller holds the environment's lock.
 */
export async function tearDown(
  client: KubeClient,
  o: TearDownOptions,
): Promise<{ deleted: string[]; tombstone: Tombstone }> {
  const { namespace, envId, log, phase } = o;
  // Every docker host of the env counts here, duplicates included: down must clean up whatever exists.
  const hosts = await phase('Find the environment', () => listDockerHosts(client, { namespace, envId }));
  const types = hosts.flatMap((h) => h.types);
  return phase('Delete the objects', async () => {
    const tombstone =
      o.keepTombstone ??
      (await writeTombstone(client, {
        namespace,
        envId,
        reason: o.reason,
        headSha: o.event.pr?.headSha,
        prNumber: o.event.pr?.number,
        runUrl: o.event.runUrl,
        now: o.now,
      }));
    if (!o.keepTombstone) {
      log.info(
        `Tombstone ConfigMap/${tombstone.name} written: a later up of ${envId} does not deploy it again.`,
      );
    }
    const result = await deleteEnvironment(client, { namespace, envId, types, timeoutMs: o.timeoutMs, log });
    if (result.deleted.length === 0) {
      log.info(`Environment ${envId} has no objects in namespace ${namespace}: nothing to delete.`);
    } else {
      log.info(
        `Deleted ${result.deleted.length} objects of environment ${envId}: ${result.deleted.join(', ')}`,
      );
    }
    return { deleted: result.deleted, tombstone };
  });
}
