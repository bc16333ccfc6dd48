/** DELETE of one object or a collection: DeleteOptions from the body or the query, propagation, dry runs. */
import { errors } from '../errors.js';
import { apiVersionOf } from '../resources.js';
import type { ResourceType, SimObject } from '../types.js';
import { dryRun } from './checks.js';
import { list, mustGet } from './reads.js';
import { type Api, boolParam, type Ctx, isObject, type Reply, type ResourcePath } from './types.js';

export interface DeleteOpts {
  policy?: 'Foreground' | 'Background' | 'Orphan';
  gracePeriodSeconds?: number;
  preconditions?: { uid?: string; resourceVersion?: string };
}

export function deleteOptions(ctx: Ctx): {
  policy?: 'Foreground' | 'Background' | 'Orphan';
  gracePeriodSeconds?: number;
  preconditions?: { uid?: string; resourceVersion?: string };
} {
  const q = ctx.url.searchParams;
  let body: Record<string, unknown> = {};
  if (ctx.body.length > 0) {
    try {
      const parsed = JSON.parse(ctx.body.toString('utf8')) as unknown;
      if (isObject(parsed)) body = parsed;
    } catch {
      throw errors.badRequest("couldn't get version/kind; json parse error");
    }
  }
  let policy = (body.propagationPolicy as string | undefined) ?? q.get('propagationPolicy') ?? undefined;
  const orphan =
    (body.orphanDependents as boolean | undefined) ??
    (q.has('orphanDependents') ? boolParam(q.get('orphanDependents')) : undefined);
  if (policy === undefined && orphan !== undefined) policy = orphan ? 'Orphan' : 'Background';
  if (policy !== undefined && !['Foreground', 'Background', 'Orphan'].includes(policy)) {
    throw errors.invalid('DeleteOptions', 'meta.k8s.io', '', [
      {
        reason: 'FieldValueNotSupported',
        field: 'propagationPolicy',
        message: `Unsupported value: "${policy}": supported values: "Foreground", "Background", "Orphan"`,
      },
    ]);
  }
  const out: DeleteOpts = {};
  if (policy) out.policy = policy as 'Foreground' | 'Background' | 'Orphan';
  const grace =
    (body.gracePeriodSeconds as number | undefined) ??
    (q.get('gracePeriodSeconds') !== null ? Number(q.get('gracePeriodSeconds')) : undefined);
  if (grace !== undefined) out.gracePeriodSeconds = grace;
  if (isObject(body.preconditions))
    out.preconditions = body.preconditions as { uid?: string; resourceVersion?: string };
  return out;
}

export function deleteOne(api: Api, ctx: Ctx, t: ResourceType, existing: SimObject, opts: DeleteOpts): Reply {
  const { store } = api.deps;
  const key = {
    group: t.group,
    resource: t.resource,
    namespace: existing.metadata.namespace,
    name: existing.metadata.name,
  };
  // A terminating pod is the kubelet's to remove; asking again without a shorter grace period changes nothing.
  if (
    t.group === '' &&
    t.resource === 'pods' &&
    existing.metadata.deletionTimestamp &&
    opts.gracePeriodSeconds !== 0
  ) {
    return { status: 200, body: existing };
  }
  // batch/v1 Jobs still orphan their pods by default, as the real registry does.
  const policy = opts.policy ?? (t.group === 'batch' && t.resource === 'jobs' ? 'Orphan' : undefined);
  if (dryRun(ctx)) return { status: 200, body: existing };
  const left = store.delete(key, policy, {
    gracePeriodSeconds: opts.gracePeriodSeconds,
    preconditions: opts.preconditions,
  });
  if (left) return { status: 200, body: left };
  const details: Record<string, string> = { name: existing.metadata.name };
  if (t.group) details.group = t.group;
  details.kind = t.resource;
  details.uid = existing.metadata.uid;
  return {
    status: 200,
    body: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details },
  };
}

export function deleteNamed(api: Api, ctx: Ctx, t: ResourceType, p: ResourcePath): Reply {
  const opts = deleteOptions(ctx);
  const existing = mustGet(api, t, p);
  return deleteOne(api, ctx, t, existing, opts);
}

export function deleteCollection(api: Api, ctx: Ctx, t: ResourceType, p: ResourcePath): Reply {
  const opts = deleteOptions(ctx);
  const listed = list(api, ctx, t, p).body as { items: Array<Omit<SimObject, 'kind' | 'apiVersion'>> };
  const items: unknown[] = [];
  for (const item of listed.items) {
    const existing = { ...item, kind: t.kind, apiVersion: apiVersionOf(t) } as SimObject;
    const r = deleteOne(api, ctx, t, existing, opts);
    items.push(isObject(r.body) && r.body.kind === 'Status' ? item : r.body);
  }
  return {
    status: 200,
    body: {
      kind: `${t.kind}List`,
      apiVersion: apiVersionOf(t),
      metadata: { resourceVersion: api.deps.store.resourceVersion() },
      items: items.map((i) => {
        const { kind: _k, apiVersion: _a, ...rest } = i as SimObject;
        return rest;
      }),
    },
  };
}
