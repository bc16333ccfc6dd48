import { deleteEnvironment } from '../environment/delete.js';
import { listDockerHosts } from '../environment/find.js';
import { type Tombstone, type TombstoneReason, writeTombstone } from '../environment/tombstone.js';
import type { EventInfo } from '../github/event.js';
import type { KubeClient } from '../kube/client.js';
import type { Log } from '../util/log.js';

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
  /**
   * `down`: an environment that has no objects is left as it is, without a tombstone, so a PR that never had one
   * (no label, or closed before its first up) leaves nothing behind. An up that comes later still stops when
   * GitHub says the PR is closed (rule 1 of src/commands/guard.ts).
   */
  onlyIfPresent?: boolean;
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
): Promise<{ deleted: string[]; tombstone?: Tombstone }> {
  const { namespace, envId, log, phase } = o;
  // Every docker host of the env counts here, duplicates included: down must clean up whatever exists.
  const hosts = await phase('Find the environment', () => listDockerHosts(client, { namespace, envId }));
  const types = hosts.flatMap((h) => h.types);
  const entomb = async (): Promise<Tombstone> => {
    if (o.keepTombstone) return o.keepTombstone;
    const t = await writeTombstone(client, {
      namespace,
      envId,
      reason: o.reason,
      headSha: o.event.pr?.headSha,
      prNumber: o.event.pr?.number,
      runUrl: o.event.runUrl,
      now: o.now,
    });
    log.info(`Tombstone ConfigMap/${t.name} written: a later up of ${envId} does not deploy it again.`);
    return t;
  };
  const remove = () => deleteEnvironment(client, { namespace, envId, types, timeoutMs: o.timeoutMs, log });
  return phase('Delete the objects', async () => {
    let tombstone: Tombstone | undefined;
    let deleted: string[];
    if (o.onlyIfPresent && hosts.length === 0) {
      // No docker host: what is left, if anything, is found by deleting it; the tombstone follows only then.
      deleted = (await remove()).deleted;
      if (deleted.length > 0) tombstone = await entomb();
    } else {
      // The tombstone first, so that a down failing halfway still keeps later runs from deploying again.
      tombstone = await entomb();
      deleted = (await remove()).deleted;
    }
    if (deleted.length === 0) {
      log.info(
        `Environment ${envId} has no objects in namespace ${namespace}: nothing to delete${tombstone ? '' : ', and nothing was changed'}.`,
      );
    } else {
      log.info(`Deleted ${deleted.length} objects of environment ${envId}: ${deleted.join(', ')}`);
    }
    return { deleted, tombstone };
  });
}
