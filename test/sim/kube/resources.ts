/**
 * The served API types and the discovery documents, from the recorded discovery of a real v1.32 server
 * (copied into data/discovery so the simulator never reads test/fixtures at run time).
 * batch/v1, policy/v1, autoscaling/v2, authentication.k8s.io/v1 and authorization.k8s.io/v1 were converted
 * from the recorded aggregated discovery; the converter reproduces the recorded apps/v1 and rbac lists exactly.
 * coordination.k8s.io/v1 (Lease, the action's per-environment lock) was converted the same way; the aggregated
 * form carries no storageVersionHash, so its list has none. No OpenAPI document of that group was recorded:
 * Leases are stored as sent, without schema validation or defaulting (as a custom resource without a schema).
 */
import { readFileSync } from 'node:fs';
import type { ResourceType } from './types.js';

interface APIResource {
  name: string;
  singularName: string;
  namespaced: boolean;
  group?: string;
  version?: string;
  kind: string;
  verbs: string[];
  shortNames?: string[];
  categories?: string[];
  storageVersionHash?: string;
}

export interface APIResourceList {
  kind: 'APIResourceList';
  apiVersion?: string;
  groupVersion: string;
  resources: APIResource[];
}

interface GroupVersion {
  groupVersion: string;
  version: string;
}
interface APIGroup {
  name: string;
  versions: GroupVersion[];
  preferredVersion: GroupVersion;
}
interface AggregatedGroup {
  metadata: { name?: string; creationTimestamp: null };
  versions: Array<{ version: string; resources: unknown[]; freshness: string }>;
}
interface AggregatedList {
  kind: string;
  apiVersion: string;
  metadata: Record<string, unknown>;
  items: AggregatedGroup[];
}

/** Group-versions this simulator serves, each with a recorded or converted APIResourceList. */
const SERVED: Array<[group: string, version: string]> = [
  ['', 'v1'],
  ['apps', 'v1'],
  ['networking.k8s.io', 'v1'],
  ['rbac.authorization.k8s.io', 'v1'],
  ['batch', 'v1'],
  ['policy', 'v1'],
  ['autoscaling', 'v2'],
  ['authentication.k8s.io', 'v1'],
  ['authorization.k8s.io', 'v1'],
  ['coordination.k8s.io', 'v1'],
];

function load<T>(file: string): T {
  return JSON.parse(readFileSync(new URL(`./data/discovery/${file}`, import.meta.url), 'utf8')) as T;
}

export interface Discovery {
  /** Bodies, already serialized: the same bytes on every request. */
  api: string;
  apiAggregated: string;
  apis: string;
  apisAggregated: string;
  version: string;
  /** `group/version` ('' group for core, i.e. `/v1`) → APIResourceList body. */
  resourceLists: Map<string, string>;
  /** group → APIGroup body (GET /apis/<group>). */
  groups: Map<string, string>;
  /** served groups → versions */
  versions: Map<string, string[]>;
  types: ResourceType[];
}

let cached: Discovery | undefined;

function json(v: unknown): string {
  return `${JSON.stringify(v)}\n`;
}

export function loadDiscovery(): Discovery {
  if (cached) return cached;
  const versions = new Map<string, string[]>();
  for (const [g, v] of SERVED) versions.set(g, [...(versions.get(g) ?? []), v]);

  const resourceLists = new Map<string, string>();
  const types: ResourceType[] = [];
  for (const [group, version] of SERVED) {
    const file = group === '' ? 'api_v1.json' : `apis_${group}_${version}.json`;
    const list = load<APIResourceList>(file);
    resourceLists.set(`${group}/${version}`, json(list));
    const byName = new Map<string, ResourceType>();
    for (const r of list.resources) {
      const [resource, sub] = r.name.split('/') as [string, string | undefined];
      if (sub === undefined) {
        const t: ResourceType = {
          group,
          version,
          resource,
          kind: r.kind,
          namespaced: r.namespaced,
          verbs: r.verbs,
        };
        byName.set(resource, t);
        types.push(t);
      } else {
        const t = byName.get(resource);
        if (t) t.subresources = [...(t.subresources ?? []), sub];
      }
    }
  }

  // /apis lists only what is served: a client that walks every advertised group must not meet 404s.
  const apisList = load<{ kind: string; apiVersion: string; groups: APIGroup[] }>('apis.json');
  apisList.groups = apisList.groups
    .filter((g) => versions.has(g.name))
    .map((g) => ({ ...g, versions: g.versions.filter((v) => versions.get(g.name)?.includes(v.version)) }));
  const groups = new Map<string, string>();
  for (const g of apisList.groups) groups.set(g.name, json({ kind: 'APIGroup', apiVersion: 'v1', ...g }));

  const aggregated = load<AggregatedList>('apis-aggregated.json');
  aggregated.items = aggregated.items
    .filter((i) => versions.has(i.metadata.name ?? ''))
    .map((i) => ({
      ...i,
      versions: i.versions.filter((v) => versions.get(i.metadata.name ?? '')?.includes(v.version)),
    }));

  cached = {
    api: json(load('api.json')),
    apiAggregated: json(load('api-aggregated.json')),
    apis: json(apisList),
    apisAggregated: json(aggregated),
    version: json(load('version.json')),
    resourceLists,
    groups,
    versions,
    types,
  };
  return cached;
}

/** Kinds whose registry strategy sets metadata.generation (pods, namespaces, configmaps... have none in 1.32). */
const GENERATION_RESOURCES = new Set([
  'apps/deployments',
  'apps/replicasets',
  'apps/statefulsets',
  'apps/daemonsets',
  'batch/jobs',
  'batch/cronjobs',
  'networking.k8s.io/ingresses',
  'networking.k8s.io/networkpolicies',
  'networking.k8s.io/ingressclasses',
  'policy/poddisruptionbudgets',
  'autoscaling/horizontalpodautoscalers',
  '/replicationcontrollers',
]);

export function hasGeneration(t: ResourceType): boolean {
  return GENERATION_RESOURCES.has(`${t.group}/${t.resource}`);
}

/** Types whose status is only written through /status (the main resource keeps the old status on update). */
export function hasStatusSubresource(t: ResourceType): boolean {
  return t.subresources?.includes('status') ?? false;
}

export function apiVersionOf(t: Pick<ResourceType, 'group' | 'version'>): string {
  return t.group ? `${t.group}/${t.version}` : t.version;
}
