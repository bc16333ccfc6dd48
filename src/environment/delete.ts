/**
 * Deleting an environment: every object carrying its env-id label, in the configured namespace only.
 *
 * Safety: objects are found by listing each kind **in the namespace** (never cluster-wide) **with the env's
 * label selector** (never without), and an object whose labels do not carry the env id is skipped even if
 * the server returned it. Objects controlled by another object (the docker host's ReplicaSets and Pods, a
 * Job's Pods) are not deleted directly: their owner's deletion takes them along.
 *
 * Propagation: Foreground. The owner stays visible (with a deletionTimestamp) until its ReplicaSets and Pods
 * are gone, so waiting until each deleted object answers 404 means "the environment's pods have stopped",
 * not just "the Deployment record is gone" as with Background, where pods linger after `down` returns.
 * A delete carries a uid precondition, so only the object that was listed is deleted, never a newer one of
 * the same name.
 *
 * The environment's lock (a Lease) and a tombstone carry its label too, and are skipped: the lock's holder
 * releases it, and a tombstone must outlive the environment (src/environment/lock.ts, src/environment/tombstone.ts).
 *
 * Failures (403 on list or delete, API errors) are collected and reported once at the end; 404 means
 * already gone; kinds the cluster does not serve are skipped. Running it twice is harmless.
 */
import { KubeApiError } from '../errors.js';
import { envSelector, LABELS } from '../identity.js';
import type { ApiResource, KubeClient } from '../kube/client.js';
import { objectPath } from '../kube/discovery.js';
import { httpStatusOf, isNotFound, toKubeError } from '../kube/errors.js';
import { listObjects } from '../kube/objects.js';
import { controllerOf } from '../kube/shapes.js';
import { type KubeObject, type TypeRef, typeKey } from '../kube/types.js';
import { type Log, noopLog } from '../util/log.js';
import { sleep } from '../util/sleep.js';
import { assertEnvId } from './find.js';
import { isLockObject } from './lock.js';
import { isTombstone } from './tombstone.js';

/** Kinds looked for even when the docker host's `preevy.dev/all-types` does not list them. */
export const DEFAULT_DELETE_TYPES: readonly TypeRef[] = [
  { apiVersion: 'apps/v1', kind: 'Deployment' },
  { apiVersion: 'apps/v1', kind: 'StatefulSet' },
  { apiVersion: 'apps/v1', kind: 'DaemonSet' },
  { apiVersion: 'apps/v1', kind: 'ReplicaSet' },
  { apiVersion: 'batch/v1', kind: 'CronJob' },
  { apiVersion: 'batch/v1', kind: 'Job' },
  { apiVersion: 'v1', kind: 'Pod' },
  { apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler' },
  { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget' },
  { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress' },
  { apiVersion: 'v1', kind: 'Service' },
  { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy' },
  { apiVersion: 'v1', kind: 'ConfigMap' },
  { apiVersion: 'v1', kind: 'Secret' },
  { apiVersion: 'v1', kind: 'PersistentVolumeClaim' },
  { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding' },
  { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role' },
  { apiVersion: 'v1', kind: 'ServiceAccount' },
];

export interface DeleteEnvironmentOptions {
  namespace: string;
  envId: string;
  /** Kinds recorded on the environment; merged with DEFAULT_DELETE_TYPES. */
  types: readonly TypeRef[];
  /** Bound on waiting for the deleted objects to disappear. */
  timeoutMs: number;
  log?: Log;
  /** Default 1000. */
  pollMs?: number;
}

export interface DeleteResult {
  /** `Kind/name` of every object this call deleted, in deletion order. */
  deleted: string[];
  /** Deleted (or already terminating) objects still present when the wait ended. */
  pending: string[];
}

/** Workloads first (they use the rest), custom kinds next, then networking, config and storage, RBAC last. */
const KIND_RANK: Record<string, number> = {
  Deployment: 0,
  StatefulSet: 0,
  DaemonSet: 0,
  CronJob: 0,
  Job: 0,
  ReplicaSet: 1,
  Pod: 1,
  HorizontalPodAutoscaler: 2,
  PodDisruptionBudget: 2,
  Ingress: 4,
  Service: 4,
  NetworkPolicy: 4,
  ConfigMap: 5,
  Secret: 5,
  PersistentVolumeClaim: 5,
  RoleBinding: 6,
  Role: 7,
  ServiceAccount: 8,
};
const CUSTOM_RANK = 3;

/** The recorded kinds plus the defaults, deduplicated, in deletion order. Pure. */
export function deletionTypes(recorded: readonly TypeRef[]): TypeRef[] {
  const all = new Map<string, TypeRef>();
  for (const t of [...DEFAULT_DELETE_TYPES, ...recorded])
    all.set(typeKey(t), { apiVersion: t.apiVersion, kind: t.kind });
  const rank = (t: TypeRef) => {
    const builtIn = DEFAULT_DELETE_TYPES.some((d) => typeKey(d) === typeKey(t));
    return builtIn ? (KIND_RANK[t.kind] ?? CUSTOM_RANK) : CUSTOM_RANK;
  };
  return [...all.values()]
    .map((t, i) => ({ t, i }))
    .sort((a, b) => rank(a.t) - rank(b.t) || a.i - b.i)
    .map((x) => x.t);
}

export type Disposition = 'delete' | 'foreign' | 'owned' | 'terminating' | 'bookkeeping';

/** What to do with one listed object. Pure. */
export function dispositionOf(o: KubeObject, envId: string): Disposition {
  if (o.metadata.labels?.[LABELS.envId] !== envId) return 'foreign';
  // The lock is released by its holder at the end, and the tombstone must outlive the environment.
  if (isLockObject(o) || isTombstone(o)) return 'bookkeeping';
  if (controllerOf(o)) return 'owned';
  if (o.metadata.deletionTimestamp) return 'terminating';
  return 'delete';
}

interface Pending {
  ref: string;
  type: TypeRef;
  resource: ApiResource;
  name: string;
  uid?: string;
}

async function waitGone(
  client: KubeClient,
  namespace: string,
  items: Pending[],
  opts: DeleteEnvironmentOptions,
): Promise<Pending[]> {
  const log = opts.log ?? noopLog;
  const deadline = Date.now() + opts.timeoutMs;
  let pending = items;
  let reported = -1;
  for (;;) {
    const still: Pending[] = [];
    for (const p of pending) {
      try {
        const { body } = await client.request<KubeObject>({
          method: 'GET',
          path: objectPath(p.type, p.resource, namespace, p.name),
        });
        // A new object of the same name (a new deploy) means ours is gone.
        if (!p.uid || body.metadata.uid === p.uid) still.push(p);
      } catch (err) {
        if (isNotFound(err)) continue;
        if (httpStatusOf(err) === 403) {
          log.debug(`cannot read ${p.ref} to see it gone (403); not waiting for it`);
          continue;
        }
        // Transient or not, we only wait; try again next round.
        log.debug(toKubeError(err, `read ${p.ref}`, { server: client.server }).message);
        still.push(p);
      }
    }
    pending = still;
    if (pending.length === 0 || Date.now() >= deadline) return pending;
    if (pending.length !== reported) {
      log.info(`Waiting for ${pending.length} objects to be gone: ${pending.map((p) => p.ref).join(', ')}`);
      reported = pending.length;
    }
    await sleep(Math.min(opts.pollMs ?? 1000, Math.max(0, deadline - Date.now())));
  }
}

/** Delete every object of the environment and wait (bounded) until they are gone. */
export async function deleteEnvironment(
  client: KubeClient,
  opts: DeleteEnvironmentOptions,
): Promise<DeleteResult> {
  const log = opts.log ?? noopLog;
  const { namespace, envId } = opts;
  assertEnvId(envId);
  const selector = envSelector(envId);
  const failures: KubeApiError[] = [];
  const deleted: string[] = [];
  const toWait: Pending[] = [];

  const recorded = new Set(opts.types.map(typeKey));
  for (const type of deletionTypes(opts.types)) {
    const key = typeKey(type);
    let resource: ApiResource | undefined;
    try {
      resource = await client.resource(type);
    } catch (err) {
      failures.push(toKubeError(err, `discover ${key}`, { server: client.server }));
      continue;
    }
    if (!resource) {
      log.debug(`${key}: not served by this cluster; skipped`);
      continue;
    }
    if (!resource.namespaced) {
      log.debug(`${key}: cluster-scoped; an environment has none; skipped`);
      continue;
    }
    let objs: KubeObject[];
    try {
      objs = await listObjects(client, type, namespace, { labelSelector: selector });
    } catch (err) {
      if (isNotFound(err)) {
        log.debug(`${key}: not served by this cluster (404 on list); skipped`);
        continue;
      }
      // The defaults are a safety net beyond the recorded kinds. A kind this identity may not even list is
      // one it could not have created, so a namespace-scoped Role that covers only the template's kinds works.
      if (httpStatusOf(err) === 403 && !recorded.has(key)) {
        log.debug(
          `${key}: not listable with this identity (403) and not in the environment's record; skipped`,
        );
        continue;
      }
      failures.push(toKubeError(err, `list ${type.kind} in ${namespace}`, { server: client.server }));
      continue;
    }
    for (const o of objs) {
      const ref = `${o.kind}/${o.metadata.name}`;
      switch (dispositionOf(o, envId)) {
        case 'foreign':
          log.warning(
            `${ref} was returned for selector ${selector} but is not labelled ${LABELS.envId}=${envId}; left alone`,
          );
          continue;
        case 'owned':
          log.debug(`${ref}: removed with its owner ${controllerOf(o)?.kind}/${controllerOf(o)?.name}`);
          continue;
        case 'bookkeeping':
          log.debug(`${ref}: the environment's lock or tombstone; left alone`);
          continue;
        case 'terminating':
          log.info(`${ref} is already being deleted`);
          toWait.push({ ref, type, resource, name: o.metadata.name, uid: o.metadata.uid });
          continue;
        case 'delete':
          break;
      }
      try {
        await client.request({
          method: 'DELETE',
          path: objectPath(type, resource, namespace, o.metadata.name),
          // With a body the API server reads the options from it and ignores the query; both say Foreground.
          query: { propagationPolicy: 'Foreground' },
          body: {
            kind: 'DeleteOptions',
            apiVersion: 'v1',
            propagationPolicy: 'Foreground',
            ...(o.metadata.uid ? { preconditions: { uid: o.metadata.uid } } : {}),
          },
        });
        deleted.push(ref);
        log.info(`${ref} deleted`);
        toWait.push({ ref, type, resource, name: o.metadata.name, uid: o.metadata.uid });
      } catch (err) {
        const code = httpStatusOf(err);
        if (code === 404) continue; // already gone
        if (code === 409) {
          log.debug(`${ref}: replaced since it was listed (uid precondition); left alone`);
          continue;
        }
        failures.push(toKubeError(err, `delete ${ref}`, { server: client.server }));
      }
    }
  }

  const pending = toWait.length > 0 ? await waitGone(client, namespace, toWait, opts) : [];
  if (pending.length > 0) {
    log.warning(
      `Still being deleted after ${Math.round(opts.timeoutMs / 1000)}s: ${pending.map((p) => p.ref).join(', ')}. ` +
        'Kubernetes finishes this on its own (finalizers, terminating pods).',
    );
  }

  if (failures.length > 0) {
    const forbidden = failures.some((f) => f.code === 403);
    const lines = failures.map((f) => `  - ${f.message}`);
    const hints = [...new Set(failures.map((f) => f.hint).filter((h): h is string => Boolean(h)))];
    const done = deleted.length > 0 ? `Deleted: ${deleted.join(', ')}.` : 'Nothing was deleted.';
    throw new KubeApiError(
      `Deleting environment ${envId} in namespace ${namespace} failed for ${failures.length} request(s):\n${lines.join('\n')}\n${done}`,
      failures[0]?.code,
      failures[0]?.reason,
      {
        hint: [
          ...hints,
          forbidden
            ? 'down needs the verbs list and delete on every kind of the template, in this namespace.'
            : '',
          'Running down again after fixing it is safe.',
        ]
          .filter(Boolean)
          .join('\n'),
        details: failures.map((f) => f.details ?? '').join('\n'),
      },
    );
  }
  return { deleted, pending: pending.map((p) => p.ref) };
}
