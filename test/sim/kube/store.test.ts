import { afterEach, describe, expect, it } from 'vitest';
import { newControllerRef } from './controllers/util.js';
import { StatusError } from './errors.js';
import { loadDiscovery } from './resources.js';
import { MemoryStore } from './store.js';
import type { SimObject, WatchEvent } from './types.js';

const stores: MemoryStore[] = [];
afterEach(() => {
  for (const s of stores.splice(0)) s.close();
});

function newStore(): MemoryStore {
  const s = new MemoryStore({ types: loadDiscovery().types, caPem: 'PEM' });
  stores.push(s);
  s.create(obj('v1', 'Namespace', 'ns'));
  return s;
}

function obj(
  apiVersion: string,
  kind: string,
  name: string,
  rest: Record<string, unknown> = {},
  meta = {},
): SimObject {
  return { apiVersion, kind, metadata: { name, ...meta } as SimObject['metadata'], ...rest };
}

function deployment(name: string, replicas = 1): SimObject {
  return obj(
    'apps/v1',
    'Deployment',
    name,
    { spec: { replicas, selector: { matchLabels: { app: name } } } },
    { namespace: 'ns' },
  );
}

const tick = () => new Promise((r) => setImmediate(r));
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await tick();
}

function code(fn: () => unknown): number | undefined {
  try {
    fn();
  } catch (e) {
    return e instanceof StatusError ? e.code : -1;
  }
  return undefined;
}

const D = { group: 'apps', resource: 'deployments', namespace: 'ns' };
const RS = { group: 'apps', resource: 'replicasets', namespace: 'ns' };
const PODS = { group: '', resource: 'pods', namespace: 'ns' };

describe('MemoryStore', () => {
  it('stamps metadata on create and publishes what a new namespace gets', () => {
    const s = newStore();
    const ns = s.get({ group: '', resource: 'namespaces', name: 'ns' }) as SimObject;
    expect(ns.metadata.labels).toEqual({ 'kubernetes.io/metadata.name': 'ns' });
    expect(ns.spec).toEqual({ finalizers: ['kubernetes'] });
    expect(ns.status).toEqual({ phase: 'Active' });
    expect(ns.metadata.generation).toBeUndefined();
    const ca = s.get({
      group: '',
      resource: 'configmaps',
      namespace: 'ns',
      name: 'kube-root-ca.crt',
    }) as SimObject;
    expect(ca.data).toEqual({ 'ca.crt': 'PEM' });
    expect(s.get({ group: '', resource: 'serviceaccounts', namespace: 'ns', name: 'default' })).toBeDefined();

    const d = s.create(deployment('web'));
    expect(d.metadata.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(d.metadata.creationTimestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(d.metadata.generation).toBe(1);
    expect(d.status).toEqual({});
    expect(Number(d.metadata.resourceVersion)).toBe(Number(s.resourceVersion()));
    expect(Object.keys(d).slice(0, 3)).toEqual(['kind', 'apiVersion', 'metadata']);
  });

  it('rejects duplicates, missing and terminating namespaces', async () => {
    const s = newStore();
    s.create(deployment('web'));
    expect(code(() => s.create(deployment('web')))).toBe(409);
    expect(
      code(() => s.create({ ...deployment('x'), metadata: { name: 'x', namespace: 'nope' } } as SimObject)),
    ).toBe(404);
    s.delete({ group: '', resource: 'namespaces', name: 'ns' });
    expect(code(() => s.create(deployment('y')))).toBe(403);
  });

  it('generates names from generateName', () => {
    const s = newStore();
    const cm = s.create(obj('v1', 'ConfigMap', '', {}, { namespace: 'ns', generateName: 'cfg-' }));
    expect(cm.metadata.name).toMatch(/^cfg-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
  });

  it('bumps generation on spec changes only, skips no-op writes, and checks resourceVersion', () => {
    const s = newStore();
    const events: WatchEvent[] = [];
    s.subscribe('apps', 'deployments', (e) => events.push(e));
    const d = s.create(deployment('web'));
    const same = s.update(d);
    expect(same.metadata.resourceVersion).toBe(d.metadata.resourceVersion);
    expect(events.map((e) => e.type)).toEqual(['ADDED']);

    const labelled = s.update({ ...d, metadata: { ...d.metadata, labels: { a: 'b' } } });
    expect(labelled.metadata.generation).toBe(1);
    const scaled = s.update({ ...labelled, spec: { ...labelled.spec, replicas: 3 } });
    expect(scaled.metadata.generation).toBe(2);
    expect(code(() => s.update({ ...d, spec: { replicas: 5 } }))).toBe(409);

    // Status writes never bump generation, and the main resource cannot change status.
    const st = s.updateStatus({ ...scaled, status: { observedGeneration: 2 } });
    expect(st.metadata.generation).toBe(2);
    const ignored = s.update({ ...st, status: { observedGeneration: 99 } });
    expect(ignored.status).toEqual({ observedGeneration: 2 });
    expect(events.map((e) => e.type)).toEqual(['ADDED', 'MODIFIED', 'MODIFIED', 'MODIFIED']);
  });

  it('delivers events in order even when a subscriber writes from its callback', () => {
    const s = newStore();
    const seen: string[] = [];
    s.subscribe('apps', 'deployments', (e) => {
      if (e.type === 'ADDED') s.updateStatus({ ...e.object, status: { replicas: 0 } });
    });
    s.subscribe('apps', 'deployments', (e) => seen.push(`${e.type}@${e.object.metadata.resourceVersion}`));
    s.create(deployment('web'));
    expect(seen.map((x) => x.split('@')[0])).toEqual(['ADDED', 'MODIFIED']);
    const rvs = seen.map((x) => Number(x.split('@')[1]));
    expect(rvs[1]).toBeGreaterThan(rvs[0] as number);
  });

  it('Foreground: object stays with the finalizer and a bumped generation until dependents are gone', async () => {
    const s = newStore();
    const d = s.create(deployment('web'));
    const owner = newControllerRef(d);
    const rs = s.create(
      obj(
        'apps/v1',
        'ReplicaSet',
        'web-1',
        { spec: { replicas: 1 } },
        { namespace: 'ns', ownerReferences: [owner] },
      ),
    );
    const rsOwner = newControllerRef(rs);
    s.create(
      obj(
        'v1',
        'Pod',
        'web-1-abcde',
        { spec: { containers: [{ name: 'c', image: 'i' }] } },
        { namespace: 'ns', ownerReferences: [rsOwner] },
      ),
    );

    const left = s.delete({ ...D, name: 'web' }, 'Foreground') as SimObject;
    expect(left.metadata.finalizers).toEqual(['foregroundDeletion']);
    expect(left.metadata.deletionTimestamp).toBeDefined();
    expect(left.metadata.deletionGracePeriodSeconds).toBe(0);
    expect(left.metadata.generation).toBe(2);
    expect(s.get({ ...D, name: 'web' })).toBeDefined();
    await settle();
    expect(s.get({ ...D, name: 'web' })).toBeUndefined();
    expect(s.list('apps', 'replicasets', { namespace: 'ns' })).toEqual([]);
    expect(s.list('', 'pods', { namespace: 'ns' })).toEqual([]);
  });

  it('Background: owner goes at once, dependents follow; Orphan keeps them without the reference', async () => {
    const s = newStore();
    const d = s.create(deployment('web'));
    // A reference set by hand: it does not block the owner's deletion.
    const { blockOwnerDeletion: _, ...ref } = newControllerRef(d);
    s.create(
      obj('apps/v1', 'ReplicaSet', 'web-1', { spec: {} }, { namespace: 'ns', ownerReferences: [ref] }),
    );
    expect(s.delete({ ...D, name: 'web' }, 'Background')).toBeUndefined();
    expect(s.get({ ...RS, name: 'web-1' })).toBeDefined();
    await settle();
    expect(s.get({ ...RS, name: 'web-1' })).toBeUndefined();

    const d2 = s.create(deployment('keep'));
    s.create(
      obj(
        'apps/v1',
        'ReplicaSet',
        'keep-1',
        { spec: {} },
        { namespace: 'ns', ownerReferences: [{ ...ref, name: 'keep', uid: d2.metadata.uid }] },
      ),
    );
    s.delete({ ...D, name: 'keep' }, 'Orphan');
    await settle();
    const orphan = s.get({ ...RS, name: 'keep-1' }) as SimObject;
    expect(orphan.metadata.ownerReferences).toBeUndefined();
  });

  it('deletes scheduled pods gracefully; the second delete (the kubelet) removes them', () => {
    const s = newStore();
    const events: string[] = [];
    s.subscribe('', 'pods', (e) => events.push(e.type));
    s.create(
      obj(
        'v1',
        'Pod',
        'p',
        { spec: { nodeName: 'node', containers: [{ name: 'c', image: 'i' }] } },
        { namespace: 'ns' },
      ),
    );
    const terminating = s.delete({ ...PODS, name: 'p' }) as SimObject;
    expect(terminating.metadata.deletionGracePeriodSeconds).toBe(30);
    expect(Date.parse(terminating.metadata.deletionTimestamp as string)).toBeGreaterThan(Date.now() + 20_000);
    expect(s.delete({ ...PODS, name: 'p' })).toBeUndefined();
    expect(events).toEqual(['ADDED', 'MODIFIED', 'DELETED']);
    s.create(obj('v1', 'Pod', 'unscheduled', { spec: { containers: [] } }, { namespace: 'ns' }));
    expect(s.delete({ ...PODS, name: 'unscheduled' })).toBeUndefined();
  });

  it('admits pods like the API server: service account volume, tolerations, priority, Pending, QoS', () => {
    const s = newStore();
    const pod = s.create(
      obj(
        'v1',
        'Pod',
        'p',
        { spec: { containers: [{ name: 'c', image: 'i', resources: { requests: { cpu: '1' } } }] } },
        { namespace: 'ns' },
      ),
    );
    expect(pod.spec.serviceAccountName).toBe('default');
    expect(pod.spec.volumes[0].name).toMatch(/^kube-api-access-[a-z0-9]{5}$/);
    expect(pod.spec.containers[0].volumeMounts[0].mountPath).toBe(
      '/var/run/secrets/kubernetes.io/serviceaccount',
    );
    expect(pod.spec.tolerations).toHaveLength(2);
    expect(pod.spec.priority).toBe(0);
    expect(pod.status).toEqual({ phase: 'Pending', qosClass: 'Burstable' });
    expect(pod.metadata.generation).toBeUndefined();
  });

  it('finishes a namespace deletion after emptying it', async () => {
    const s = newStore();
    s.create(deployment('web'));
    const ns = s.delete({ group: '', resource: 'namespaces', name: 'ns' }) as SimObject;
    expect(ns.status.phase).toBe('Terminating');
    await settle();
    expect(s.get({ group: '', resource: 'namespaces', name: 'ns' })).toBeUndefined();
    expect(s.list('', 'configmaps', { namespace: 'ns' })).toEqual([]);
  });

  it('replays history for watches and removes finalized objects', () => {
    const s = newStore();
    const rv = Number(s.resourceVersion());
    const d = s.create(
      obj('apps/v1', 'Deployment', 'f', { spec: {} }, { namespace: 'ns', finalizers: ['example.com/hold'] }),
    );
    const held = s.delete({ ...D, name: 'f' }) as SimObject;
    expect(held.metadata.deletionTimestamp).toBeDefined();
    s.update({ ...held, metadata: { ...held.metadata, finalizers: [] } });
    expect(s.get({ ...D, name: 'f' })).toBeUndefined();
    const evs = s.eventsSince('apps', 'deployments', rv) ?? [];
    expect(evs.map((e) => e.type)).toEqual(['ADDED', 'MODIFIED', 'MODIFIED', 'DELETED']);
    expect(evs[0]?.object.metadata.uid).toBe(d.metadata.uid);
  });
});
