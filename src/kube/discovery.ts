/**
 * Which kinds the cluster serves, their scope and their REST paths.
 *
 * Discovery goes through client-node's `KubernetesObjectApi.resource(apiVersion, kind)` (one
 * `GET /api/v1` or `GET /apis/<group>/<version>` per group-version), cached per client, i.e. per run.
 */
import { KubeApiError } from '../errors.js';
import { type ApiResource, type ResourceLookup, type Scope, type TypeRef, typeKey } from './types.js';

export type { Scope } from './types.js';

/** `Namespaced`, `Cluster`, or undefined when the cluster does not serve the kind. */
export async function scopeOf(client: ResourceLookup, type: TypeRef): Promise<Scope | undefined> {
  const r = await client.resource(type);
  if (!r) return undefined;
  return r.namespaced ? 'Namespaced' : 'Cluster';
}

/**
 * Discover a known set of kinds up front and answer synchronously afterwards, for code that cannot await
 * (template validation). Kinds outside the set answer undefined.
 */
export async function scopeResolver(
  client: ResourceLookup,
  types: readonly TypeRef[],
): Promise<(t: TypeRef) => Scope | undefined> {
  const scopes = new Map<string, Scope | undefined>();
  await Promise.all(
    types.map(async (t) => {
      scopes.set(typeKey(t), await scopeOf(client, t));
    }),
  );
  return (t) => scopes.get(typeKey(t));
}

/** `/api/v1` for the core group, `/apis/<group>/<version>` otherwise. */
export function apiVersionPath(apiVersion: string): string {
  return apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
}

/** The collection path of a kind, in `namespace` when the kind is namespaced. */
export function collectionPath(type: TypeRef, resource: ApiResource, namespace: string | undefined): string {
  const base = apiVersionPath(type.apiVersion);
  if (resource.namespaced) {
    if (!namespace) throw new Error(`${typeKey(type)} is namespaced: a namespace is required`);
    return `${base}/namespaces/${encodeURIComponent(namespace)}/${resource.name}`;
  }
  return `${base}/${resource.name}`;
}

export function objectPath(
  type: TypeRef,
  resource: ApiResource,
  namespace: string | undefined,
  name: string,
): string {
  return `${collectionPath(type, resource, namespace)}/${encodeURIComponent(name)}`;
}

/** The resource serving `type`, or a KubeApiError saying the cluster does not serve it. */
export async function requireResource(
  client: ResourceLookup,
  type: TypeRef,
  what: string,
): Promise<ApiResource> {
  const r = await client.resource(type);
  if (!r) {
    throw new KubeApiError(
      `${what}: the cluster does not serve ${type.kind} in ${type.apiVersion}`,
      404,
      'NotFound',
      {
        hint: 'Check the apiVersion and kind; a custom resource needs its CRD installed in the cluster.',
      },
    );
  }
  return r;
}
