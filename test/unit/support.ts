/**
 * What the unit tests share: recorded API exchanges (test/fixtures), a log that keeps its lines, a KubeClient for a
 * fake HTTPS API server, and FakeKube, an in-memory KubeClient for the environment's operations.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import type { AddressInfo, Server } from 'node:net';
import path from 'node:path';
import { ApiException, KubeConfig } from '@kubernetes/client-node';
import { beforeAll, describe } from 'vitest';
import type { WebSocket, WebSocketServer } from 'ws';
import {
  type ApiResource,
  createKubeClient,
  type KubeClient,
  type KubeRequest,
  type KubeResponse,
} from '../../src/kube/client.js';
import { scopeOf } from '../../src/kube/discovery.js';
import { type KubeObject, type TypeRef, typeKey } from '../../src/kube/types.js';
import type { Log } from '../../src/util/log.js';
import { simCerts } from '../sim/kube/certs.js';
import { prng, WIRE_TEST_MODES, type WireMode } from '../sim/kubelet/wire.js';

/** A KubeClient for a fake API server that serves the simulator's certificate and expects `token`. */
export function fakeApiClient(serverUrl: string, token: string, namespace = 'ns'): Promise<KubeClient> {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [
      {
        name: 'c',
        server: serverUrl,
        caData: Buffer.from(simCerts().caPem).toString('base64'),
        skipTLSVerify: false,
      },
    ],
    users: [{ name: 'u', token }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  return createKubeClient(kc, { server: serverUrl, namespace });
}

/** Whether this machine has the docker CLI's compose plugin (the suites that run compose skip without it). */
export const hasCompose = (() => {
  try {
    execFileSync('docker', ['compose', 'version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

/** How a fake server's frames reach the client's reads (test/sim/kubelet/wire.ts) in the run under way. */
export interface WireRun {
  mode: WireMode;
  rand: () => number;
}

/**
 * Every test of `body` under each wire mode: the first frames in the 101's read, as a real cluster sends them, and
 * frames cut and grouped at random across reads. The fake server shapes its frames by the returned WireRun.
 */
export function describeWireModes(body: () => void): WireRun {
  const wire: WireRun = { mode: 'recorded', rand: prng(1) };
  describe.each(WIRE_TEST_MODES)('wire: %s', (mode) => {
    beforeAll(() => {
      Object.assign(wire, { mode, rand: prng(11) });
    });
    body();
  });
  return wire;
}

/** The error `fn` throws, which must be a `type` (the tests then read its message and hint). */
// biome-ignore lint/suspicious/noExplicitAny: any error class, whatever its constructor takes
export function thrownBy<E extends Error>(type: new (...args: any[]) => E, fn: () => unknown): E {
  try {
    fn();
  } catch (err) {
    if (!(err instanceof type)) throw new Error(`expected a ${type.name}, got ${String(err)}`);
    return err;
  }
  throw new Error(`expected a ${type.name}`);
}

/** Starts a fake API server on a free loopback port; gives a KubeClient for it that presents `token`. */
export async function serveFakeApi(server: Server, token: string): Promise<KubeClient> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return fakeApiClient(`https://127.0.0.1:${(server.address() as AddressInfo).port}`, token);
}

/** A slow reader: stops reading `ws` for 400 ms (its peer must stop sending meanwhile), then `onResume`, and reads on. */
export function pauseReading(ws: WebSocket, onResume: () => void): void {
  ws.pause();
  setTimeout(() => {
    onResume();
    ws.resume();
  }, 400);
}

/** Ends a fake API server's WebSockets, then the server, then the client (any may be missing after a failed start). */
export async function closeFakeApi(
  wss: WebSocketServer | undefined,
  servers: Array<Server | undefined>,
  client: KubeClient | undefined,
): Promise<void> {
  for (const ws of wss?.clients ?? []) ws.terminate();
  wss?.close();
  await Promise.all(servers.map((s) => new Promise((r) => (s ? s.close(r) : r(undefined)))));
  await client?.close();
}

// ---------------------------------------------------------------------------------------------------------
// Recorded exchanges: test/fixtures/kube-api (a kind cluster) and test/fixtures/kube-real-2 (a real one)

export interface StreamEntry {
  type?: string;
  object?: KubeObject;
  channel?: number;
  length?: number;
  payloadJson?: unknown;
  payloadText?: string;
}
export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: Record<string, string>;
  body: unknown;
}
export interface Recorded<B = unknown> {
  request: RecordedRequest;
  response: { status: number; headers: Record<string, string>; body: B; stream?: StreamEntry[] };
}

const FIXTURES = path.join(import.meta.dirname, '../fixtures');

/** The recorded exchange numbered `num` (its file name's prefix, or the whole file name). */
export function recorded<B = unknown>(
  num: string,
  folder: 'kube-api' | 'kube-real-2' = 'kube-api',
): Recorded<B> {
  const dir = path.join(FIXTURES, folder);
  const file = readdirSync(dir).find((f) => f === num || f.startsWith(`${num}-`));
  if (!file) throw new Error(`no fixture ${num} in ${dir}`);
  return JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as Recorded<B>;
}

/** The body the server answered in the recorded exchange `num`. */
export function recordedBody<T = unknown>(num: string, folder: 'kube-api' | 'kube-real-2' = 'kube-api'): T {
  return recorded(num, folder).response.body as T;
}

// ---------------------------------------------------------------------------------------------------------
// FakeKube: an in-memory API server behind the KubeClient interface

export interface FakeType extends TypeRef {
  plural: string;
  namespaced: boolean;
}

export const TYPES: FakeType[] = [
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

export type Injected = KubeResponse<unknown> | Error | undefined;

export function status(
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

export function matchesSelector(
  labels: Record<string, string> | undefined,
  selector: string | undefined,
): boolean {
  if (!selector) return true;
  return selector.split(',').every((req) => {
    const [k, v] = req.split('=');
    return k !== undefined && labels?.[k] === v;
  });
}

export class FakeKube implements KubeClient {
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

export interface CapturedLog extends Log {
  lines: string[];
}
/** A log that keeps its lines; `info: ` tags and debug lines are optional, as each suite's assertions read them. */
export function captureLog(opts: { tagInfo?: boolean; debug?: boolean } = {}): CapturedLog {
  const { tagInfo = true, debug = true } = opts;
  const lines: string[] = [];
  return {
    lines,
    info: (m) => void lines.push(tagInfo ? `info: ${m}` : m),
    warning: (m) => void lines.push(`warning: ${m}`),
    debug: debug ? (m) => void lines.push(`debug: ${m}`) : () => {},
  };
}

export const cm = (
  name: string,
  data: Record<string, string> = { a: '1' },
  labels: Record<string, string> = {},
): KubeObject => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, namespace: 'ns', labels },
  data,
});
export const svc = (name: string): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name, namespace: 'ns' },
  spec: { ports: [{ port: 2375 }] },
});
export const deploy = (name: string, extra: Record<string, unknown> = {}): KubeObject => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name, namespace: 'ns' },
  spec: { replicas: 1, ...extra },
});

// ---------------------------------------------------------------------------------------------------------

export const ENV = 'shop-pr-2';
export const envLabels = (envId: string, id: string) => ({
  'preevy.dev/env-id': envId,
  'preevy.dev/instance': id,
  'app.kubernetes.io/managed-by': 'preevy-kube-action',
});

export function dockerHost(
  envId: string,
  id: string,
  extra: Partial<KubeObject['metadata']> = {},
): KubeObject {
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
