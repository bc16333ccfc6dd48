/**
 * What the suites look at, read through the API as cluster-admin, the same way on the simulator and on a real
 * cluster: the objects a user created in the namespace, an environment's objects and bookkeeping, its pods.
 */
import type { KubeClient } from '../../src/kube/client.js';
import type { SimObject } from '../sim/kube/types.js';
import { FIXTURE_LABEL } from './identity.js';

/** An object as the API server sends it: free-form JSON. */
export type ClusterObject = SimObject;

interface Resource {
  name: string;
  kind: string;
  namespaced: boolean;
  verbs: string[];
}

/** Every namespaced resource with `list` (subresources, events and metrics left out), by its collection's API path. */
async function namespacedCollections(admin: KubeClient): Promise<Array<{ kind: string; base: string }>> {
  const versions = ['/api/v1'];
  const groups = await admin.request<{
    groups: Array<{ name: string; preferredVersion: { groupVersion: string } }>;
  }>({
    method: 'GET',
    path: '/apis',
  });
  for (const g of groups.body.groups) {
    // Listed from the metrics server's live data, not objects anybody created.
    if (g.name === 'metrics.k8s.io') continue;
    versions.push(`/apis/${g.preferredVersion.groupVersion}`);
  }
  const out: Array<{ kind: string; base: string }> = [];
  for (const v of versions) {
    const { body } = await admin.request<{ resources: Resource[] }>({ method: 'GET', path: v });
    for (const r of body.resources) {
      if (!r.namespaced || r.name.includes('/') || !r.verbs.includes('list')) continue;
      if (['events', 'endpoints', 'endpointslices'].includes(r.name)) continue;
      out.push({ kind: r.kind, base: `${v}/namespaces/%NS%/${r.name}` });
    }
  }
  return out;
}

export class Inspector {
  #collections?: Promise<Array<{ kind: string; base: string }>>;

  constructor(
    private readonly admin: KubeClient,
    private readonly namespace: string,
  ) {}

  async list(base: string, labelSelector?: string): Promise<ClusterObject[]> {
    const { body } = await this.admin.request<{ items: ClusterObject[] }>({
      method: 'GET',
      path: base.replace('%NS%', this.namespace),
      query: labelSelector ? { labelSelector } : undefined,
    });
    return body.items;
  }

  /**
   * Every object a user created in the namespace, keyed `Kind/name`: objects owned by another object (ReplicaSets,
   * Pods), the ones every namespace has, the fixture's own and the action's bookkeeping (see bookkeeping()) are left
   * out. Objects being deleted count until they are gone.
   */
  async userObjects(): Promise<Map<string, ClusterObject>> {
    this.#collections ??= namespacedCollections(this.admin);
    const out = new Map<string, ClusterObject>();
    const lists = await Promise.all(
      (await this.#collections).map(async (c) => ({ kind: c.kind, items: await this.list(c.base) })),
    );
    for (const { kind, items } of lists) {
      for (const o of items) {
        const labels = o.metadata.labels ?? {};
        if (o.metadata.ownerReferences?.length) continue;
        if (kind === 'ConfigMap' && o.metadata.name === 'kube-root-ca.crt') continue;
        if (kind === 'ServiceAccount' && o.metadata.name === 'default') continue;
        if (labels[FIXTURE_LABEL] || labels['preevy.dev/lock'] || labels['preevy.dev/tombstone']) continue;
        out.set(`${kind}/${o.metadata.name}`, { ...o, kind });
      }
    }
    return out;
  }

  /** The user objects of one environment, by its env-id label. */
  async envObjects(envId: string): Promise<Map<string, ClusterObject>> {
    return new Map(
      [...(await this.userObjects())].filter(([, o]) => o.metadata.labels?.['preevy.dev/env-id'] === envId),
    );
  }

  /** An environment's lock (Lease) and tombstone (ConfigMap), which userObjects leaves out. */
  async bookkeeping(envId: string): Promise<{ lease?: ClusterObject; tombstone?: ClusterObject }> {
    const env = `preevy.dev/env-id=${envId}`;
    const [leases, configMaps] = await Promise.all([
      this.list('/apis/coordination.k8s.io/v1/namespaces/%NS%/leases', `${env},preevy.dev/lock=true`),
      this.list('/api/v1/namespaces/%NS%/configmaps', `${env},preevy.dev/tombstone=true`),
    ]);
    return { lease: leases[0], tombstone: configMaps[0] };
  }

  /** Pods matching the selector that are not being deleted. */
  async livePods(labelSelector: string): Promise<ClusterObject[]> {
    const pods = await this.list('/api/v1/namespaces/%NS%/pods', labelSelector);
    return pods.filter((p) => !p.metadata.deletionTimestamp);
  }

  /** Pods matching the selector, those being deleted included. */
  pods(labelSelector: string): Promise<ClusterObject[]> {
    return this.list('/api/v1/namespaces/%NS%/pods', labelSelector);
  }
}
