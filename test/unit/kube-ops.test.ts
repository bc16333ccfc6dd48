/**
 * apply / find / delete / wait against an in-memory fake of the API (routing, resourceVersions, 404/409
 * Statuses as kube-apiserver words them). The HTTP-level behaviour is checked against the simulator in
 * test/integration; here the logic: ordering, what is sent, what is reported.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { ApiException, KubeConfig } from '@kubernetes/client-node';
import { beforeEach, describe, expect, it } from 'vitest';
import { ApplyError, applyObjects } from '../../src/environment/apply.js';
import { deleteEnvironment, deletionTypes } from '../../src/environment/delete.js';
import { findEnvironment, listDockerHosts, parseAllTypes } from '../../src/environment/find.js';
import { rollbackCreated } from '../../src/environment/rollback.js';
import { waitForRollout } from '../../src/environment/wait.js';
import { IdentityError, KubeApiError, ReadinessError } from '../../src/errors.js';
import type { ApiResource, KubeClient, KubeRequest, KubeResponse } from '../../src/kube/client.js';
import { scopeOf, scopeResolver } from '../../src/kube/discovery.js';
import { type KubeObject, type TypeRef, typeKey } from '../../src/kube/types.js';
import type { Log } from '../../src/util/log.js';

// ---------------------------------------------------------------------------------------------------------
// A fake API server

interface FakeType extends TypeRef {
  plural: string;
  namespaced: boolean;
}

const TYPES: FakeType[] = [
  { apiVersion: 'v1', kind: 'ConfigMap', plural: 'configmaps', namespaced: true },
  { apiVersion: 'v1', kind: 'Secret', plural: 'secrets', namespaced: true },
  { apiVersion: 'v1', kind: 'Service', plural: 'services', namespaced: true },
  { apiVersion: 'v1', kind: 'Pod', plural: 'pods', namespaced: true },
  { apiVersion: 'v1', kind: 'Event', plural: 'events', namespaced: true },
  { apiVersion: 'v1', kind: 'ServiceAccount', plural: 'serviceaccounts', namespaced: true },
  { apiVersion: 'v1', kind: 'PersistentVolumeClaim', plural: 'persistentvolumeclaims', namespaced: true },
  { apiVersion: 'v1', kind: 'Namespace', plural: 'namespaces', namespaced: false },
  { apiVersion: 'apps/v1', kind: 'Deployment', plural: 'deployments', namespaced: true },
  { apiVersion: 'apps/v1', kind: 'ReplicaSet', plural: 'replicasets', namespaced: true },
  { apiVersion: 'apps/v1', kind: 'StatefulSet', plural: 'statefulsets', namespaced: true },
  { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', plural: 'roles', namespaced: true },
  {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRole',
    plural: 'clusterroles',
    namespaced: false,
  },
  { apiVersion: 'example.com/v1', kind: 'Widget', plural: 'widgets', namespaced: true },
];

type Injected = KubeResponse<unknown> | Error | undefined;

function status(
  code: number,
  reason: string,
  message: string,
  details: Record<string, unknown> = {},
): ApiException<string> {
  const body = {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    reason,
    details,
    code,
  };
  return new ApiException(code, 'Unsuccessful HTTP Request', `${JSON.stringify(body)}\n`, {});
}

function matchesSelector(labels: Record<string, string> | undefined, selector: string | undefined): boolean {
  if (!selector) return true;
  return selector.split(',').every((req) => {
    const [k, v] = req.split('=');
    return k !== undefined && labels?.[k] === v;
  });
}

class FakeKube implements KubeClient {
  readonly server = 'https://fake.example:6443';
  readonly kubeConfig = new KubeConfig();
  readonly requests: KubeRequest[] = [];
  store = new Map<string, KubeObject>();
  /** Return a response or an error to short-circuit a request. */
  inject: (req: KubeRequest) => Injected = () => undefined;
  /** DELETE marks objects terminating; they disappear after this many GETs. */
  deleteAfterGets = 0;
  private readonly getsLeft = new Map<string, number>();
  private rv = 100;
  private uid = 0;
  served = new Set(TYPES.map((t) => typeKey(t)));

  constructor(readonly namespace = 'ns') {}

  private key(t: TypeRef, ns: string | undefined, name: string) {
    return `${typeKey(t)}|${ns ?? ''}|${name}`;
  }

  put(o: KubeObject): KubeObject {
    const t = TYPES.find((x) => x.apiVersion === o.apiVersion && x.kind === o.kind)!;
    const copy = structuredClone(o);
    copy.metadata.namespace = t.namespaced ? (copy.metadata.namespace ?? this.namespace) : undefined;
    copy.metadata.uid ??= `uid-${++this.uid}`;
    copy.metadata.resourceVersion = String(++this.rv);
    copy.metadata.generation ??= 1;
    this.store.set(this.key(o, copy.metadata.namespace, o.metadata.name), copy);
    return copy;
  }

  get(t: TypeRef, name: string, ns: string | undefined = this.namespace): KubeObject | undefined {
    return this.store.get(this.key(t, ns, name));
  }

  async resource(type: TypeRef): Promise<ApiResource | undefined> {
    const t = TYPES.find((x) => x.apiVersion === type.apiVersion && x.kind === type.kind);
    if (!t || !this.served.has(typeKey(t))) return undefined;
    return {
      name: t.plural,
      kind: t.kind,
      namespaced: t.namespaced,
      verbs: ['get', 'list', 'create', 'patch', 'delete'],
    };
  }

  scopeOf(type: TypeRef) {
    return scopeOf(this, type);
  }

  async close() {}

  private route(p: string): { type: FakeType; ns?: string; name?: string } {
    const m = /^\/(?:api\/(v1)|apis\/([^/]+\/[^/]+))(?:\/namespaces\/([^/]+))?\/([^/]+)(?:\/([^/]+))?$/.exec(
      p,
    );
    if (!m) throw new Error(`fake: unroutable path ${p}`);
    const apiVersion = m[1] ?? m[2]!;
    const type = TYPES.find((t) => t.apiVersion === apiVersion && t.plural === m[4]);
    if (!type) throw status(404, 'NotFound', 'the server could not find the requested resource');
    return {
      type,
      ns: m[3] ? decodeURIComponent(m[3]) : undefined,
      name: m[5] ? decodeURIComponent(m[5]) : undefined,
    };
  }

  /** Writes sent with dryRun=All: answered like real ones, then forgotten, as the API server does. */
  readonly dryRuns: KubeRequest[] = [];
  /** Makes every dry run of these object names fail with this error. */
  readonly refuseDryRun = new Map<string, Error>();

  async request<T>(req: KubeRequest): Promise<KubeResponse<T>> {
    if (req.query?.dryRun === 'All') {
      this.dryRuns.push(structuredClone({ ...req, signal: undefined }));
      const body = req.body as KubeObject | undefined;
      const refusal = body && this.refuseDryRun.get(body.metadata.name);
      if (refusal) throw refusal;
      const saved = { store: new Map([...this.store].map(([k, v]) => [k, structuredClone(v)])), rv: this.rv };
      try {
        return await this.handle<T>(req);
      } finally {
        this.store = saved.store;
        this.rv = saved.rv;
      }
    }
    this.requests.push(structuredClone({ ...req, signal: undefined }));
    const injected = this.inject(req);
    if (injected instanceof Error) throw injected;
    if (injected) return injected as KubeResponse<T>;
    return this.handle<T>(req);
  }

  private async handle<T>(req: KubeRequest): Promise<KubeResponse<T>> {
    const { type, ns, name } = this.route(req.path);
    const res = (s: number, body: unknown) => ({ status: s, body: structuredClone(body) as T });
    const notFound = () =>
      status(404, 'NotFound', `${type.plural} "${name}" not found`, { name, kind: type.plural });

    if (req.method === 'GET' && !name) {
      const q = req.query ?? {};
      const items = [...this.store.values()].filter(
        (o) =>
          o.apiVersion === type.apiVersion &&
          o.kind === type.kind &&
          (!ns || o.metadata.namespace === ns) &&
          matchesSelector(o.metadata.labels, q.labelSelector as string | undefined) &&
          (!q.fieldSelector ||
            (q.fieldSelector as string) ===
              `involvedObject.name=${(o.involvedObject as { name?: string })?.name}`),
      );
      return res(200, {
        kind: `${type.kind}List`,
        metadata: {},
        items: items.map(({ apiVersion, kind, ...rest }) => rest),
      });
    }
    const k = this.key(type, ns, name!);
    const existing = this.store.get(k);
    switch (req.method) {
      case 'GET': {
        if (!existing) throw notFound();
        if (existing.metadata.deletionTimestamp) {
          const left = (this.getsLeft.get(k) ?? 0) - 1;
          this.getsLeft.set(k, left);
          if (left < 0) {
            this.store.delete(k);
            throw notFound();
          }
        }
        return res(200, existing);
      }
      case 'POST': {
        const body = req.body as KubeObject;
        const kk = this.key(type, ns, body.metadata.name);
        if (this.store.has(kk))
          throw status(409, 'AlreadyExists', `${type.plural} "${body.metadata.name}" already exists`, {
            name: body.metadata.name,
            kind: type.plural,
          });
        return res(201, this.put(body));
      }
      case 'PATCH': {
        const body = structuredClone(req.body as KubeObject);
        const apply = req.contentType === 'application/apply-patch+yaml';
        if (!existing) {
          if (!apply) throw notFound();
          return res(201, this.put(body));
        }
        if (
          req.contentType === 'application/strategic-merge-patch+json' &&
          type.apiVersion === 'example.com/v1'
        )
          throw status(415, 'UnsupportedMediaType', '415: Unsupported Media Type');
        if (
          !apply &&
          body.metadata.resourceVersion &&
          body.metadata.resourceVersion !== existing.metadata.resourceVersion
        )
          throw status(
            409,
            'Conflict',
            `Operation cannot be fulfilled on ${type.plural} "${name}": the object has been modified`,
          );
        const { resourceVersion: _rv, ...meta } = body.metadata;
        const merged = { ...existing, ...body, metadata: { ...existing.metadata, ...meta } } as KubeObject;
        const strip = (o: KubeObject) =>
          JSON.stringify({ ...o, metadata: { ...o.metadata, resourceVersion: '' } });
        if (strip(merged) === strip(existing)) return res(200, existing);
        merged.metadata.resourceVersion = String(++this.rv);
        this.store.set(k, merged);
        return res(200, merged);
      }
      case 'DELETE': {
        if (!existing) throw notFound();
        const pre = (req.body as { preconditions?: { uid?: string } } | undefined)?.preconditions?.uid;
        if (pre && pre !== existing.metadata.uid)
          throw status(409, 'Conflict', 'Precondition failed: UID in precondition does not match');
        if (this.deleteAfterGets > 0) {
          existing.metadata.deletionTimestamp = '2026-01-01T00:00:00Z';
          this.getsLeft.set(k, this.deleteAfterGets);
        } else this.store.delete(k);
        return res(200, { kind: 'Status', apiVersion: 'v1', status: 'Success', details: { name } });
      }
      default:
        throw new Error(`fake: ${req.method}`);
    }
  }
}

interface CapturedLog extends Log {
  lines: string[];
}
function captureLog(): CapturedLog {
  const lines: string[] = [];
  return {
    lines,
    info: (m) => void lines.push(`info: ${m}`),
    warning: (m) => void lines.push(`warning: ${m}`),
    debug: (m) => void lines.push(`debug: ${m}`),
  };
}

const cm = (
  name: string,
  data: Record<string, string> = { a: '1' },
  labels: Record<string, string> = {},
): KubeObject => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, namespace: 'ns', labels },
  data,
});
const svc = (name: string): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name, namespace: 'ns' },
  spec: { ports: [{ port: 2375 }] },
});
const deploy = (name: string, extra: Record<string, unknown> = {}): KubeObject => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name, namespace: 'ns' },
  spec: { replicas: 1, ...extra },
});

// ---------------------------------------------------------------------------------------------------------

describe('applyObjects, server-side', () => {
  let k: FakeKube;
  beforeEach(() => {
    k = new FakeKube();
  });
  const opts = { serverSide: true, fieldManager: 'preevy-kube-action' } as const;

  it('sends each raw object as an apply patch, in order, and reports created/unchanged/changed', async () => {
    const objs = [cm('cm'), svc('svc'), deploy('dind', { strategyy: {} })];
    const first = await applyObjects(k, objs, opts);
    expect(first.map((a) => `${a.ref} ${a.action}`)).toEqual([
      'ConfigMap/cm created',
      'Service/svc created',
      'Deployment/dind created',
    ]);
    expect(first[2]?.uid).toMatch(/^uid-/);
    expect(first[2]?.generation).toBe(1);
    const patches = k.requests.filter((r) => r.method === 'PATCH');
    expect(patches.map((r) => r.path)).toEqual([
      '/api/v1/namespaces/ns/configmaps/cm',
      '/api/v1/namespaces/ns/services/svc',
      '/apis/apps/v1/namespaces/ns/deployments/dind',
    ]);
    for (const p of patches) {
      expect(p.contentType).toBe('application/apply-patch+yaml');
      expect(p.query).toMatchObject({ fieldManager: 'preevy-kube-action', force: true });
    }
    // The unknown field reaches the API server: it is the server's to reject.
    expect((patches[2]!.body as { spec: Record<string, unknown> }).spec.strategyy).toEqual({});

    const again = await applyObjects(k, objs, opts);
    expect(again.map((a) => a.action)).toEqual(['unchanged', 'unchanged', 'unchanged']);

    const changed = await applyObjects(k, [cm('cm', { a: '2' }), svc('svc')], opts);
    expect(changed.map((a) => a.action)).toEqual(['changed', 'unchanged']);
  });

  it('fills in the namespace without touching the caller objects; refuses foreign namespaces and cluster kinds', async () => {
    const o = cm('cm');
    delete o.metadata.namespace;
    await applyObjects(k, [o], opts);
    expect(o.metadata.namespace).toBeUndefined();
    expect(k.get({ apiVersion: 'v1', kind: 'ConfigMap' }, 'cm')?.metadata.namespace).toBe('ns');

    const foreign = cm('x');
    foreign.metadata.namespace = 'kube-system';
    await expect(applyObjects(k, [foreign], opts)).rejects.toThrow(/in namespace "kube-system", not in "ns"/);
    const cluster: KubeObject = {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: 'r' },
    };
    await expect(applyObjects(k, [cluster], opts)).rejects.toThrow(/cluster-scoped/);
    const unknown: KubeObject = { apiVersion: 'example.com/v9', kind: 'Gadget', metadata: { name: 'g' } };
    await expect(applyObjects(k, [unknown], opts)).rejects.toThrow(
      /does not serve Gadget in example\.com\/v9/,
    );
  });

  it('checks every object with a dry run first: refusals are reported together and nothing is written', async () => {
    k.refuseDryRun.set(
      'svc',
      status(422, 'Invalid', 'Service "svc" is invalid: spec.ports[0].port: Invalid value: 0'),
    );
    k.refuseDryRun.set(
      'dind',
      status(403, 'Forbidden', 'deployments.apps is forbidden: User "u" cannot patch'),
    );
    const err = await applyObjects(k, [cm('cm'), svc('svc'), deploy('dind')], opts).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApplyError);
    const e = err as ApplyError;
    expect(e.message).toMatch(/refused 2 objects/);
    expect(e.message).toContain('apply Service/svc');
    expect(e.message).toContain('apply Deployment/dind');
    expect(e.hint).toMatch(/Nothing was applied/);
    expect(e.applied).toEqual([]);
    expect(k.requests.filter((r) => r.method !== 'GET')).toEqual([]);
    expect(k.get({ apiVersion: 'v1', kind: 'ConfigMap' }, 'cm')).toBeUndefined();
    expect(k.dryRuns.map((r) => (r.body as KubeObject).metadata.name)).toEqual(['cm', 'svc', 'dind']);
  });

  it('stops at the first failure of the real pass, naming the object and what was already applied', async () => {
    k.inject = (req) =>
      req.method === 'PATCH' && req.path.endsWith('/services/svc')
        ? status(
            422,
            'Invalid',
            'Service "svc" is invalid: spec.ports[0].port: Invalid value: 0: must be between 1 and 65535',
            {
              causes: [
                { field: 'spec.ports[0].port', message: 'Invalid value: 0: must be between 1 and 65535' },
              ],
            },
          )
        : undefined;
    const log = captureLog();
    const err = await applyObjects(k, [cm('cm'), svc('svc'), deploy('dind')], { ...opts, log }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ApplyError);
    const e = err as ApplyError;
    expect(e.message).toMatch(/^apply Service\/svc: Service "svc" is invalid: .* \(Invalid, HTTP 422\)$/);
    expect(e.code).toBe(422);
    expect(e.failed).toBe('Service/svc');
    expect(e.applied.map((a) => a.ref)).toEqual(['ConfigMap/cm']);
    expect(e.hint).toContain('  - spec.ports[0].port: Invalid value: 0');
    expect(e.hint).toContain('Already applied in this run: ConfigMap/cm (created)');
    expect(e.hint).toMatch(/run down to remove it/);
    expect(k.get({ apiVersion: 'apps/v1', kind: 'Deployment' }, 'dind')).toBeUndefined();
    expect(log.lines).toContain('info: ConfigMap/cm created');
  });

  it('rollbackCreated deletes what the failed run created, newest first, by uid', async () => {
    k.put(cm('existing'));
    k.inject = (req) =>
      req.method === 'PATCH' && req.path.endsWith('/deployments/dind')
        ? status(403, 'Forbidden', 'no')
        : undefined;
    const err = await applyObjects(k, [cm('existing'), cm('new1'), svc('new2'), deploy('dind')], opts).catch(
      (e: unknown) => e,
    );
    k.inject = () => undefined;
    const removed = await rollbackCreated(k, err);
    expect(removed).toEqual(['Service/new2', 'ConfigMap/new1']);
    expect(k.get({ apiVersion: 'v1', kind: 'ConfigMap' }, 'existing')).toBeDefined();
    const del = k.requests.filter((r) => r.method === 'DELETE');
    expect(del[0]?.body).toMatchObject({
      propagationPolicy: 'Background',
      preconditions: { uid: expect.stringMatching(/^uid-/) },
    });
    expect(await rollbackCreated(k, new Error('not an apply error'))).toEqual([]);
  });
});

describe('applyObjects, client-side', () => {
  const opts = { serverSide: false, fieldManager: 'preevy-kube-action' } as const;

  it('creates with POST, then patches with the resourceVersion it read', async () => {
    const k = new FakeKube();
    const first = await applyObjects(k, [cm('cm'), deploy('dind')], opts);
    expect(first.map((a) => a.action)).toEqual(['created', 'created']);
    expect(k.requests.filter((r) => r.method === 'POST')[0]?.query).toMatchObject({
      fieldValidation: 'Strict',
    });

    k.requests.length = 0;
    const again = await applyObjects(k, [cm('cm'), deploy('dind', { replicas: 2 })], opts);
    expect(again.map((a) => a.action)).toEqual(['unchanged', 'changed']);
    const patches = k.requests.filter((r) => r.method === 'PATCH');
    expect(patches.map((p) => p.contentType)).toEqual([
      'application/strategic-merge-patch+json',
      'application/strategic-merge-patch+json',
    ]);
    expect((patches[0]!.body as KubeObject).metadata.resourceVersion).toMatch(/^\d+$/);
  });

  it('uses a merge patch for custom resources, and retries a conflict', async () => {
    const k = new FakeKube();
    const widget: KubeObject = {
      apiVersion: 'example.com/v1',
      kind: 'Widget',
      metadata: { name: 'w', namespace: 'ns' },
      spec: { size: 1 },
    };
    await applyObjects(k, [widget], opts);
    let conflicts = 1;
    k.inject = (req) => {
      if (req.method === 'PATCH' && conflicts > 0) {
        conflicts--;
        return status(409, 'Conflict', 'the object has been modified');
      }
      return undefined;
    };
    const r = await applyObjects(k, [{ ...widget, spec: { size: 2 } }], opts);
    expect(r[0]?.action).toBe('changed');
    expect(k.requests.filter((x) => x.method === 'PATCH').map((x) => x.contentType)).toEqual([
      'application/merge-patch+json',
      'application/merge-patch+json',
    ]);
  });
});

describe('discovery', () => {
  it('scopeOf and a synchronous resolver', async () => {
    const k = new FakeKube();
    expect(await k.scopeOf({ apiVersion: 'v1', kind: 'ConfigMap' })).toBe('Namespaced');
    expect(await k.scopeOf({ apiVersion: 'v1', kind: 'Namespace' })).toBe('Cluster');
    expect(await k.scopeOf({ apiVersion: 'nope/v1', kind: 'X' })).toBeUndefined();
    const resolve = await scopeResolver(k, [{ apiVersion: 'apps/v1', kind: 'Deployment' }]);
    expect(resolve({ apiVersion: 'apps/v1', kind: 'Deployment' })).toBe('Namespaced');
    expect(resolve({ apiVersion: 'v1', kind: 'Secret' })).toBeUndefined();
  });
});

// ---------------------------------------------------------------------------------------------------------

const ENV = 'shop-pr-2';
const envLabels = (envId: string, id: string) => ({
  'preevy.dev/env-id': envId,
  'preevy.dev/instance': id,
  'app.kubernetes.io/managed-by': 'preevy-kube-action',
});

function dockerHost(envId: string, id: string, extra: Partial<KubeObject['metadata']> = {}): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name: `${id}-dind`,
      namespace: 'ns',
      labels: { ...envLabels(envId, id), 'app.kubernetes.io/component': 'docker-host' },
      annotations: {
        'preevy.dev/created-at': '2026-01-01T00:00:00.000Z',
        'preevy.dev/all-types': 'apps/v1/Deployment,example.com/v1/Widget,v1/ConfigMap,v1/Service',
      },
      ...extra,
    },
    spec: { replicas: 1 },
  };
}

describe('findEnvironment', () => {
  it('finds the docker host by labels and reads id, types and created-at', async () => {
    const k = new FakeKube();
    k.put(dockerHost(ENV, `${ENV}-abcde`));
    k.put(dockerHost('shop-pr-3', 'shop-pr-3-zzzzz'));
    const found = await findEnvironment(k, { namespace: 'ns', envId: ENV });
    expect(found?.id).toBe(`${ENV}-abcde`);
    expect(found?.createdAt).toBe('2026-01-01T00:00:00.000Z');
    expect(found?.types.map(typeKey).sort()).toEqual([
      'apps/v1/Deployment',
      'example.com/v1/Widget',
      'v1/ConfigMap',
      'v1/Service',
    ]);
    const list = k.requests.find((r) => r.method === 'GET');
    expect(list?.path).toBe('/apis/apps/v1/namespaces/ns/deployments');
    expect(list?.query?.labelSelector).toBe(
      `preevy.dev/env-id=${ENV},app.kubernetes.io/managed-by=preevy-kube-action,app.kubernetes.io/component=docker-host`,
    );
    expect(await findEnvironment(k, { namespace: 'ns', envId: 'shop-pr-9' })).toBeUndefined();
  });

  it('two live instances are an IdentityError naming both; a terminating one does not count', async () => {
    const k = new FakeKube();
    k.put(dockerHost(ENV, `${ENV}-aaaaa`));
    k.put(dockerHost(ENV, `${ENV}-bbbbb`, { deletionTimestamp: '2026-01-02T00:00:00Z' }));
    expect((await findEnvironment(k, { namespace: 'ns', envId: ENV }))?.id).toBe(`${ENV}-aaaaa`);
    expect(
      (await listDockerHosts(k, { namespace: 'ns', envId: ENV })).map((h) => h.terminating).sort(),
    ).toEqual([false, true]);

    const b = k.get({ apiVersion: 'apps/v1', kind: 'Deployment' }, `${ENV}-bbbbb-dind`)!;
    delete b.metadata.deletionTimestamp;
    const err = await findEnvironment(k, { namespace: 'ns', envId: ENV }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IdentityError);
    const msg = (err as IdentityError).message;
    expect(msg).toContain(`Deployment/${ENV}-aaaaa-dind (id ${ENV}-aaaaa, created 2026-01-01T00:00:00.000Z)`);
    expect(msg).toContain(`Deployment/${ENV}-bbbbb-dind (id ${ENV}-bbbbb`);
    expect((err as IdentityError).hint).toMatch(/down/);
  });

  it('refuses an env id that is not a label value', async () => {
    await expect(findEnvironment(new FakeKube(), { namespace: 'ns', envId: 'a,b=c' })).rejects.toThrow(
      /not a valid label value/,
    );
  });

  it('parseAllTypes reads comma lists and JSON arrays', () => {
    expect(parseAllTypes('apps/v1/Deployment, v1/Service').map(typeKey)).toEqual([
      'apps/v1/Deployment',
      'v1/Service',
    ]);
    expect(parseAllTypes('["v1/ConfigMap","bad"]').map(typeKey)).toEqual(['v1/ConfigMap']);
    expect(parseAllTypes(undefined)).toEqual([]);
  });
});

describe('deleteEnvironment', () => {
  let k: FakeKube;
  const other = envLabels('shop-pr-3', 'shop-pr-3-zzzzz');
  const mine = envLabels(ENV, `${ENV}-abcde`);
  beforeEach(() => {
    k = new FakeKube();
    k.put(dockerHost(ENV, `${ENV}-abcde`));
    k.put(cm('cfg', {}, mine));
    k.put({ ...svc('svc'), metadata: { name: 'svc', namespace: 'ns', labels: mine } });
    k.put({
      apiVersion: 'example.com/v1',
      kind: 'Widget',
      metadata: { name: 'w', namespace: 'ns', labels: mine },
    });
    k.put({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: `${ENV}-abcde-dind-123-xyz`,
        namespace: 'ns',
        labels: mine,
        ownerReferences: [
          { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'rs', uid: 'u', controller: true },
        ],
      },
    });
    k.put(dockerHost('shop-pr-3', 'shop-pr-3-zzzzz'));
    k.put(cm('neighbour', {}, other));
    k.put(cm('unrelated'));
    k.put(cm('elsewhere', {}, mine));
    k.get({ apiVersion: 'v1', kind: 'ConfigMap' }, 'elsewhere')!.metadata.namespace = 'other';
  });

  it('deletes exactly the env objects in the namespace, workloads first, and waits until they are gone', async () => {
    const log = captureLog();
    k.deleteAfterGets = 1;
    const types = parseAllTypes(dockerHost(ENV, 'x').metadata.annotations?.['preevy.dev/all-types']);
    const r = await deleteEnvironment(k, {
      namespace: 'ns',
      envId: ENV,
      types,
      timeoutMs: 5000,
      pollMs: 5,
      log,
    });
    expect(r.deleted).toEqual([`Deployment/${ENV}-abcde-dind`, 'Widget/w', 'Service/svc', 'ConfigMap/cfg']);
    expect(r.pending).toEqual([]);
    const left = [...k.store.values()].map((o) => `${o.kind}/${o.metadata.name}`).sort();
    expect(left).toEqual([
      'ConfigMap/elsewhere',
      'ConfigMap/neighbour',
      'ConfigMap/unrelated',
      'Deployment/shop-pr-3-zzzzz-dind',
      // Owned by its ReplicaSet: garbage collection removes it with the Deployment, we do not.
      `Pod/${ENV}-abcde-dind-123-xyz`,
    ]);
    for (const req of k.requests) expect(req.path).toMatch(/^\/apis?\/.*\/namespaces\/ns\//);
    for (const list of k.requests.filter((x) => x.method === 'GET' && x.query?.labelSelector !== undefined)) {
      expect(list.query?.labelSelector).toBe(
        `preevy.dev/env-id=${ENV},app.kubernetes.io/managed-by=preevy-kube-action`,
      );
      expect(list.path).toMatch(/\/namespaces\/ns\/[a-z]+$/);
    }
    const dels = k.requests.filter((x) => x.method === 'DELETE');
    for (const d of dels) {
      expect(d.query).toMatchObject({ propagationPolicy: 'Foreground' });
      expect(d.body).toMatchObject({
        propagationPolicy: 'Foreground',
        preconditions: { uid: expect.any(String) },
      });
    }

    // Idempotent.
    const again = await deleteEnvironment(k, {
      namespace: 'ns',
      envId: ENV,
      types,
      timeoutMs: 1000,
      pollMs: 5,
    });
    expect(again.deleted).toEqual([]);
  });

  it('skips objects the server returns without the env label, and kinds the cluster does not serve', async () => {
    k.served.delete('example.com/v1/Widget');
    // A server that ignores the selector for ConfigMaps.
    k.inject = (req) => {
      if (req.method === 'GET' && req.path.endsWith('/configmaps') && req.query?.labelSelector) {
        const items = [...k.store.values()].filter(
          (o) => o.kind === 'ConfigMap' && o.metadata.namespace === 'ns',
        );
        return { status: 200, body: { items } };
      }
      return undefined;
    };
    const log = captureLog();
    const r = await deleteEnvironment(k, {
      namespace: 'ns',
      envId: ENV,
      types: [{ apiVersion: 'example.com/v1', kind: 'Widget' }],
      timeoutMs: 1000,
      pollMs: 5,
      log,
    });
    expect(r.deleted).toEqual([`Deployment/${ENV}-abcde-dind`, 'Service/svc', 'ConfigMap/cfg']);
    expect(k.get({ apiVersion: 'v1', kind: 'ConfigMap' }, 'neighbour')).toBeDefined();
    expect(k.get({ apiVersion: 'v1', kind: 'ConfigMap' }, 'unrelated')).toBeDefined();
    expect(log.lines.join('\n')).toMatch(/warning: ConfigMap\/neighbour was returned .* left alone/);
  });

  it('skips a default kind it may not list when the environment did not record it', async () => {
    k.inject = (req) =>
      req.method === 'GET' && req.path.endsWith('/secrets')
        ? status(403, 'Forbidden', 'secrets is forbidden: User "u" cannot list resource "secrets"')
        : undefined;
    const r = await deleteEnvironment(k, {
      namespace: 'ns',
      envId: ENV,
      types: [],
      timeoutMs: 1000,
      pollMs: 5,
    });
    expect(r.deleted.length).toBeGreaterThan(0);
  });

  it('collects 403s on list and delete, deletes the rest, and reports once', async () => {
    k.inject = (req) => {
      if (req.method === 'GET' && req.path.endsWith('/secrets'))
        return status(
          403,
          'Forbidden',
          'secrets is forbidden: User "system:serviceaccount:ns:ci" cannot list resource "secrets" in API group "" in the namespace "ns"',
        );
      if (req.method === 'DELETE' && req.path.endsWith('/services/svc'))
        return status(
          403,
          'Forbidden',
          'services "svc" is forbidden: User "system:serviceaccount:ns:ci" cannot delete resource "services" in API group "" in the namespace "ns"',
        );
      return undefined;
    };
    const err = await deleteEnvironment(k, {
      namespace: 'ns',
      envId: ENV,
      // Recorded: a refused list of it is a failure. (An unrecorded default kind would just be skipped.)
      types: [{ apiVersion: 'v1', kind: 'Secret' }],
      timeoutMs: 1000,
      pollMs: 5,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KubeApiError);
    const e = err as KubeApiError;
    expect(e.code).toBe(403);
    expect(e.message).toMatch(/failed for 2 request\(s\)/);
    expect(e.message).toMatch(/list Secret \(preevy\.dev\/env-id=shop-pr-2,[^)]*\): secrets is forbidden/);
    expect(e.message).toMatch(/delete Service\/svc: services "svc" is forbidden/);
    expect(e.message).toContain(`Deleted: Deployment/${ENV}-abcde-dind, ConfigMap/cfg.`);
    expect(e.hint).toContain('lacks verb "list" on resource "secrets"');
    expect(e.hint).toContain('lacks verb "delete" on resource "services"');
    expect(e.hint).toMatch(/again .* is safe/);
    expect(k.get({ apiVersion: 'v1', kind: 'ConfigMap' }, 'cfg')).toBeUndefined();
  });

  it('a bounded wait: objects still terminating are reported as pending', async () => {
    k.deleteAfterGets = 1_000_000;
    const log = captureLog();
    const r = await deleteEnvironment(k, {
      namespace: 'ns',
      envId: ENV,
      types: [],
      timeoutMs: 50,
      pollMs: 10,
      log,
    });
    expect(r.pending).toEqual(r.deleted);
    expect(log.lines.join('\n')).toMatch(/warning: Still being deleted after 0s/);
  });

  it('deletionTypes: defaults plus recorded kinds, deduplicated, workloads first and RBAC last', () => {
    const order = deletionTypes([
      { apiVersion: 'example.com/v1', kind: 'Widget' },
      { apiVersion: 'v1', kind: 'Service' },
    ]).map(typeKey);
    expect(order[0]).toBe('apps/v1/Deployment');
    expect(order.at(-1)).toBe('v1/ServiceAccount');
    expect(order.filter((t) => t === 'v1/Service')).toHaveLength(1);
    expect(order.indexOf('example.com/v1/Widget')).toBeLessThan(order.indexOf('v1/Service'));
    expect(order.indexOf('v1/Pod')).toBeLessThan(order.indexOf('v1/ConfigMap'));
  });
});

// ---------------------------------------------------------------------------------------------------------

const fixtures = path.join(import.meta.dirname, '../fixtures/kube-api');
function fixture(num: string): { response: { body: unknown; stream?: Array<{ object: KubeObject }> } } {
  const file = readdirSync(fixtures).find((f) => f.startsWith(`${num}-`))!;
  return JSON.parse(readFileSync(path.join(fixtures, file), 'utf8'));
}

describe('waitForRollout', () => {
  function serving(seq: KubeObject[], k = new FakeKube('fixtures')): FakeKube {
    let i = 0;
    const prev = k.inject;
    k.inject = (req) => {
      if (req.method === 'GET' && /\/deployments\/[^/]+$/.test(req.path)) {
        const d = seq[Math.min(i++, seq.length - 1)]!;
        return { status: 200, body: d };
      }
      return prev(req);
    };
    return k;
  }

  it('follows the recorded Recreate rollout to the end, logging only changes', async () => {
    const seq = (fixture('017').response.stream ?? []).map((e) => e.object);
    const log = captureLog();
    const k = serving([...seq.slice(0, 3), seq[2]!, ...seq.slice(3)]);
    const d = await waitForRollout(k, {
      namespace: 'fixtures',
      name: 'web',
      timeoutMs: 10_000,
      pollMs: 1,
      log,
    });
    expect(d.status).toMatchObject({ availableReplicas: 1, updatedReplicas: 1, observedGeneration: 2 });
    const infos = log.lines.filter((l) => l.startsWith('info:'));
    expect(new Set(infos).size).toBe(infos.length);
    expect(infos.at(-1)).toMatch(/Deployment web rolled out: 1 of 1 replicas available/);
  });

  it('fails fast on ProgressDeadlineExceeded with the pod reasons and events', async () => {
    const k = new FakeKube('fixtures');
    k.put(fixture('084').response.body as KubeObject);
    (fixture('090').response.body as { items: KubeObject[] }).items.forEach((e, i) => {
      k.put({
        ...e,
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { ...e.metadata, name: `${e.metadata.name}-${i}` },
      });
    });
    serving([fixture('087').response.body as KubeObject], k);
    const err = await waitForRollout(k, {
      namespace: 'fixtures',
      name: 'img-missing',
      timeoutMs: 10_000,
      pollMs: 1,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ReadinessError);
    const e = err as ReadinessError;
    expect(e.message).toMatch(
      /^Deployment img-missing exceeded its progress deadline \(ProgressDeadlineExceeded\)/,
    );
    expect(e.message).toContain('Container app: waiting: ErrImageNeverPull');
    expect(e.message).toMatch(/Warning ErrImageNeverPull \(x3\)/);
    expect(e.hint).toMatch(/cannot be pulled/);
    const podList = k.requests.find((r) => r.path === '/api/v1/namespaces/fixtures/pods');
    expect(podList?.query?.labelSelector).toBe('app=img-missing');
  });

  it('retries transient errors until the deadline', async () => {
    const done = fixture('013').response.body as KubeObject;
    const k = new FakeKube('fixtures');
    let failures = 3;
    k.inject = (req) => {
      if (failures-- > 0) return status(503, 'ServiceUnavailable', 'etcd leader changed');
      if (req.method === 'GET') return { status: 200, body: done };
      return undefined;
    };
    const log = captureLog();
    await waitForRollout(k, { namespace: 'fixtures', name: 'web', timeoutMs: 10_000, pollMs: 1, log });
    expect(log.lines.filter((l) => /^debug: .*etcd leader changed.*retrying/.test(l))).toHaveLength(3);
  });

  it('a 403 fails at once; a missing Deployment fails; a timeout carries the last state', async () => {
    const k = new FakeKube('fixtures');
    k.inject = () =>
      status(
        403,
        'Forbidden',
        'deployments.apps "web" is forbidden: User "x" cannot get resource "deployments" in API group "apps" in the namespace "fixtures"',
      );
    await expect(
      waitForRollout(k, { namespace: 'fixtures', name: 'web', timeoutMs: 10_000, pollMs: 1 }),
    ).rejects.toThrow(/forbidden/);
    await expect(
      waitForRollout(new FakeKube('fixtures'), {
        namespace: 'fixtures',
        name: 'web',
        timeoutMs: 10_000,
        pollMs: 1,
      }),
    ).rejects.toThrow(/does not exist/);
    const rolling = serving([fixture('012').response.body as KubeObject]);
    const err = await waitForRollout(rolling, {
      namespace: 'fixtures',
      name: 'web',
      timeoutMs: 30,
      pollMs: 5,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ReadinessError);
    expect((err as Error).message).toMatch(
      /did not become ready within 0s \(Deployment web: 0 of 1 updated replicas available\)/,
    );
  });

  it('ReplicaFailure that lasts fails the wait', async () => {
    const d = structuredClone(fixture('012').response.body as KubeObject);
    (d.status as { conditions: unknown[] }).conditions.push({
      type: 'ReplicaFailure',
      status: 'True',
      reason: 'FailedCreate',
      // A quota: a Pod Security refusal fails at once, with its own message (test/integration/failfast.test.ts).
      message:
        'pods "web-1" is forbidden: exceeded quota: compute, requested: cpu=1, used: cpu=2, limited: cpu=2',
    });
    const err = await waitForRollout(serving([d]), {
      namespace: 'fixtures',
      name: 'web',
      timeoutMs: 10_000,
      pollMs: 1,
      replicaFailureGraceMs: 0,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ReadinessError);
    expect((err as ReadinessError).message).toMatch(/cannot create its pods: FailedCreate: .*exceeded quota/);
    expect((err as ReadinessError).hint).toMatch(/a quota/);
  });
});
