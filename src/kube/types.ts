/** A Kubernetes object as rendered from the template or read from the API. Plain data: no client-node types. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: KubeMetadata;
  [field: string]: unknown;
}

export interface KubeMetadata {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  ownerReferences?: OwnerReference[];
  [field: string]: unknown;
}

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

/** Identifies a kind: `apps/v1` + `Deployment`. */
export interface TypeRef {
  apiVersion: string;
  kind: string;
}

/** One resource type as discovery lists it. */
export interface ApiResource {
  /** Plural resource name used in paths, e.g. `deployments`. */
  name: string;
  kind: string;
  namespaced: boolean;
  verbs: string[];
}

export type Scope = 'Namespaced' | 'Cluster';

/** What discovery needs of a client: the resource serving a kind, or undefined when the cluster does not serve it. */
export interface ResourceLookup {
  resource(type: TypeRef): Promise<ApiResource | undefined>;
}

export function typeKey(t: TypeRef): string {
  return `${t.apiVersion}/${t.kind}`;
}

export function parseTypeKey(key: string): TypeRef | undefined {
  const slash = key.lastIndexOf('/');
  if (slash <= 0 || slash === key.length - 1) return undefined;
  return { apiVersion: key.slice(0, slash), kind: key.slice(slash + 1) };
}

export function objectRef(o: KubeObject): string {
  return `${o.kind}/${o.metadata.name}`;
}
