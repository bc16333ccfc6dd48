/**
 * The HTTPS front of the simulator: the filter chain of a real kube-apiserver (faults, authentication,
 * request-info parsing, authorization) and then the REST handlers, in the order that decides which error a
 * client sees first (an unknown resource asked by a user with no rights is a 403, as on a real server).
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { STATUS_CODES } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { type WebSocket, WebSocketServer } from 'ws';
import { parse as parseYaml } from 'yaml';
import { randomSuffix } from './admission.js';
import type { ApplyResult, Codecs } from './codecs.js';
import { errors, type StatusBody, StatusError } from './errors.js';
import { confirmRbacWrite, type RbacWrite } from './escalation.js';
import type { AuditEntry, CutAction, Faults } from './faults.js';
import { enforcePodSecurity, workloadWarning } from './podsecurity.js';
import type { Attributes, Authenticator, Authorizer, Identity } from './rbac.js';
import { apiVersionOf, type Discovery } from './resources.js';
import { compileSelector } from './selectors.js';
import { canonicalize, clone, type MemoryStore, rfc3339 } from './store.js';
import type { ResourceType, SimObject } from './types.js';
import { WatchRegistry } from './watch.js';
import { type FirstFrames, shapeWire, type WireMode } from './ws/wire.js';

export type UpgradeKind = 'exec' | 'portforward' | 'attach';

export interface UpgradeContext {
  req: IncomingMessage;
  socket: Duplex;
  head: Buffer;
  pod: SimObject;
  /** Parsed query; repeated parameters (exec `command`) via getAll. */
  query: URLSearchParams;
  user: string;
  /**
   * Completes the WebSocket handshake (ws, noServer), answering with `protocol` (or none). `firstFrames` says
   * whether the frames the handler sends at once share the 101's write on this endpoint of a real cluster.
   */
  accept(protocol: string | undefined, firstFrames: FirstFrames): Promise<WebSocket>;
  /**
   * Refuses the upgrade with a plain HTTP answer: an object is sent as JSON, a string as text/plain unless
   * `contentType` says otherwise ('' sends no Content-Type, as the kubelet's empty 403 of fixture 107).
   */
  reject(status: number, body?: unknown, contentType?: string): void;
}

export type UpgradeHandler = (ctx: UpgradeContext) => void | Promise<void>;

export interface ServerDeps {
  store: MemoryStore;
  discovery: Discovery;
  authn: Authenticator;
  authz: Authorizer;
  faults: Faults;
  audit: AuditEntry[];
  codecs: Codecs;
  upgradeHandlers: Map<UpgradeKind, UpgradeHandler>;
  wire: { mode: WireMode; rand: () => number };
  /** `pods/log`: what the kubelet would stream (logs.ts); without it the subresource is NotFound. */
  podLog?: (pod: SimObject, query: URLSearchParams) => string;
}

interface Reply {
  status: number;
  body: unknown;
  contentType?: string;
  headers?: Record<string, string | string[]>;
}

/** A resource request as the RequestInfoFactory sees it. */
interface ResourcePath {
  group: string;
  version: string;
  namespace?: string;
  resource: string;
  name?: string;
  subresource?: string;
  watch: boolean;
}

interface Ctx {
  req: IncomingMessage;
  method: string;
  url: URL;
  body: Buffer;
  id: Identity;
  upgrade?: { socket: Duplex; head: Buffer };
  warnings: string[];
  entry: AuditEntry;
  /** A `cut` fault: the answer, or the upgraded connection, is cut mid-stream. */
  cut?: CutAction;
}

const JSON_TYPE = 'application/json';
const AGGREGATED_TYPE = 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList';
const MAX_BODY = 64 * 1024 * 1024;

function queryObject(q: URLSearchParams): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const k of new Set(q.keys())) {
    const all = q.getAll(k);
    out[k] = all.length === 1 ? (all[0] as string) : all;
  }
  return out;
}

function boolParam(v: string | null): boolean {
  return v === 'true' || v === '1';
}

/** `Warning: 299 - "text"`, quoting as net/http's warning writer does. */
function warningHeader(text: string): string {
  return `299 - "${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Removes `spec.template.spec.containers[0].bogusField` style paths (what the Go decoder drops). */
export function dropPath(obj: unknown, path: string): void {
  const parts: Array<string | number> = [];
  for (const m of path.matchAll(/([^.[\]]+)|\[(\d+)\]/g))
    parts.push(m[2] !== undefined ? Number(m[2]) : (m[1] as string));
  let cur: unknown = obj;
  for (const p of parts.slice(0, -1)) {
    if (typeof p === 'number') cur = Array.isArray(cur) ? cur[p] : undefined;
    else cur = isObject(cur) ? cur[p] : undefined;
    if (cur === undefined) return;
  }
  const last = parts[parts.length - 1];
  if (last !== undefined && isObject(cur)) delete cur[String(last)];
}

/** The field manager of a non-apply write: the query, else the User-Agent up to its first `/`. */
export function fieldManagerFor(req: IncomingMessage, q: URLSearchParams): string {
  const explicit = q.get('fieldManager');
  if (explicit) return explicit;
  const ua = req.headers['user-agent'];
  if (!ua) return 'unknown';
  return (ua.split('/')[0] as string).slice(0, 128) || 'unknown';
}

// Served template paths whose embedded ObjectMeta Go serializes with `creationTimestamp: null`.
const TEMPLATE_PATHS: Record<string, string[][]> = {
  'apps/deployments': [['spec', 'template']],
  'apps/replicasets': [['spec', 'template']],
  'apps/statefulsets': [['spec', 'template']],
  'apps/daemonsets': [['spec', 'template']],
  'batch/jobs': [['spec', 'template']],
  'batch/cronjobs': [
    ['spec', 'jobTemplate'],
    ['spec', 'jobTemplate', 'spec', 'template'],
  ],
  '/replicationcontrollers': [['spec', 'template']],
  '/podtemplates': [['template']],
};

const META_ORDER = [
  'name',
  'generateName',
  'namespace',
  'uid',
  'resourceVersion',
  'generation',
  'creationTimestamp',
  'labels',
  'annotations',
];

/** Mirrors Go serialization quirks so stored objects read like a real server's. */
export function goSerialize(t: ResourceType, obj: SimObject): void {
  for (const path of TEMPLATE_PATHS[`${t.group}/${t.resource}`] ?? []) {
    let cur: unknown = obj;
    for (const p of path) cur = isObject(cur) ? cur[p] : undefined;
    if (!isObject(cur)) continue;
    const meta = isObject(cur.metadata) ? cur.metadata : {};
    if (!('creationTimestamp' in meta)) meta.creationTimestamp = null;
    const ordered: Record<string, unknown> = {};
    for (const k of META_ORDER) if (k in meta) ordered[k] = meta[k];
    for (const [k, v] of Object.entries(meta)) if (!(k in ordered)) ordered[k] = v;
    cur.metadata = ordered;
  }
}

export class ApiServer {
  readonly server: Server;
  readonly watches = new WatchRegistry();
  private readonly sockets = new Set<Duplex>();
  /** The subprotocol an upgrade handler chose for a request; ws answers with it. */
  private readonly chosenProtocol = new WeakMap<IncomingMessage, string>();
  private readonly wss = new WebSocketServer({
    noServer: true,
    perMessageDeflate: false,
    handleProtocols: (_offered, req) => this.chosenProtocol.get(req) ?? false,
  });
  private seq = 0;

  constructor(
    private readonly deps: ServerDeps,
    tls: { key: string; cert: string },
  ) {
    this.server = createServer({ key: tls.key, cert: tls.cert });
    this.server.on('connection', (s: Socket) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    this.server.on('secureConnection', (s: Socket) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    this.server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      void this.onRequest(req, res);
    });
    this.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
      socket.on('error', () => socket.destroy());
      void this.onUpgrade(req, socket, head);
    });
  }

  listen(port: number, host: string): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        const addr = this.server.address();
        resolve(typeof addr === 'object' && addr ? addr.port : port);
      });
    });
  }

  async close(): Promise<void> {
    this.watches.closeAll();
    for (const c of this.wss.clients) c.terminate();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    for (const s of this.sockets) s.destroy();
    await closed;
  }

  // ---- entry points

  private audit(req: IncomingMessage, url: URL): AuditEntry {
    const e: AuditEntry = {
      seq: ++this.seq,
      time: new Date().toISOString(),
      method: req.method ?? 'GET',
      path: url.pathname,
      query: queryObject(url.searchParams),
      status: 0,
    };
    if (req.headers['user-agent']) e.userAgent = req.headers['user-agent'];
    this.deps.audit.push(e);
    return e;
  }

  /** Faults, then authentication. Returns the identity, or undefined when a reply was already decided. */
  private async front(
    req: IncomingMessage,
    url: URL,
    entry: AuditEntry,
    drop: () => void,
  ): Promise<{ id: Identity; cut?: CutAction } | { reply: Reply } | undefined> {
    const d = this.deps.faults.decide(req.method ?? 'GET', url.pathname, url.search.replace(/^\?/, ''));
    if (d.rules.length)
      entry.fault = d.fail
        ? d.fail.type === 'status'
          ? `status ${d.fail.code}`
          : d.fail.type
        : `latency ${d.latencyMs}ms`;
    if (d.latencyMs > 0) await new Promise((r) => setTimeout(r, d.latencyMs));
    if (d.fail?.type === 'drop') {
      drop();
      return undefined;
    }
    if (d.fail?.type === 'status') {
      const code = d.fail.code;
      let e: StatusError;
      const headers: Record<string, string> = {};
      if (code === 429) {
        const after = d.fail.retryAfterSeconds ?? 1;
        e = errors.tooManyRequests(after);
        headers['Retry-After'] = String(after);
      } else if (code === 503) e = errors.serviceUnavailable(d.fail.message);
      else if (code === 500) e = errors.internal(d.fail.message ?? 'injected fault');
      else
        e = new StatusError(code, {
          kind: 'Status',
          apiVersion: 'v1',
          metadata: {},
          status: 'Failure',
          message: d.fail.message ?? STATUS_CODES[code] ?? 'error',
          code,
        } as StatusBody);
      return { reply: { status: code, body: e.body, headers } };
    }
    const id = this.deps.authn.authenticate(req.headers.authorization);
    if (!id) return { reply: this.errorReply(errors.unauthorized()) };
    entry.user = id.user.name;
    return d.fail?.type === 'cut' ? { id, cut: d.fail } : { id };
  }

  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'https://kube-sim');
    const entry = this.audit(req, url);
    res.on('error', () => {});
    try {
      const body = await readBody(req);
      const front = await this.front(req, url, entry, () => req.socket.destroy());
      if (!front) return;
      if ('reply' in front) {
        entry.status = front.reply.status;
        this.send(res, front.reply);
        return;
      }
      const ctx: Ctx = { req, method: req.method ?? 'GET', url, body, id: front.id, warnings: [], entry };
      const reply = await this.route(ctx, res);
      if (!reply) {
        entry.status = 200; // a watch: the stream is under way
        return;
      }
      entry.status = reply.status;
      this.send(res, reply, ctx.warnings, front.cut !== undefined);
    } catch (e) {
      const reply = this.errorReply(e);
      entry.status = reply.status;
      if (!res.headersSent) this.send(res, reply);
      else res.end();
    }
  }

  private async onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const url = new URL(req.url ?? '/', 'https://kube-sim');
    const entry = this.audit(req, url);
    try {
      const front = await this.front(req, url, entry, () => socket.destroy());
      if (!front) return;
      if ('reply' in front) {
        entry.status = front.reply.status;
        writeRaw(socket, front.reply);
        return;
      }
      const ctx: Ctx = {
        req,
        method: req.method ?? 'GET',
        url,
        body: Buffer.alloc(0),
        id: front.id,
        upgrade: { socket, head },
        warnings: [],
        entry,
        ...(front.cut ? { cut: front.cut } : {}),
      };
      const reply = await this.route(ctx, undefined);
      if (!reply) {
        // Handed to an upgrade handler, which may already have refused it.
        if (entry.status === 0) entry.status = 101;
        return;
      }
      entry.status = reply.status;
      writeRaw(socket, reply);
    } catch (e) {
      const reply = this.errorReply(e);
      entry.status = reply.status;
      writeRaw(socket, reply);
    }
  }

  /** `cut`: the answer stops after the headers and half its body, and the connection is destroyed. */
  private send(res: ServerResponse, reply: Reply, warnings: string[] = [], cut = false): void {
    const headers: Record<string, string | string[]> = {
      'Audit-Id': randomUUID(),
      'Cache-Control': 'no-cache, private',
      ...(reply.headers ?? {}),
    };
    if (warnings.length) headers.Warning = warnings.map(warningHeader);
    let payload: string;
    if (typeof reply.body === 'string') {
      payload = reply.body;
      if (reply.contentType !== '')
        headers['Content-Type'] = reply.contentType ?? 'text/plain; charset=utf-8';
    } else {
      payload = `${JSON.stringify(reply.body)}\n`;
      headers['Content-Type'] = reply.contentType ?? JSON_TYPE;
    }
    headers['Content-Length'] = String(Buffer.byteLength(payload));
    res.writeHead(reply.status, headers);
    if (cut) {
      const bytes = Buffer.from(payload);
      res.write(bytes.subarray(0, Math.floor(bytes.length / 2)), () => res.socket?.destroy());
      return;
    }
    res.end(payload);
  }

  private errorReply(e: unknown): Reply {
    if (e instanceof StatusError) {
      return typeof e.body === 'string'
        ? { status: e.code, body: e.body, contentType: e.contentType ?? 'text/plain; charset=utf-8' }
        : { status: e.code, body: e.body };
    }
    const msg = e instanceof Error ? e.message : String(e);
    return { status: 500, body: errors.internal(msg).body };
  }

  // ---- routing

  private async route(ctx: Ctx, res: ServerResponse | undefined): Promise<Reply | undefined> {
    const { discovery } = this.deps;
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
    return this.resourceRequest(ctx, p, res);
  }

  private verbOf(ctx: Ctx, p: ResourcePath): string {
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

  private async resourceRequest(
    ctx: Ctx,
    p: ResourcePath,
    res: ServerResponse | undefined,
  ): Promise<Reply | undefined> {
    const { store, authz } = this.deps;
    const verb = this.verbOf(ctx, p);
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
        return this.upgradePod(ctx, p);
      }
      throw errors.badRequest(
        'this simulator serves WebSocket upgrades only for pods/exec, pods/attach and pods/portforward',
      );
    }

    if (p.subresource !== undefined) return this.subresource(ctx, t, p);

    const virtual = this.virtualCreate(ctx, t, p);
    if (virtual) return virtual;
    if (!t.verbs.includes(verb)) throw errors.methodNotAllowed();

    if (p.name === undefined) {
      switch (ctx.method) {
        case 'GET':
        case 'HEAD':
          if (p.watch) {
            this.watch(ctx, t, p, res);
            return undefined;
          }
          return this.list(ctx, t, p);
        case 'POST':
          return this.create(ctx, t, p);
        case 'DELETE':
          return this.deleteCollection(ctx, t, p);
        default:
          throw errors.methodNotAllowed();
      }
    }
    switch (ctx.method) {
      case 'GET':
      case 'HEAD':
        if (p.watch) {
          this.watch(ctx, t, p, res);
          return undefined;
        }
        return { status: 200, body: this.mustGet(t, p) };
      case 'PUT':
        return this.replace(ctx, t, p);
      case 'PATCH':
        return this.patch(ctx, t, p);
      case 'DELETE':
        return this.delete(ctx, t, p);
      default:
        throw errors.methodNotAllowed();
    }
  }

  private key(t: ResourceType, p: ResourcePath, name = p.name as string) {
    return { group: t.group, resource: t.resource, namespace: t.namespaced ? p.namespace : undefined, name };
  }

  private mustGet(t: ResourceType, p: ResourcePath): SimObject {
    if (t.namespaced && p.namespace === undefined) throw errors.resourceNotFound();
    const o = this.deps.store.get(this.key(t, p));
    if (!o) throw errors.notFound(t.group, t.resource, p.name as string);
    return o;
  }

  // ---- reads

  private list(ctx: Ctx, t: ResourceType, p: ResourcePath): Reply {
    const q = ctx.url.searchParams;
    const opts: { namespace?: string; labelSelector?: string; fieldSelector?: string } = {};
    if (p.namespace !== undefined) opts.namespace = p.namespace;
    if (q.get('labelSelector')) opts.labelSelector = q.get('labelSelector') as string;
    if (q.get('fieldSelector')) opts.fieldSelector = q.get('fieldSelector') as string;
    let items = this.deps.store.list(t.group, t.resource, opts);
    const rv = this.deps.store.resourceVersion();
    const metadata: Record<string, unknown> = { resourceVersion: rv };
    const limit = Number(q.get('limit') ?? 0);
    const cont = q.get('continue');
    let start = 0;
    if (cont) {
      try {
        const c = JSON.parse(Buffer.from(cont, 'base64').toString()) as { start: number };
        start = c.start;
      } catch {
        throw errors.badRequest('continue key is not valid: illegal base64 data');
      }
    }
    if (start > 0) items = items.slice(start);
    if (limit > 0 && items.length > limit) {
      const remaining = items.length - limit;
      items = items.slice(0, limit);
      metadata.continue = Buffer.from(JSON.stringify({ rv, start: start + limit })).toString('base64');
      metadata.remainingItemCount = remaining;
    }
    return {
      status: 200,
      body: {
        kind: `${t.kind}List`,
        apiVersion: apiVersionOf(t),
        metadata,
        items: items.map(({ kind: _k, apiVersion: _a, ...rest }) => rest),
      },
    };
  }

  private watch(ctx: Ctx, t: ResourceType, p: ResourcePath, res: ServerResponse | undefined): void {
    if (!res) throw errors.badRequest('watch over a WebSocket is not supported by this simulator');
    const q = ctx.url.searchParams;
    let fieldSelector = q.get('fieldSelector') ?? '';
    if (p.name !== undefined)
      fieldSelector = [fieldSelector, `metadata.name=${p.name}`].filter(Boolean).join(',');
    const selector = compileSelector(t.group, t.resource, q.get('labelSelector') ?? '', fieldSelector);
    const w: Parameters<WatchRegistry['serve']>[2] = {
      type: t,
      selector,
      sendInitialEvents: boolParam(q.get('sendInitialEvents')),
      allowWatchBookmarks: boolParam(q.get('allowWatchBookmarks')),
    };
    if (p.namespace !== undefined) w.namespace = p.namespace;
    const rv = q.get('resourceVersion');
    if (rv !== null) w.resourceVersion = rv;
    const timeout = q.get('timeoutSeconds');
    if (timeout !== null) w.timeoutSeconds = Number(timeout);
    this.watches.serve(this.deps.store, res, w, {
      'Audit-Id': randomUUID(),
      'Cache-Control': 'no-cache, private',
    });
  }

  // ---- body decoding

  private decode(ctx: Ctx, allowYaml: boolean): unknown {
    const ct = String(ctx.req.headers['content-type'] ?? JSON_TYPE)
      .split(';')[0]
      ?.trim()
      .toLowerCase();
    const text = ctx.body.toString('utf8');
    if (ct === 'application/json' || ct === '*/*' || ct === '') {
      try {
        return JSON.parse(text);
      } catch (e) {
        throw errors.badRequest(`couldn't get version/kind; json parse error: ${(e as Error).message}`);
      }
    }
    if (allowYaml && (ct === 'application/yaml' || ct === 'application/apply-patch+yaml')) {
      try {
        return parseYaml(text);
      } catch (e) {
        throw errors.badRequest(`error converting YAML to JSON: ${(e as Error).message}`);
      }
    }
    throw errors.unsupportedMediaType();
  }

  /** Fills and checks apiVersion/kind/name/namespace of a body against the URL, as the real handlers do. */
  private decodeObject(t: ResourceType, p: ResourcePath, raw: unknown): SimObject {
    if (!isObject(raw))
      throw errors.badRequest("couldn't get version/kind; json parse error: expected an object");
    const obj = raw as SimObject;
    const want = apiVersionOf(t);
    obj.apiVersion ??= want;
    obj.kind ??= t.kind;
    if (obj.apiVersion !== want) {
      throw errors.badRequest(
        `the API version in the data (${obj.apiVersion}) does not match the expected API version (${want})`,
      );
    }
    if (obj.kind !== t.kind) {
      const known = this.deps.store.types.some(
        (x) => x.kind === obj.kind && apiVersionOf(x) === obj.apiVersion,
      );
      const why = known
        ? `converting (${t.version}.${obj.kind}) to (${t.kind}): unknown conversion`
        : `no kind "${obj.kind}" is registered for version "${obj.apiVersion}" in scheme "pkg/api/legacyscheme/scheme.go:30"`;
      throw errors.badRequest(
        `${obj.kind} in version "${t.version}" cannot be handled as a ${t.kind}: ${why}`,
      );
    }
    if (!isObject(obj.metadata)) obj.metadata = {} as SimObject['metadata'];
    if (t.namespaced) {
      if (obj.metadata.namespace && p.namespace !== undefined && obj.metadata.namespace !== p.namespace) {
        throw errors.badRequest(
          'the namespace of the provided object does not match the namespace sent on the request',
        );
      }
      if (p.namespace !== undefined) obj.metadata.namespace = p.namespace;
    }
    return obj;
  }

  /** fieldValidation for POST/PUT/non-apply PATCH: Strict fails, Warn (default) warns, Ignore is silent. */
  private unknownFields(ctx: Ctx, t: ResourceType, obj: SimObject): SimObject {
    const { schemas } = this.deps.codecs;
    const decodeError = schemas.decodeError?.(obj.apiVersion, obj.kind, obj);
    if (decodeError) throw errors.badRequest(decodeError);
    const fields = schemas.unknownFields(obj.apiVersion, obj.kind, obj);
    if (fields.length === 0) return obj;
    const mode = ctx.url.searchParams.get('fieldValidation') ?? 'Warn';
    if (mode === 'Strict') {
      throw errors.badRequest(
        `${t.kind} in version "${t.version}" cannot be handled as a ${t.kind}: strict decoding error: ${fields.map((f) => `unknown field "${f}"`).join(', ')}`,
      );
    }
    if (mode !== 'Ignore') for (const f of fields) ctx.warnings.push(`unknown field "${f}"`);
    if (schemas.pruneUnknown) return schemas.pruneUnknown(obj.apiVersion, obj.kind, obj);
    for (const f of fields) dropPath(obj, f);
    return obj;
  }

  /**
   * RBAC's escalation checks (escalation.ts) run in the registry: after decoding and admission, before
   * validation, for dry runs and server-side apply alike (fixtures kube-real-2/036-055).
   */
  private confirmRbac(ctx: Ctx, t: ResourceType, p: ResourcePath, obj: SimObject, old?: SimObject): void {
    const w: RbacWrite = { group: t.group, resource: t.resource };
    if (p.namespace !== undefined) w.namespace = p.namespace;
    if (p.name !== undefined) w.name = p.name;
    confirmRbacWrite(this.deps.authz, ctx.id, w, obj, old);
  }

  private validate(t: ResourceType, obj: SimObject, old?: SimObject): void {
    const causes = this.deps.codecs.schemas.validate(obj.apiVersion, obj.kind, obj, old);
    if (causes.length) throw errors.invalid(t.kind, t.group, obj.metadata.name ?? '', causes);
  }

  /** Pod Security admission's warning on a workload (it is accepted; its pods will not be). */
  private podSecurityWarning(ctx: Ctx, obj: SimObject): void {
    if (!obj.metadata.namespace) return;
    const ns = this.deps.store.get({ group: '', resource: 'namespaces', name: obj.metadata.namespace });
    const warning = workloadWarning(ns, obj);
    if (warning) ctx.warnings.push(warning);
  }

  private defaults(obj: SimObject): SimObject {
    return this.deps.codecs.schemas.applyDefaults(obj.apiVersion, obj.kind, obj);
  }

  private now(): string {
    return rfc3339(this.deps.store.now());
  }

  private checkNamespace(t: ResourceType, obj: SimObject): void {
    if (!t.namespaced) return;
    const ns = obj.metadata.namespace as string;
    const nsObj = this.deps.store.peek({ group: '', resource: 'namespaces', name: ns });
    if (!nsObj) throw errors.notFound('', 'namespaces', ns);
    if (nsObj.metadata.deletionTimestamp && t.resource !== 'events') {
      throw errors.namespaceTerminating(t.group, t.resource, obj.metadata.name ?? '', ns);
    }
  }

  // ---- writes

  private create(ctx: Ctx, t: ResourceType, p: ResourcePath): Reply {
    if (t.namespaced && p.namespace === undefined) throw errors.resourceNotFound();
    let obj = this.decodeObject(t, p, this.decode(ctx, true));
    if (obj.metadata.resourceVersion) {
      throw errors.badRequest('resourceVersion should not be set on objects to be created');
    }
    obj = this.unknownFields(ctx, t, obj);
    obj = this.defaults(obj);
    if (!obj.metadata.name && obj.metadata.generateName) {
      // Validation must see a name, as the real strategy generates it before validating.
      obj.metadata.name = `${obj.metadata.generateName}${randomSuffix(5)}`;
    }
    this.checkNamespace(t, obj);
    this.confirmRbac(ctx, t, p, obj);
    this.validate(t, obj);
    this.podSecurityWarning(ctx, obj);
    obj = this.deps.codecs.recordUpdate({
      updated: obj,
      manager: fieldManagerFor(ctx.req, ctx.url.searchParams),
      apiVersion: apiVersionOf(t),
      now: this.now(),
      schemas: this.deps.codecs.schemas,
      operation: 'Update',
    });
    goSerialize(t, obj);
    if (this.dryRun(ctx)) {
      // BeforeCreate ran: a dry-run create answers with a uid and a creation time, and no resourceVersion
      // (kube-real-2/044, 049).
      obj.metadata.uid = randomUUID();
      obj.metadata.creationTimestamp = this.now();
      // Admission runs for a dry run too (fixtures 103, 108); the store runs it for a real create.
      if (t.group === '' && t.resource === 'pods') {
        const ns = obj.metadata.namespace ?? p.namespace;
        enforcePodSecurity(
          ns ? this.deps.store.get({ group: '', resource: 'namespaces', name: ns }) : undefined,
          obj,
        );
      }
      return { status: 201, body: canonicalize(obj) };
    }
    return { status: 201, body: this.deps.store.create(obj) };
  }

  private dryRun(ctx: Ctx): boolean {
    return ctx.url.searchParams.getAll('dryRun').includes('All');
  }

  private replace(ctx: Ctx, t: ResourceType, p: ResourcePath): Reply {
    let obj = this.decodeObject(t, p, this.decode(ctx, true));
    if (obj.metadata.name !== p.name) {
      throw errors.badRequest(
        `the name of the object (${obj.metadata.name ?? ''}) does not match the name on the URL (${p.name})`,
      );
    }
    const existing = this.mustGet(t, p);
    if (obj.metadata.resourceVersion && obj.metadata.resourceVersion !== existing.metadata.resourceVersion) {
      throw errors.conflict(t.group, t.resource, p.name as string);
    }
    obj = this.unknownFields(ctx, t, obj);
    obj = this.defaults(obj);
    this.confirmRbac(ctx, t, p, obj, existing);
    this.validate(t, obj, existing);
    this.podSecurityWarning(ctx, obj);
    obj = this.deps.codecs.recordUpdate({
      old: existing,
      updated: obj,
      manager: fieldManagerFor(ctx.req, ctx.url.searchParams),
      apiVersion: apiVersionOf(t),
      now: this.now(),
      schemas: this.deps.codecs.schemas,
      operation: 'Update',
    });
    goSerialize(t, obj);
    if (this.dryRun(ctx)) return { status: 200, body: canonicalize(obj) };
    return { status: 200, body: this.deps.store.update(obj) };
  }

  private patchKind(ctx: Ctx): 'apply' | 'merge' | 'strategic' | 'json' {
    const ct = String(ctx.req.headers['content-type'] ?? '')
      .split(';')[0]
      ?.trim()
      .toLowerCase();
    switch (ct) {
      case 'application/apply-patch+yaml':
        return 'apply';
      case 'application/merge-patch+json':
        return 'merge';
      case 'application/strategic-merge-patch+json':
        return 'strategic';
      case 'application/json-patch+json':
        return 'json';
      default:
        throw errors.unsupportedMediaType();
    }
  }

  private applyPatch(
    ctx: Ctx,
    t: ResourceType,
    kind: 'merge' | 'strategic' | 'json',
    existing: SimObject,
  ): SimObject {
    const { codecs } = this.deps;
    let patch: unknown;
    try {
      patch = JSON.parse(ctx.body.toString('utf8'));
    } catch (e) {
      throw errors.badRequest(`error decoding patch: ${(e as Error).message}`);
    }
    const base = clone(existing);
    switch (kind) {
      case 'merge':
        return codecs.mergePatch(base, patch);
      case 'strategic':
        return codecs.strategicMergePatch(base, patch, apiVersionOf(t), t.kind, codecs.schemas);
      case 'json':
        return codecs.jsonPatch(base, patch);
    }
  }

  private patch(ctx: Ctx, t: ResourceType, p: ResourcePath): Reply {
    const kind = this.patchKind(ctx);
    const q = ctx.url.searchParams;
    if (kind === 'apply') return this.serverSideApply(ctx, t, p);
    if (q.get('force') !== null) {
      throw errors.invalid('PatchOptions', 'meta.k8s.io', '', [
        {
          reason: 'FieldValueForbidden',
          field: 'force',
          message: 'Forbidden: may not be specified for non-apply patch',
        },
      ]);
    }
    const existing = this.mustGet(t, p);
    let obj = this.applyPatch(ctx, t, kind, existing);
    if (!isObject(obj) || !isObject(obj.metadata))
      throw errors.badRequest('the patch produced an invalid object');
    obj.metadata.name = existing.metadata.name;
    if (t.namespaced) obj.metadata.namespace = existing.metadata.namespace;
    obj.apiVersion = existing.apiVersion;
    obj.kind = existing.kind;
    obj = this.unknownFields(ctx, t, obj);
    obj = this.defaults(obj);
    this.confirmRbac(ctx, t, p, obj, existing);
    this.validate(t, obj, existing);
    this.podSecurityWarning(ctx, obj);
    obj = this.deps.codecs.recordUpdate({
      old: existing,
      updated: obj,
      manager: fieldManagerFor(ctx.req, q),
      apiVersion: apiVersionOf(t),
      now: this.now(),
      schemas: this.deps.codecs.schemas,
      operation: 'Update',
    });
    goSerialize(t, obj);
    if (this.dryRun(ctx)) return { status: 200, body: canonicalize(obj) };
    return { status: 200, body: this.deps.store.update(obj) };
  }

  private serverSideApply(ctx: Ctx, t: ResourceType, p: ResourcePath): Reply {
    const q = ctx.url.searchParams;
    const manager = q.get('fieldManager');
    if (!manager) throw errors.fieldManagerRequired();
    const applied = this.decodeObject(t, p, this.decode(ctx, true));
    applied.metadata.name ??= p.name as string;
    if (applied.metadata.name !== p.name) {
      throw errors.badRequest(
        `the name of the object (${applied.metadata.name}) does not match the name on the URL (${p.name})`,
      );
    }
    if (t.namespaced && p.namespace === undefined) throw errors.resourceNotFound();
    const existing = this.deps.store.get(this.key(t, p));
    const precondition = applied.metadata.resourceVersion;
    if (precondition && precondition !== existing?.metadata.resourceVersion) {
      throw existing
        ? errors.conflict(t.group, t.resource, p.name as string)
        : errors.notFound(t.group, t.resource, p.name as string);
    }
    const { codecs } = this.deps;
    const result = codecs.serverSideApply({
      existing,
      applied,
      manager,
      force: boolParam(q.get('force')),
      apiVersion: apiVersionOf(t),
      now: this.now(),
      schemas: codecs.schemas,
    });
    if (!result.ok) throw this.applyFailure(t, p, result);
    let obj = this.defaults(result.object);
    if (!existing) this.checkNamespace(t, obj);
    this.confirmRbac(ctx, t, p, obj, existing);
    this.validate(t, obj, existing);
    this.podSecurityWarning(ctx, obj);
    goSerialize(t, obj);
    if (this.dryRun(ctx)) {
      if (!existing) {
        // As a dry-run POST: the new object's uid and creation time, no resourceVersion (kube-real-2/046, 050).
        obj.metadata.uid = randomUUID();
        obj.metadata.creationTimestamp = this.now();
      }
      return { status: existing ? 200 : 201, body: canonicalize(obj) };
    }
    if (!existing) return { status: 201, body: this.deps.store.create(obj) };
    obj = { ...obj, metadata: { ...obj.metadata, resourceVersion: existing.metadata.resourceVersion } };
    return { status: 200, body: this.deps.store.update(obj) };
  }

  /** 409 for conflicts; the 500 of fixtures 056-061 for fields the schema does not declare. */
  private applyFailure(
    t: ResourceType,
    p: ResourcePath,
    result: Exclude<ApplyResult, { ok: true }>,
  ): StatusError {
    if ('conflicts' in result) return errors.applyConflict(result.conflicts);
    const fields = result.unknownFields;
    const where = `${t.namespaced ? `${p.namespace}/` : ''}${p.name}; ${apiVersionOf(t)}, Kind=${t.kind}`;
    const what =
      result.message ??
      (fields.length === 1
        ? `${fields[0]}: field not declared in schema`
        : `errors:\n  ${fields.map((f) => `${f}: field not declared in schema`).join('\n  ')}`);
    return errors.internalNoReason(`failed to create typed patch object (${where}): ${what}`);
  }

  private deleteOptions(ctx: Ctx): {
    policy?: 'Foreground' | 'Background' | 'Orphan';
    gracePeriodSeconds?: number;
    preconditions?: { uid?: string; resourceVersion?: string };
  } {
    const q = ctx.url.searchParams;
    let body: Record<string, unknown> = {};
    if (ctx.body.length > 0) {
      try {
        const parsed = JSON.parse(ctx.body.toString('utf8')) as unknown;
        if (isObject(parsed)) body = parsed;
      } catch {
        throw errors.badRequest("couldn't get version/kind; json parse error");
      }
    }
    let policy = (body.propagationPolicy as string | undefined) ?? q.get('propagationPolicy') ?? undefined;
    const orphan =
      (body.orphanDependents as boolean | undefined) ??
      (q.has('orphanDependents') ? boolParam(q.get('orphanDependents')) : undefined);
    if (policy === undefined && orphan !== undefined) policy = orphan ? 'Orphan' : 'Background';
    if (policy !== undefined && !['Foreground', 'Background', 'Orphan'].includes(policy)) {
      throw errors.invalid('DeleteOptions', 'meta.k8s.io', '', [
        {
          reason: 'FieldValueNotSupported',
          field: 'propagationPolicy',
          message: `Unsupported value: "${policy}": supported values: "Foreground", "Background", "Orphan"`,
        },
      ]);
    }
    const out: ReturnType<ApiServer['deleteOptions']> = {};
    if (policy) out.policy = policy as 'Foreground' | 'Background' | 'Orphan';
    const grace =
      (body.gracePeriodSeconds as number | undefined) ??
      (q.get('gracePeriodSeconds') !== null ? Number(q.get('gracePeriodSeconds')) : undefined);
    if (grace !== undefined) out.gracePeriodSeconds = grace;
    if (isObject(body.preconditions))
      out.preconditions = body.preconditions as { uid?: string; resourceVersion?: string };
    return out;
  }

  private deleteOne(
    ctx: Ctx,
    t: ResourceType,
    existing: SimObject,
    opts: ReturnType<ApiServer['deleteOptions']>,
  ): Reply {
    const { store } = this.deps;
    const key = {
      group: t.group,
      resource: t.resource,
      namespace: existing.metadata.namespace,
      name: existing.metadata.name,
    };
    // A terminating pod is the kubelet's to remove; asking again without a shorter grace period changes nothing.
    if (
      t.group === '' &&
      t.resource === 'pods' &&
      existing.metadata.deletionTimestamp &&
      opts.gracePeriodSeconds !== 0
    ) {
      return { status: 200, body: existing };
    }
    // batch/v1 Jobs still orphan their pods by default, as the real registry does.
    const policy = opts.policy ?? (t.group === 'batch' && t.resource === 'jobs' ? 'Orphan' : undefined);
    if (this.dryRun(ctx)) return { status: 200, body: existing };
    const left = store.delete(key, policy, {
      gracePeriodSeconds: opts.gracePeriodSeconds,
      preconditions: opts.preconditions,
    });
    if (left) return { status: 200, body: left };
    const details: Record<string, string> = { name: existing.metadata.name };
    if (t.group) details.group = t.group;
    details.kind = t.resource;
    details.uid = existing.metadata.uid;
    return {
      status: 200,
      body: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details },
    };
  }

  private delete(ctx: Ctx, t: ResourceType, p: ResourcePath): Reply {
    const opts = this.deleteOptions(ctx);
    const existing = this.mustGet(t, p);
    return this.deleteOne(ctx, t, existing, opts);
  }

  private deleteCollection(ctx: Ctx, t: ResourceType, p: ResourcePath): Reply {
    const opts = this.deleteOptions(ctx);
    const listed = this.list(ctx, t, p).body as { items: Array<Omit<SimObject, 'kind' | 'apiVersion'>> };
    const items: unknown[] = [];
    for (const item of listed.items) {
      const existing = { ...item, kind: t.kind, apiVersion: apiVersionOf(t) } as SimObject;
      const r = this.deleteOne(ctx, t, existing, opts);
      items.push(isObject(r.body) && r.body.kind === 'Status' ? item : r.body);
    }
    return {
      status: 200,
      body: {
        kind: `${t.kind}List`,
        apiVersion: apiVersionOf(t),
        metadata: { resourceVersion: this.deps.store.resourceVersion() },
        items: items.map((i) => {
          const { kind: _k, apiVersion: _a, ...rest } = i as SimObject;
          return rest;
        }),
      },
    };
  }

  // ---- subresources

  private subresource(ctx: Ctx, t: ResourceType, p: ResourcePath): Reply {
    const sub = p.subresource as string;
    if (p.name === undefined) throw errors.resourceNotFound();
    if (sub === 'status') return this.status(ctx, t, p);
    if (t.group === '' && t.resource === 'pods' && ['exec', 'attach', 'portforward'].includes(sub)) {
      if (ctx.method !== 'GET' && ctx.method !== 'POST') throw errors.methodNotAllowed();
      this.mustGet(t, p);
      throw errors.badRequest('Upgrade request required');
    }
    if (t.group === '' && t.resource === 'pods' && sub === 'log' && this.deps.podLog) {
      if (ctx.method !== 'GET') throw errors.methodNotAllowed();
      const pod = this.mustGet(t, p);
      return { status: 200, body: this.deps.podLog(pod, ctx.url.searchParams), contentType: 'text/plain' };
    }
    if (t.group === '' && t.resource === 'serviceaccounts' && sub === 'token') {
      if (ctx.method !== 'POST') throw errors.methodNotAllowed();
      return this.tokenRequest(ctx, t, p);
    }
    throw errors.resourceNotFound();
  }

  private status(ctx: Ctx, t: ResourceType, p: ResourcePath): Reply {
    const existing = this.mustGet(t, p);
    const { store, codecs } = this.deps;
    const record = (updated: SimObject) =>
      codecs.recordUpdate({
        old: existing,
        updated,
        manager: fieldManagerFor(ctx.req, ctx.url.searchParams),
        apiVersion: apiVersionOf(t),
        now: this.now(),
        schemas: codecs.schemas,
        subresource: 'status',
        operation: 'Update',
      });
    switch (ctx.method) {
      case 'GET':
        return { status: 200, body: existing };
      case 'PUT': {
        const obj = this.decodeObject(t, p, this.decode(ctx, true));
        if (obj.metadata.name !== p.name) {
          throw errors.badRequest(
            `the name of the object (${obj.metadata.name ?? ''}) does not match the name on the URL (${p.name})`,
          );
        }
        return { status: 200, body: store.updateStatus(record(obj)) };
      }
      case 'PATCH': {
        const kind = this.patchKind(ctx);
        if (kind === 'apply') {
          const manager = ctx.url.searchParams.get('fieldManager');
          if (!manager) throw errors.fieldManagerRequired();
          const applied = this.decodeObject(t, p, this.decode(ctx, true));
          const r = codecs.serverSideApply({
            existing,
            applied,
            manager,
            force: boolParam(ctx.url.searchParams.get('force')),
            apiVersion: apiVersionOf(t),
            now: this.now(),
            schemas: codecs.schemas,
          });
          if (!r.ok) throw this.applyFailure(t, p, r);
          return { status: 200, body: store.updateStatus(r.object) };
        }
        const obj = this.applyPatch(ctx, t, kind, existing);
        return { status: 200, body: store.updateStatus(record(obj)) };
      }
      default:
        throw errors.methodNotAllowed();
    }
  }

  private tokenRequest(ctx: Ctx, t: ResourceType, p: ResourcePath): Reply {
    const sa = this.mustGet(t, p);
    const raw = ctx.body.length ? this.decode(ctx, true) : {};
    const spec = (isObject(raw) && isObject(raw.spec) ? raw.spec : {}) as {
      expirationSeconds?: number;
      audiences?: string[];
      boundObjectRef?: unknown;
    };
    const expirationSeconds = spec.expirationSeconds ?? 3600;
    if (expirationSeconds < 600) {
      throw errors.invalid('TokenRequest', 'authentication.k8s.io', '', [
        {
          reason: 'FieldValueInvalid',
          field: 'spec.expirationSeconds',
          message: 'Invalid value: "": may not specify a duration less than 10 minutes',
        },
      ]);
    }
    const audiences = spec.audiences?.length
      ? spec.audiences
      : ['https://kubernetes.default.svc.cluster.local'];
    const { token, expirationTimestamp } = this.deps.authn.issueServiceAccountToken(
      sa,
      expirationSeconds,
      audiences,
    );
    const now = this.now();
    return {
      status: 201,
      body: {
        kind: 'TokenRequest',
        apiVersion: 'authentication.k8s.io/v1',
        metadata: {
          name: sa.metadata.name,
          namespace: sa.metadata.namespace,
          creationTimestamp: now,
          managedFields: [
            {
              manager: fieldManagerFor(ctx.req, ctx.url.searchParams),
              operation: 'Update',
              apiVersion: 'authentication.k8s.io/v1',
              time: now,
              fieldsType: 'FieldsV1',
              fieldsV1: { 'f:spec': { 'f:expirationSeconds': {} } },
              subresource: 'token',
            },
          ],
        },
        spec: { audiences, expirationSeconds, boundObjectRef: spec.boundObjectRef ?? null },
        status: { token, expirationTimestamp: rfc3339(expirationTimestamp) },
      },
    };
  }

  /** Create-only review resources: answered, never stored. */
  private virtualCreate(ctx: Ctx, t: ResourceType, p: ResourcePath): Reply | undefined {
    if (t.verbs.includes('get')) return undefined;
    if (ctx.method !== 'POST' || p.name !== undefined) throw errors.methodNotAllowed();
    const body = this.decodeObject(t, p, this.decode(ctx, true));
    const out = (status: unknown): Reply => ({
      status: 201,
      body: {
        kind: t.kind,
        apiVersion: apiVersionOf(t),
        metadata: { creationTimestamp: null },
        spec: body.spec,
        status,
      },
    });
    const user = ctx.id.user;
    switch (`${t.group}/${t.resource}`) {
      case 'authentication.k8s.io/selfsubjectreviews':
        return {
          status: 201,
          body: {
            kind: t.kind,
            apiVersion: apiVersionOf(t),
            metadata: { creationTimestamp: null },
            status: {
              userInfo: { username: user.name, ...(user.uid ? { uid: user.uid } : {}), groups: user.groups },
            },
          },
        };
      case 'authorization.k8s.io/selfsubjectaccessreviews':
      case 'authorization.k8s.io/localsubjectaccessreviews':
      case 'authorization.k8s.io/subjectaccessreviews': {
        const ra = (
          isObject(body.spec) && isObject(body.spec.resourceAttributes)
            ? body.spec.resourceAttributes
            : undefined
        ) as
          | {
              namespace?: string;
              verb?: string;
              group?: string;
              resource?: string;
              subresource?: string;
              name?: string;
            }
          | undefined;
        if (!ra)
          return out({ allowed: true, reason: 'non-resource URLs are readable by every authenticated user' });
        let subject: Identity = ctx.id;
        if (t.resource !== 'selfsubjectaccessreviews' && isObject(body.spec)) {
          const s = body.spec as { user?: string; groups?: string[] };
          subject = { user: { name: s.user ?? '', groups: s.groups ?? [] } };
        }
        const a: Attributes = { verb: ra.verb ?? '', group: ra.group ?? '', resource: ra.resource ?? '' };
        if (ra.subresource) a.subresource = ra.subresource;
        if (ra.namespace ?? p.namespace) a.namespace = (ra.namespace ?? p.namespace) as string;
        if (ra.name) a.name = ra.name;
        const d = this.deps.authz.authorize(subject, a);
        return out(d.reason ? { allowed: d.allowed, reason: d.reason } : { allowed: d.allowed });
      }
      default:
        throw errors.methodNotAllowed();
    }
  }

  // ---- WebSocket upgrades

  private upgradePod(ctx: Ctx, p: ResourcePath): Reply | undefined {
    const up = ctx.upgrade as { socket: Duplex; head: Buffer };
    if (ctx.method !== 'GET' && ctx.method !== 'POST') throw errors.methodNotAllowed();
    const pod = this.mustGet(
      this.deps.store.types.find((x) => x.group === '' && x.resource === 'pods') as ResourceType,
      p,
    );
    const kind = p.subresource as UpgradeKind;
    const handler = this.deps.upgradeHandlers.get(kind);
    if (!handler)
      throw errors.badRequest(`pods/${kind} is not served by this simulator (no upgrade handler registered)`);
    const wss = this.wss;
    const req = ctx.req;
    const cut = ctx.cut;
    const accept = (protocol: string | undefined, firstFrames: FirstFrames) =>
      new Promise<WebSocket>((resolve) => {
        if (protocol) this.chosenProtocol.set(req, protocol);
        shapeWire(up.socket, firstFrames, this.deps.wire.mode, this.deps.wire.rand);
        wss.handleUpgrade(req, up.socket, up.head, (ws) => {
          if (cut) cutLater(ws, cut);
          resolve(ws);
        });
      });
    void Promise.resolve()
      .then(() =>
        handler({
          req,
          socket: up.socket,
          head: up.head,
          pod,
          query: ctx.url.searchParams,
          user: ctx.id.user.name,
          accept,
          reject: (status, body, contentType) => {
            ctx.entry.status = status;
            const reply: Reply = { status, body: body ?? '' };
            if (contentType !== undefined) reply.contentType = contentType;
            else if (typeof body !== 'object' || body === null)
              reply.contentType = 'text/plain; charset=utf-8';
            writeRaw(up.socket, reply);
          },
        }),
      )
      .catch((e: unknown) => {
        const reply = this.errorReply(e);
        ctx.entry.status = reply.status;
        if (!up.socket.destroyed) writeRaw(up.socket, reply);
      });
    return undefined;
  }
}

/** Port-forward sends a 2-byte port prefix on its data and error channels first: 3 bytes each. */
const PORT_PREFIXES = 6;

/**
 * Destroys an accepted WebSocket mid-stream, as a kubelet restart or a load balancer's reset does: no close
 * frame, so the client sees 1006. Frames are sent whole until the next one would pass `afterBytes`.
 */
function cutLater(ws: WebSocket, cut: CutAction): void {
  let done = false;
  const kill = () => {
    if (done) return;
    done = true;
    ws.terminate();
  };
  if (cut.afterMs !== undefined) setTimeout(kill, cut.afterMs).unref();
  const limit = cut.afterBytes ?? (cut.afterMs === undefined ? PORT_PREFIXES : undefined);
  if (limit === undefined) return;
  let sent = 0;
  const send = ws.send.bind(ws) as (data: unknown, ...rest: unknown[]) => void;
  (ws as { send: (data: unknown, ...rest: unknown[]) => void }).send = (data, ...rest) => {
    if (done) return;
    const n =
      typeof data === 'string' ? Buffer.byteLength(data) : ((data as { length?: number }).length ?? 0);
    if (sent + n > limit) {
      kill();
      return;
    }
    sent += n;
    send(data, ...rest);
  };
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(
          new StatusError(413, {
            kind: 'Status',
            apiVersion: 'v1',
            metadata: {},
            status: 'Failure',
            message: 'the request is too large',
            reason: 'RequestEntityTooLarge',
            code: 413,
          } as StatusBody),
        );
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** An HTTP response written on a socket that was handed over for an upgrade. */
function writeRaw(socket: Duplex, reply: Reply): void {
  if (socket.destroyed) return;
  const payload = typeof reply.body === 'string' ? reply.body : `${JSON.stringify(reply.body)}\n`;
  const lines = [`HTTP/1.1 ${reply.status} ${STATUS_CODES[reply.status] ?? ''}`];
  const ct = typeof reply.body === 'string' ? reply.contentType : (reply.contentType ?? JSON_TYPE);
  if (ct) lines.push(`Content-Type: ${ct}`);
  for (const [k, v] of Object.entries(reply.headers ?? {}))
    for (const x of [v].flat()) lines.push(`${k}: ${x}`);
  lines.push(`Content-Length: ${Buffer.byteLength(payload)}`, 'Connection: close');
  socket.end(`${lines.join('\r\n')}\r\n\r\n${payload}`);
}
