/** Shared by the controllers' tests: stores to run against, fixtures, normalization, polling. */
import { readFileSync } from 'node:fs';
import { afterEach } from 'vitest';
import { loadDiscovery } from '../resources.js';
import * as storeModule from '../store.js';
import type { PodBackend, PodBehaviour, ResourceType, SimObject, Store } from '../types.js';
import { type ControllerOptions, startControllers } from './index.js';
import { createTestStore } from './test-store.js';

export const NS = 'fixtures';

/** ObjectMeta for an object about to be created: the store fills in uid, resourceVersion and the rest. */
export function meta(m: Partial<SimObject['metadata']> & { name: string }): SimObject['metadata'] {
  return m as SimObject['metadata'];
}

export interface StoreHandle {
  store: Store;
  close(): void;
}

type OtherStoreModule = {
  createStore?: (opts?: { types?: ResourceType[] }) => Store;
  MemoryStore?: new (opts: { types: ResourceType[] }) => Store;
};

/** store.ts as its author exports it: `createStore()` when it exists, the MemoryStore class otherwise. */
function createOtherStore(): Store {
  const mod = storeModule as unknown as OtherStoreModule;
  if (mod.createStore) return mod.createStore();
  if (mod.MemoryStore) return new mod.MemoryStore({ types: loadDiscovery().types });
  throw new Error('store.ts exports neither createStore nor MemoryStore');
}

function withNamespace(store: Store): StoreHandle {
  store.create({ apiVersion: 'v1', kind: 'Namespace', metadata: meta({ name: NS }) });
  return {
    store,
    close: () => (store as Store & { close?: () => void }).close?.(),
  };
}

/** Every test runs against both stores: ours (test-store.ts) and the simulator's (store.ts). */
export const STORES: Array<[string, () => StoreHandle]> = [
  ['test-store', () => withNamespace(createTestStore())],
  ['store.ts', () => withNamespace(createOtherStore())],
];

/**
 * Controllers on a fresh store (from `makeStore`) for each test that calls `start`; stopped, and the store
 * closed, after each test. A controller error fails the test.
 */
export function controllerHarness(makeStore: () => StoreHandle): {
  start(behaviour: PodBehaviour, backend?: PodBackend, opts?: ControllerOptions): Store;
  /** Stops the running controllers now, for a test of what stopping does. */
  stop(): Promise<void>;
} {
  let handle: StoreHandle | undefined;
  let controllers: { stop(): Promise<void> } | undefined;
  afterEach(async () => {
    await controllers?.stop();
    controllers = undefined;
    handle?.close();
  });
  return {
    start(behaviour, backend, opts = {}) {
      handle = makeStore();
      controllers = startControllers(handle.store, behaviour, backend, {
        onError: (err, ctx) => {
          throw new Error(`controller error in ${ctx}: ${String(err)}`);
        },
        ...opts,
      });
      return handle.store;
    },
    stop: async () => {
      await controllers?.stop();
    },
  };
}

const FIXTURES = new URL('../../../fixtures/kube-api/', import.meta.url);

export interface Fixture {
  request: { body: unknown };
  response: {
    body: SimObject & { items?: SimObject[] };
    stream?: Array<{ type: string; object: SimObject }>;
  };
}

export function fixture(name: string): Fixture {
  return JSON.parse(readFileSync(new URL(name, FIXTURES), 'utf8')) as Fixture;
}

const TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;

/**
 * Replaces what differs between runs by the fixtures' placeholders (README "Redaction"), and the names in
 * `names` (ours and the fixture's) by a common token. Fixture values already hold the placeholders.
 */
export function normalize(v: unknown, names: Array<[string, string]> = []): unknown {
  if (typeof v === 'string') {
    if (TIME.test(v)) return '<time>';
    let s = v.replace(UUID, '<uid>');
    s = s.replace(/containerd:\/\/[0-9a-f]{64}/g, 'containerd://<container-id>');
    s = s.replace(/^10\.244\.\d+\.\d+$/, '<pod-ip>');
    for (const [from, to] of names) s = s.split(from).join(to);
    return s;
  }
  if (Array.isArray(v)) return v.map((x) => normalize(x, names));
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      if (k === 'resourceVersion') out[k] = '<rv>';
      else if (k === 'imageID' && x !== '') out[k] = '<image-id>';
      else if (k === 'volumeMounts' || k === 'managedFields') continue;
      else out[k] = normalize(x, names);
    }
    return out;
  }
  return v;
}

/** Polls until fn returns something other than undefined/false; fails with the last value seen. */
export async function waitFor<T>(
  fn: () => T | undefined | false,
  what: string,
  timeoutMs = 5000,
  intervalMs = 10,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = fn();
      if (v !== undefined && v !== false) return v;
      last = v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export const DEPLOY = { group: 'apps', resource: 'deployments' };
export const RS = { group: 'apps', resource: 'replicasets' };
export const PODS = { group: '', resource: 'pods' };
export const EVENTS = { group: '', resource: 'events' };

/** A Deployment as fixture 010's server answered it (defaults applied), under another name if asked. */
export function webDeployment(name = 'web'): SimObject {
  const body = fixture('010-deploy-ssa-create.json').response.body;
  const d: SimObject = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: meta({ name, namespace: NS, labels: { ...body.metadata.labels, app: name } }),
    spec: structuredClone(body.spec),
  };
  d.spec.selector.matchLabels.app = name;
  d.spec.template.metadata.labels.app = name;
  return d;
}

/** The failing-pod Deployments of fixtures 081-083, as the server stored them (defaults applied). */
export function failingDeployment(file: string, progressDeadlineSeconds?: number): SimObject {
  const body = fixture(file).response.body;
  const d: SimObject = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: meta({ name: body.metadata.name, namespace: NS, labels: body.metadata.labels }),
    spec: structuredClone(body.spec),
  };
  if (progressDeadlineSeconds !== undefined) d.spec.progressDeadlineSeconds = progressDeadlineSeconds;
  return d;
}

export function condition(
  obj: SimObject | undefined,
  type: string,
): { status: string; reason?: string } | undefined {
  return (
    obj?.status?.conditions as Array<{ type: string; status: string; reason?: string }> | undefined
  )?.find((c) => c.type === type);
}

export function podsOf(store: Store, app: string): SimObject[] {
  return store.list('', 'pods', { namespace: NS, labelSelector: `app=${app}` });
}

export function eventsFor(store: Store, name: string): SimObject[] {
  return store.list('', 'events', { namespace: NS }).filter((e) => e.involvedObject?.name === name);
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
