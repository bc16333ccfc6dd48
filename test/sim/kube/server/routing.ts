/**
 * Routing: the path as the RequestInfoFactory parses it (discovery documents answered on the way), then
 * authorization before the resource lookup, so that an unknown resource asked by a user without rights is a 403
 * as on a real server, then the verb's handler.
 */
import type { ServerResponse } from 'node:http';
import { errors } from '../errors.js';
import type { Attributes } from '../rbac.js';
import type { ResourceType } from '../types.js';
import { deleteCollection, deleteNamed } from './delete.js';
import { list, mustGet, watch } from './reads.js';
import { subresource, virtualCreate } from './subresources.js';
import {
  AGGREGATED_TYPE,
  type Api,
  boolParam,
  type Ctx,
  JSON_TYPE,
  type Reply,
  type ResourcePath,
} from './types.js';
import { upgradePod } from './upgrades.js';
import { create, patch, replace } from './writes.js';

type Handler = (api: Api, ctx: Ctx, t: ResourceType, p: ResourcePath) => Reply;

/** The handlers by HTTP method, for a path without a name and for one naming an object (watches aside). */
const ON_COLLECTION = new Map<string, Handler>([
  ['GET', list],
  ['HEAD', list],
  ['POST', create],
  ['DELETE', deleteCollection],
]);
const getObject: Handler = (api, _ctx, t, p) => ({ status: 200, body: mustGet(api, t, p) });
const ON_OBJECT = new Map<string, Handler>([
  ['GET', getObject],
  ['HEAD', getObject],
  ['PUT', replace],
  ['PATCH', patch],
  ['DELETE', deleteNamed],
]);

export async function route(api: Api, ctx: Ctx, res: ServerResponse | undefined): Promise<Reply | undefined> {
  const { discovery } = api.deps;
  const segs = ctx.url.pathname.split('/').filter(Boolean);
  const get = ctx.method === 'GET' || ctx.method === 'HEAD';
  const discoveryReply = (body: string, contentType = JSON_TYPE): Reply => {
    if (!get) throw errors.methodNotAllowed();
    return { status: 200, body, contentType };
  };
  const aggregated = /as=APIGroupDiscoveryList/.test(String(ctx.req.headers.accept ?? ''));

  if (segs.length === 0) {
    return discoveryReply(
      `${JSON.stringify({ paths: ['/api', '/api/v1', '/apis', ...[...discovery.resourceLists.keys()].filter((k) => !k.startsWith('/')).map((k) => `/apis/${k}`), '/healthz', '/livez', '/readyz', '/version'] }, null, 2)}\n`,
    );
  }
  const first = segs[0] as string;
  if (['healthz', 'livez', 'readyz'].includes(first) && segs.length === 1) {
    return discoveryReply('ok', 'text/plain; charset=utf-8');
  }
  if (first === 'version' && segs.length === 1) return discoveryReply(discovery.version);

  let group: string;
  let version: string;
  let rest: string[];
  if (first === 'api') {
    if (segs.length === 1) {
      return aggregated
        ? discoveryReply(discovery.apiAggregated, AGGREGATED_TYPE)
        : discoveryReply(discovery.api);
    }
    if (segs[1] !== 'v1') throw errors.pageNotFound();
    group = '';
    version = 'v1';
    if (segs.length === 2) return discoveryReply(discovery.resourceLists.get('/v1') as string);
    rest = segs.slice(2);
  } else if (first === 'apis') {
    if (segs.length === 1) {
      return aggregated
        ? discoveryReply(discovery.apisAggregated, AGGREGATED_TYPE)
        : discoveryReply(discovery.apis);
    }
    group = segs[1] as string;
    const versions = discovery.versions.get(group);
    if (!versions || group === '') throw errors.pageNotFound();
    if (segs.length === 2) return discoveryReply(discovery.groups.get(group) as string);
    version = segs[2] as string;
    if (!versions.includes(version)) throw errors.resourceNotFound();
    if (segs.length === 3)
      return discoveryReply(discovery.resourceLists.get(`${group}/${version}`) as string);
    rest = segs.slice(3);
  } else {
    throw errors.pageNotFound();
  }

  let watch = boolParam(ctx.url.searchParams.get('watch'));
  if (rest[0] === 'watch') {
    watch = true;
    rest = rest.slice(1);
  }
  let namespace: string | undefined;
  if (rest[0] === 'namespaces' && rest.length > 1) {
    namespace = rest[1];
    if (rest.length > 2 && rest[2] !== 'status' && rest[2] !== 'finalize') rest = rest.slice(2);
  }
  if (rest.length === 0 || rest.length > 3) throw errors.resourceNotFound();
  const p: ResourcePath = {
    group,
    version,
    namespace,
    resource: rest[0] as string,
    name: rest[1],
    subresource: rest[2],
    watch,
  };
  // `namespaces/<name>` is the namespace object itself, not a scope.
  if (p.resource === 'namespaces' && group === '') p.namespace = undefined;
  return resourceRequest(api, ctx, p, res);
}

export function verbOf(ctx: Ctx, p: ResourcePath): string {
  switch (ctx.method) {
    case 'GET':
    case 'HEAD':
      return p.watch ? 'watch' : p.name !== undefined ? 'get' : 'list';
    case 'POST':
      return 'create';
    case 'PUT':
      return 'update';
    case 'PATCH':
      return 'patch';
    case 'DELETE':
      return p.name !== undefined ? 'delete' : 'deletecollection';
    default:
      return ctx.method.toLowerCase();
  }
}

export async function resourceRequest(
  api: Api,
  ctx: Ctx,
  p: ResourcePath,
  res: ServerResponse | undefined,
): Promise<Reply | undefined> {
  const { store, authz } = api.deps;
  const verb = verbOf(ctx, p);
  const attrs: Attributes = { verb, group: p.group, resource: p.resource };
  if (p.subresource !== undefined) attrs.subresource = p.subresource;
  if (p.namespace !== undefined) attrs.namespace = p.namespace;
  if (p.name !== undefined) attrs.name = p.name;
  if (p.group === '' && p.resource === 'namespaces' && p.name !== undefined) attrs.namespace = p.name;
  if (!authz.authorize(ctx.id, attrs).allowed) {
    const f: Parameters<typeof errors.forbidden>[0] = {
      user: ctx.id.user.name,
      verb,
      group: p.group,
      resource: p.resource,
    };
    if (p.subresource !== undefined) f.subresource = p.subresource;
    if (attrs.namespace !== undefined) f.namespace = attrs.namespace;
    if (p.name !== undefined) f.name = p.name;
    throw errors.forbidden(f);
  }

  const t = store.types.find(
    (x) => x.group === p.group && x.version === p.version && x.resource === p.resource,
  );
  if (!t) throw errors.resourceNotFound();
  if (!t.namespaced && p.namespace !== undefined) throw errors.resourceNotFound();
  if (p.subresource !== undefined && !t.subresources?.includes(p.subresource))
    throw errors.resourceNotFound();

  if (ctx.upgrade) {
    if (
      t.group === '' &&
      t.resource === 'pods' &&
      ['exec', 'attach', 'portforward'].includes(p.subresource ?? '')
    ) {
      return upgradePod(api, ctx, p);
    }
    throw errors.badRequest(
      'this simulator serves WebSocket upgrades only for pods/exec, pods/attach and pods/portforward',
    );
  }

  if (p.subresource !== undefined) return subresource(api, ctx, t, p);

  const virtual = virtualCreate(api, ctx, t, p);
  if (virtual) return virtual;
  if (!t.verbs.includes(verb)) throw errors.methodNotAllowed();

  if ((ctx.method === 'GET' || ctx.method === 'HEAD') && p.watch) {
    watch(api, ctx, t, p, res);
    return undefined;
  }
  const handler = (p.name === undefined ? ON_COLLECTION : ON_OBJECT).get(ctx.method);
  if (!handler) throw errors.methodNotAllowed();
  return handler(api, ctx, t, p);
}
