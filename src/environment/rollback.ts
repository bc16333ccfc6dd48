import type { KubeClient } from '../kube/client.js';
import { objectPath, requireResource } from '../kube/discovery.js';
import { isNotFound, toKubeError } from '../kube/errors.js';
import { type Log, noopLog } from '../util/log.js';
import { ApplyError } from './apply.js';

/**
 * After a failed first deploy: delete the objects that run created, newest first, so a failed create leaves
 * nothing behind. Best effort: failures are logged as warnings, never thrown.
 * Does nothing unless `err` is an ApplyError.
 */
export async function rollbackCreated(
  client: KubeClient,
  err: unknown,
  log: Log = noopLog,
): Promise<string[]> {
  if (!(err instanceof ApplyError)) return [];
  const created = err.applied.filter((a) => a.action === 'created').reverse();
  if (created.length === 0) return [];
  log.info(`Removing what this failed run created: ${created.map((a) => a.ref).join(', ')}`);
  const removed: string[] = [];
  for (const a of created) {
    try {
      const resource = await requireResource(client, a.type, `delete ${a.ref}`);
      await client.request({
        method: 'DELETE',
        path: objectPath(a.type, resource, a.namespace, a.name),
        query: { propagationPolicy: 'Background' },
        // With a body the API server reads the options from it (query parameters then do not count), so
        // both carry the policy. The uid precondition: only the object this run created.
        body: {
          kind: 'DeleteOptions',
          apiVersion: 'v1',
          propagationPolicy: 'Background',
          ...(a.uid ? { preconditions: { uid: a.uid } } : {}),
        },
      });
      removed.push(a.ref);
    } catch (e) {
      if (isNotFound(e)) continue;
      log.warning(toKubeError(e, `remove ${a.ref}`, { server: client.server }).message);
    }
  }
  return removed;
}
