/** FakeKube: an in-memory API server behind the KubeClient interface, for the environment's operations. */
import { ApiException, KubeConfig } from '@kubernetes/client-node';
import type { ApiResource, KubeClient, KubeRequest, KubeResponse } from '../../src/kube/client.js';
import { scopeOf } from '../../src/kube/discovery.js';
import { type KubeObject, type TypeRef, typeKey } from '../../src/kube/types.js';

export interface FakeType extends TypeRef {
  plural: string;
  namespaced: boolean;
}

const fakeType = (apiVersion: string, kind: string, namespaced = true): FakeType => ({
  apiVersion,
  kind,
  plural: `${kind.toLowerCase()}s`,
  namespaced,
});
const RBAC = 'rbac.authorization.k8s.io/v1';

export const TYPES: FakeType[] = [
  ...['ConfigMap', 'Secret', 'Service', 'Pod', 'Event', 'ServiceAccount', 'PersistentVolumeClaim'].map(
    (kind) => fakeType('v1', kind),
  ),
  fakeType('v1', 'Namespace', false),
  ...['Deployment', 'ReplicaSet', 'StatefulSet'].map((kind) => fakeType('apps/v1', kind)),
  fakeType(RBAC, 'Role'),
  fakeType(RBAC, 'ClusterRole', false),
  fakeType('example.com/v1', 'Widget'),
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
