/** Reads: get, list (with limit/continue) and watch. */

import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { errors } from '../errors.js';
import { apiVersionOf } from '../resources.js';
import { compileSelector } from '../selectors.js';
import type { ResourceType, SimObject } from '../types.js';
import type { WatchRegistry } from '../watch.js';
import { type Api, boolParam, type Ctx, type Reply, type ResourcePath } from './types.js';

export function key(t: ResourceType, p: ResourcePath, name = p.name as string) {
  return { group: t.group, resource: t.resource, namespace: t.namespaced ? p.namespace : undefined, name };
}

export function mustGet(api: Api, t: ResourceType, p: ResourcePath): SimObject {
  if (t.namespaced && p.namespace === undefined) throw errors.resourceNotFound();
  const o = api.deps.store.get(key(t, p));
  if (!o) throw errors.notFound(t.group, t.resource, p.name as string);
  return o;
}

export function list(api: Api, ctx: Ctx, t: ResourceType, p: ResourcePath): Reply {
  const q = ctx.url.searchParams;
  const opts: { namespace?: string; labelSelector?: string; fieldSelector?: string } = {};
  if (p.namespace !== undefined) opts.namespace = p.namespace;
  if (q.get('labelSelector')) opts.labelSelector = q.get('labelSelector') as string;
  if (q.get('fieldSelector')) opts.fieldSelector = q.get('fieldSelector') as string;
  let items = api.deps.store.list(t.group, t.resource, opts);
  const rv = api.deps.store.resourceVersion();
  const metadata: Record<string, unknown> = { resourceVersion: rv };
  const limit = Number(q.get('limit') ?? 0);
  const cont = q.get('continue');
  let start = 0;
  if (cont) {
    try {
      const c = JSON.parse(Buffer.from(cont, 'base64').toString()) as { start: number };
      start = c.start;
    } catch {
      throw errors.badRequest('continue key is not valid: illegal base64 data');
    }
  }
  if (start > 0) items = items.slice(start);
  if (limit > 0 && items.length > limit) {
    const remaining = items.length - limit;
    items = items.slice(0, limit);
    metadata.continue = Buffer.from(JSON.stringify({ rv, start: start + limit })).toString('base64');
    metadata.remainingItemCount = remaining;
  }
  return {
    status: 200,
    body: {
      kind: `${t.kind}List`,
      apiVersion: apiVersionOf(t),
      metadata,
      items: items.map(({ kind: _k, apiVersion: _a, ...rest }) => rest),
    },
  };
}

export function watch(
  api: Api,
  ctx: Ctx,
  t: ResourceType,
  p: ResourcePath,
  res: ServerResponse | undefined,
): void {
  if (!res) throw errors.badRequest('watch over a WebSocket is not supported by this simulator');
  const q = ctx.url.searchParams;
  let fieldSelector = q.get('fieldSelector') ?? '';
  if (p.name !== undefined)
    fieldSelector = [fieldSelector, `metadata.name=${p.name}`].filter(Boolean).join(',');
  const selector = compileSelector(t.group, t.resource, q.get('labelSelector') ?? '', fieldSelector);
  const w: Parameters<WatchRegistry['serve']>[2] = {
    type: t,
    selector,
    sendInitialEvents: boolParam(q.get('sendInitialEvents')),
    allowWatchBookmarks: boolParam(q.get('allowWatchBookmarks')),
  };
  if (p.namespace !== undefined) w.namespace = p.namespace;
  const rv = q.get('resourceVersion');
  if (rv !== null) w.resourceVersion = rv;
  const timeout = q.get('timeoutSeconds');
  if (timeout !== null) w.timeoutSeconds = Number(timeout);
  api.watches.serve(api.deps.store, res, w, {
    'Audit-Id': randomUUID(),
    'Cache-Control': 'no-cache, private',
  });
}
