/**
 * Tombstones: what a `down` leaves behind so that no later `up` brings the environment back by accident.
 * Why: runs are not ordered. A push's run that starts (or retries) after the PR was closed would otherwise
 * deploy a fresh environment that nothing ever deletes, because the PR's `closed` run is already over.
 *
 * A tombstone is a ConfigMap `preevy-tombstone-<envId>` in the namespace, labelled `preevy.dev/env-id` and
 * `preevy.dev/tombstone: "true"`, annotated with when and why the environment was deleted and the PR's head
 * commit then. `down` writes it and never deletes it (its delete pass skips it, see isTombstone); an `up` that
 * is allowed to deploy again deletes it first (src/commands/guard.ts has the rule). Tombstones are small and
 * stay after their PR: `kubectl delete configmap -l preevy.dev/tombstone=true` clears old ones.
 */
import { ActionError } from '../errors.js';
import { LABELS, MANAGED_BY, TOMBSTONE_ANNOTATIONS, TOMBSTONE_LABEL } from '../identity.js';
import type { KubeClient } from '../kube/client.js';
import { collectionPath, objectPath, requireResource } from '../kube/discovery.js';
import { isNotFound, toKubeError } from '../kube/errors.js';
import { isRefused, readAt, writeAt } from '../kube/objects.js';
import type { KubeObject, TypeRef } from '../kube/types.js';

const CONFIGMAP: TypeRef = { apiVersion: 'v1', kind: 'ConfigMap' };

/** Why the environment was deleted: the PR closed, its required label was removed, or an explicit `down`. */
export type TombstoneReason = 'closed' | 'unlabeled' | 'down';

export interface Tombstone {
  name: string;
  envId: string;
  reason: TombstoneReason;
  /** When the down wrote it (RFC 3339). */
  at: string;
  /** The PR's head commit when it was deleted. */
  headSha?: string;
  prNumber?: number;
  /** The run that deleted it. */
  deletedBy?: string;
  uid?: string;
  resourceVersion?: string;
}

export interface TombstoneArgs {
  reason: TombstoneReason;
  headSha?: string;
  prNumber?: number;
  runUrl?: string;
  now?: () => Date;
}

/** `preevy-tombstone-<envId>`: a ConfigMap name may have 253 characters, so no env id needs shortening. */
export function tombstoneName(envId: string): string {
  return `preevy-tombstone-${envId}`;
}

export function isTombstone(o: KubeObject): boolean {
  return o.apiVersion === 'v1' && o.kind === 'ConfigMap' && o.metadata.labels?.[TOMBSTONE_LABEL] === 'true';
}

function parse(o: KubeObject, envId: string): Tombstone {
  const a = o.metadata.annotations ?? {};
  const reason = a[TOMBSTONE_ANNOTATIONS.reason];
  const pr = Number(a[TOMBSTONE_ANNOTATIONS.pr]);
  return {
    name: o.metadata.name,
    envId,
    reason: reason === 'unlabeled' || reason === 'down' ? reason : 'closed',
    at: a[TOMBSTONE_ANNOTATIONS.at] ?? o.metadata.creationTimestamp ?? '',
    headSha: a[TOMBSTONE_ANNOTATIONS.headSha] || undefined,
    prNumber: Number.isSafeInteger(pr) && pr > 0 ? pr : undefined,
    deletedBy: a[TOMBSTONE_ANNOTATIONS.deletedBy] || undefined,
    uid: o.metadata.uid,
    resourceVersion: o.metadata.resourceVersion,
  };
}

/** Describes a tombstone for a notice: when, why, and by which run. */
export function describeTombstone(t: Tombstone): string {
  const why =
    t.reason === 'closed'
      ? `when PR${t.prNumber ? ` #${t.prNumber}` : ''} was closed`
      : t.reason === 'unlabeled'
        ? `when its required label was removed${t.prNumber ? ` from PR #${t.prNumber}` : ''}`
        : 'by an explicit down';
  return `Environment ${t.envId} was deleted ${why}${t.at ? ` (${t.at}` : ' ('}${t.headSha ? `, head ${t.headSha.slice(0, 12)}` : ''}${t.deletedBy ? `, ${t.deletedBy}` : ''}; ConfigMap/${t.name})`;
}

async function paths(client: KubeClient, namespace: string, envId: string) {
  const resource = await requireResource(client, CONFIGMAP, `tombstone of environment ${envId}`);
  return {
    collection: collectionPath(CONFIGMAP, resource, namespace),
    object: objectPath(CONFIGMAP, resource, namespace, tombstoneName(envId)),
  };
}

function ours(o: KubeObject, envId: string): boolean {
  return o.metadata.labels?.[LABELS.envId] === envId && o.metadata.labels?.[TOMBSTONE_LABEL] === 'true';
}

/** The environment's tombstone, or undefined. A ConfigMap of that name that is not one is an error. */
export async function readTombstone(
  client: KubeClient,
  args: { namespace: string; envId: string },
): Promise<Tombstone | undefined> {
  const { object } = await paths(client, args.namespace, args.envId);
  let o: KubeObject | undefined;
  try {
    o = await readAt(client, object);
  } catch (err) {
    throw toKubeError(err, `read the tombstone of environment ${args.envId}`, { server: client.server });
  }
  if (!o) return undefined;
  if (!ours(o, args.envId)) throw notATombstone(args.namespace, args.envId);
  return parse(o, args.envId);
}

function notATombstone(namespace: string, envId: string): ActionError {
  return new ActionError(
    `ConfigMap/${tombstoneName(envId)} in namespace ${namespace} exists and is not the tombstone of environment ${envId}; refusing to read or replace it.`,
    { hint: `Rename or delete it: kubectl delete configmap -n ${namespace} ${tombstoneName(envId)}` },
  );
}

/** Writes (or refreshes) the environment's tombstone. */
export async function writeTombstone(
  client: KubeClient,
  args: { namespace: string; envId: string } & TombstoneArgs,
): Promise<Tombstone> {
  const { namespace, envId } = args;
  const p = await paths(client, namespace, envId);
  const at = (args.now?.() ?? new Date()).toISOString();
  const annotations: Record<string, string> = {
    [TOMBSTONE_ANNOTATIONS.at]: at,
    [TOMBSTONE_ANNOTATIONS.reason]: args.reason,
    ...(args.headSha ? { [TOMBSTONE_ANNOTATIONS.headSha]: args.headSha } : {}),
    ...(args.prNumber ? { [TOMBSTONE_ANNOTATIONS.pr]: String(args.prNumber) } : {}),
    ...(args.runUrl ? { [TOMBSTONE_ANNOTATIONS.deletedBy]: args.runUrl } : {}),
  };
  const body = (base?: KubeObject): KubeObject => ({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name: tombstoneName(envId),
      namespace,
      labels: { [LABELS.envId]: envId, [LABELS.managedBy]: MANAGED_BY, [TOMBSTONE_LABEL]: 'true' },
      annotations,
      ...(base ? { resourceVersion: base.metadata.resourceVersion, uid: base.metadata.uid } : {}),
    },
    data: {
      note:
        `Environment ${envId} was deleted at ${at} (${args.reason}). While this ConfigMap exists, an up of the ` +
        'environment does nothing, except for a reopened PR (or command: up outside a pull_request event), which ' +
        'deletes it first. Deleting it by hand allows the next push to deploy again.',
    },
  });
  const what = `write the tombstone of environment ${envId}`;
  // Create, or replace what is there with the resourceVersion just read; a concurrent writer costs a retry.
  const failed = (err: unknown): never => {
    throw toKubeError(err, what, { server: client.server });
  };
  for (let attempt = 0; ; attempt++) {
    const created = await writeAt(client, 'POST', p.collection, body()).catch(failed);
    if (!isRefused(created)) return parse(created, envId);
    const existing = await readAt(client, p.object).catch(failed);
    if (!existing) continue;
    if (!ours(existing, envId)) throw notATombstone(namespace, envId);
    const replaced = await writeAt(client, 'PUT', p.object, body(existing)).catch(failed);
    if (!isRefused(replaced)) return parse(replaced, envId);
    if (attempt >= 5) failed(replaced.error);
  }
}

/** Deletes the tombstone that was read (uid and resourceVersion preconditions: never a newer one). */
export async function liftTombstone(
  client: KubeClient,
  args: { namespace: string; tombstone: Tombstone },
): Promise<void> {
  const { object } = await paths(client, args.namespace, args.tombstone.envId);
  const pre = args.tombstone;
  try {
    await client.request({
      method: 'DELETE',
      path: object,
      body: {
        kind: 'DeleteOptions',
        apiVersion: 'v1',
        ...(pre.uid ? { preconditions: { uid: pre.uid, resourceVersion: pre.resourceVersion } } : {}),
      },
    });
  } catch (err) {
    if (isNotFound(err)) return;
    throw toKubeError(err, `delete the tombstone of environment ${args.tombstone.envId}`, {
      server: client.server,
    });
  }
}
