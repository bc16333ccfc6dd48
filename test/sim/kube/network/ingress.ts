/**
 * The ingress controller: ingress-nginx with `--ingress-class=<class>` (default class) and its defaults, on two
 * ephemeral ports of 127.0.0.1 standing for its LoadBalancer's ports 80 and 443. Routing is in routes.ts, the
 * choice of pod in backends.ts. Bodies are proxied as streams; upgrades (WebSocket) are passed through.
 *
 * What a client sees, as from ingress-nginx: 404 (nginx's page) for a host or path nothing serves, 503 for a
 * Service without ready endpoints (or missing, or without that port), 502 when the pod's port refuses,
 * 308 to https for a host with TLS (ssl-redirect, on by default; force-ssl-redirect without TLS), 413 beyond
 * proxy-body-size (1m by default, checked against Content-Length), `Server: nginx`, and the X-Forwarded-* and
 * X-Real-IP/X-Request-ID headers to the backend.
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type net from 'node:net';
import tls from 'node:tls';
import { issueCert, selfSignedCert } from '../certs.js';
import type { EventRecorder } from '../controllers/events.js';
import { type Runtime, splitKey, WorkQueue } from '../controllers/runtime.js';
import { clone, deepEqual } from '../controllers/util.js';
import type { SimObject } from '../types.js';
import { type Backends, type Dial, type SocketSet, safeDial } from './backends.js';
import { buildRoutes, matchServer, type Route, type RouteTable, route } from './routes.js';

export const INGRESSES = { group: 'networking.k8s.io', resource: 'ingresses' };
export const INGRESS_CLASSES = { group: 'networking.k8s.io', resource: 'ingressclasses' };
export const INGRESS_NGINX_CONTROLLER = 'k8s.io/ingress-nginx';
export const DEFAULT_CLASS_ANNOTATION = 'ingressclass.kubernetes.io/is-default-class';
/** The address ingress-nginx publishes on the Ingresses it serves (its Service's). */
export const INGRESS_IP = '127.0.0.1';

const SOURCE = { component: 'nginx-ingress-controller' };

const REASONS: Record<number, string> = {
  308: 'Permanent Redirect',
  400: 'Bad Request',
  404: 'Not Found',
  413: 'Request Entity Too Large',
  502: 'Bad Gateway',
  503: 'Service Temporarily Unavailable',
};

/** nginx's own error page, byte for byte. */
export function nginxPage(status: number): string {
  const title = `${status} ${REASONS[status] ?? ''}`.trim();
  return `<html>\r\n<head><title>${title}</title></head>\r\n<body>\r\n<center><h1>${title}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n`;
}

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

export interface IngressOptions {
  className: string;
  caPem: string;
  /** Names of the certificate ingress-nginx serves when no Ingress's TLS covers the host (--default-ssl-certificate). */
  defaultCertificateHosts?: string[];
}

export class IngressController {
  readonly queue: WorkQueue;
  private table: RouteTable | undefined;
  private readonly seenGeneration = new Map<string, number>();
  private readonly secretContexts = new Map<string, tls.SecureContext>();
  private defaultContext: tls.SecureContext | undefined;
  private httpServer: http.Server | undefined;
  private httpsServer: https.Server | undefined;
  httpPort = 0;
  httpsPort = 0;

  constructor(
    private readonly rt: Runtime,
    private readonly events: EventRecorder,
    private readonly backends: Backends,
    private readonly dial: Dial,
    private readonly sockets: SocketSet,
    private readonly opts: IngressOptions,
  ) {
    this.queue = new WorkQueue(rt, 'ingress-nginx', (key) => this.sync(key));
  }

  async start(host: string): Promise<void> {
    const fallback = this.opts.defaultCertificateHosts?.length
      ? await issueCert(
          this.opts.caPem,
          this.opts.defaultCertificateHosts,
          'kube-sim ingress default certificate',
        )
      : await selfSignedCert('/O=Acme Co/CN=Kubernetes Ingress Controller Fake Certificate', [
          'ingress.local',
        ]);
    this.defaultContext = tls.createSecureContext({ cert: fallback.certPem, key: fallback.keyPem });

    this.httpServer = http.createServer((req, res) => this.handle(req, res, 'http'));
    this.httpsServer = https.createServer(
      {
        cert: fallback.certPem,
        key: fallback.keyPem,
        SNICallback: (name, cb) => {
          this.contextFor(name).then(
            (ctx) => cb(null, ctx),
            () => cb(null, this.defaultContext),
          );
        },
      },
      (req, res) => this.handle(req, res, 'https'),
    );
    for (const [server, scheme] of [
      [this.httpServer, 'http'],
      [this.httpsServer, 'https'],
    ] as const) {
      server.on('connection', (s: net.Socket) => this.sockets.add(s));
      server.on('upgrade', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) =>
        this.upgrade(req, socket, head, scheme),
      );
      // A client that resets mid-request is its own business, as for nginx.
      server.on('clientError', (_err, socket: net.Socket) => socket.destroy());
    }
    this.httpPort = await listen(this.httpServer, host);
    this.httpsPort = await listen(this.httpsServer, host);
  }

  async close(): Promise<void> {
    await Promise.all(
      [this.httpServer, this.httpsServer].map(
        (s) =>
          new Promise<void>((resolve) => {
            if (!s?.listening) return resolve();
            s.close(() => resolve());
            s.closeAllConnections();
          }),
      ),
    );
  }

  // ---- watch

  onIngress(type: string, ing: SimObject): void {
    this.table = undefined;
    const key = `${ing.metadata.namespace}/${ing.metadata.name}`;
    if (type === 'DELETED') {
      this.seenGeneration.delete(ing.metadata.uid);
      return;
    }
    this.queue.add(key);
  }

  /** A change of the default class changes which Ingresses without a class are ours. */
  onIngressClass(): void {
    this.table = undefined;
    for (const ing of this.rt.store.list(INGRESSES.group, INGRESSES.resource))
      this.onIngress('MODIFIED', ing);
  }

  serves(ing: SimObject): boolean {
    const cls = ing.spec?.ingressClassName as string | undefined;
    if (cls) return cls === this.opts.className;
    const legacy = ing.metadata.annotations?.['kubernetes.io/ingress.class'];
    if (legacy !== undefined) return legacy === this.opts.className;
    const ours = this.rt.store.get({ ...INGRESS_CLASSES, name: this.opts.className });
    return ours?.metadata.annotations?.[DEFAULT_CLASS_ANNOTATION] === 'true';
  }

  private sync(key: string): void {
    const { namespace, name } = splitKey(key);
    const ing = this.rt.store.get({ ...INGRESSES, namespace, name });
    if (!ing || !this.serves(ing)) return;
    const generation = ing.metadata.generation ?? 0;
    if (this.seenGeneration.get(ing.metadata.uid) !== generation) {
      this.seenGeneration.set(ing.metadata.uid, generation);
      this.events.tryRecord(ing, 'Normal', 'Sync', 'Scheduled for sync', SOURCE);
    }
    const want = { ingress: [{ ip: INGRESS_IP }] };
    if (deepEqual(ing.status?.loadBalancer ?? {}, want)) return;
    const next = clone(ing);
    next.status = { ...(next.status ?? {}), loadBalancer: want };
    this.rt.store.updateStatus(next);
  }

  routes(): RouteTable {
    this.table ??= buildRoutes(
      this.rt.store.list(INGRESSES.group, INGRESSES.resource).filter((i) => this.serves(i)),
    );
    return this.table;
  }

  // ---- TLS

  /** The certificate for an SNI name: the TLS secret of the host's Ingress, else one from the simulator's CA. */
  private async contextFor(servername: string): Promise<tls.SecureContext | undefined> {
    const table = this.routes();
    const server = matchServer(table, servername);
    if (server === table.catchAll || !server.tls) return this.defaultContext;
    const fromSecret = this.secretContext(server.tls.namespace, server.tls.secretName);
    if (fromSecret) return fromSecret;
    const issued = await issueCert(this.opts.caPem, [server.hostname]);
    return tls.createSecureContext({ cert: issued.certPem, key: issued.keyPem });
  }

  private secretContext(namespace: string, name: string | undefined): tls.SecureContext | undefined {
    if (!name) return undefined;
    const secret = this.rt.store.get({ group: '', resource: 'secrets', namespace, name });
    const data = secret?.data as Record<string, string> | undefined;
    if (!secret || !data?.['tls.crt'] || !data['tls.key']) return undefined;
    const cacheKey = `${secret.metadata.uid}/${secret.metadata.resourceVersion}`;
    const hit = this.secretContexts.get(cacheKey);
    if (hit) return hit;
    try {
      const ctx = tls.createSecureContext({
        cert: Buffer.from(data['tls.crt'], 'base64'),
        key: Buffer.from(data['tls.key'], 'base64'),
      });
      this.secretContexts.set(cacheKey, ctx);
      return ctx;
    } catch {
      return undefined;
    }
  }

  // ---- HTTP

  /** What the request gets before any backend is dialled: a page, a redirect, or a pod to proxy to. */
  private decide(
    req: http.IncomingMessage,
    scheme: 'http' | 'https',
  ): { status: number; location?: string } | { pod: SimObject; port: number } {
    const hostHeader = req.headers.host ?? '';
    const r: Route = route(this.routes(), hostHeader, req.url ?? '/');
    if (!r.backend) return { status: 404 };
    const redirect = r.settings.forceSslRedirect || (r.settings.sslRedirect && r.server.tls !== undefined);
    if (scheme === 'http' && redirect)
      return { status: 308, location: `https://${hostHeader}${req.url ?? '/'}` };
    const length = Number(req.headers['content-length'] ?? 0);
    if (r.settings.maxBodyBytes > 0 && length > r.settings.maxBodyBytes) return { status: 413 };
    const picked = this.backends.pick(r.backend.namespace, r.backend.service, r.backend.port);
    if (!picked.ok) return { status: 503 };
    return { pod: picked.pod, port: picked.port };
  }

  private forwardedHeaders(req: http.IncomingMessage, scheme: 'http' | 'https'): http.OutgoingHttpHeaders {
    const out: http.OutgoingHttpHeaders = {};
    for (const [k, v] of Object.entries(req.headers)) {
      if (v !== undefined && !HOP_BY_HOP.has(k)) out[k] = v;
    }
    const remote = req.socket.remoteAddress ?? '';
    const prior = req.headers['x-forwarded-for'];
    out['x-request-id'] = randomBytes(16).toString('hex');
    out['x-real-ip'] = remote;
    out['x-forwarded-for'] = prior ? `${prior}, ${remote}` : remote;
    out['x-forwarded-host'] = req.headers.host ?? '';
    out['x-forwarded-port'] = scheme === 'https' ? '443' : '80';
    out['x-forwarded-proto'] = scheme;
    out['x-forwarded-scheme'] = scheme;
    out['x-scheme'] = scheme;
    return out;
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse, scheme: 'http' | 'https'): void {
    const d = this.decide(req, scheme);
    if ('status' in d) {
      sendPage(res, d.status, d.location);
      req.resume();
      return;
    }
    const sock = safeDial(this.dial, d.pod, d.port);
    if (sock instanceof Error) {
      sendPage(res, 502);
      req.resume();
      return;
    }
    this.sockets.add(sock);
    const upstream = http.request({
      method: req.method,
      path: req.url,
      headers: this.forwardedHeaders(req, scheme),
      createConnection: () => sock,
    });
    upstream.on('error', () => {
      req.unpipe(upstream);
      req.resume();
      // Once the 502 page is out, a later error (a write after the failed connect) changes nothing.
      if (res.writableEnded) return;
      if (!res.headersSent) sendPage(res, 502);
      else res.destroy();
    });
    upstream.on('response', (up) => {
      const headers: http.OutgoingHttpHeaders = { server: 'nginx' };
      for (const [k, v] of Object.entries(up.headers)) {
        // nginx drops the upstream's Server and Date and sends its own.
        if (v !== undefined && !HOP_BY_HOP.has(k) && k !== 'server' && k !== 'date') headers[k] = v;
      }
      res.writeHead(up.statusCode ?? 502, up.statusMessage, headers);
      up.pipe(res);
      up.on('error', () => res.destroy());
      up.on('aborted', () => res.destroy());
    });
    // The client went away before the answer was complete: so does the upstream request.
    res.on('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
    req.pipe(upstream);
  }

  private upgrade(
    req: http.IncomingMessage,
    socket: net.Socket,
    head: Buffer,
    scheme: 'http' | 'https',
  ): void {
    socket.on('error', () => socket.destroy());
    const d = this.decide(req, scheme);
    if ('status' in d) {
      rawPage(socket, d.status, d.location);
      return;
    }
    const up = safeDial(this.dial, d.pod, d.port);
    if (up instanceof Error) {
      rawPage(socket, 502);
      return;
    }
    this.sockets.add(up);
    const headers = this.forwardedHeaders(req, scheme);
    headers.connection = 'Upgrade';
    if (req.headers.upgrade) headers.upgrade = req.headers.upgrade;
    let lines = `${req.method} ${req.url} HTTP/1.1\r\n`;
    for (const [k, v] of Object.entries(headers)) {
      for (const x of [v].flat()) lines += `${k}: ${String(x)}\r\n`;
    }
    let connected = false;
    up.once('connect', () => {
      connected = true;
    });
    up.on('error', () => {
      if (!connected) rawPage(socket, 502);
      else socket.destroy();
    });
    up.write(`${lines}\r\n`);
    if (head.length) up.write(head);
    up.pipe(socket);
    socket.pipe(up);
    socket.on('close', () => up.destroy());
    up.on('close', () => socket.destroy());
  }
}

function sendPage(res: http.ServerResponse, status: number, location?: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = nginxPage(status);
  res.writeHead(status, REASONS[status], {
    server: 'nginx',
    'content-type': 'text/html',
    'content-length': Buffer.byteLength(body),
    ...(location ? { location } : {}),
  });
  res.end(body);
}

function rawPage(socket: net.Socket, status: number, location?: string): void {
  const body = nginxPage(status);
  socket.end(
    `HTTP/1.1 ${status} ${REASONS[status] ?? ''}\r\nServer: nginx\r\nContent-Type: text/html\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n${location ? `Location: ${location}\r\n` : ''}` +
      `Connection: close\r\n\r\n${body}`,
  );
}

export function listen(server: net.Server, host: string, port = 0): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port, exclusive: true }, () => {
      server.off('error', reject);
      const addr = server.address();
      resolve(typeof addr === 'object' && addr ? addr.port : port);
    });
  });
}
