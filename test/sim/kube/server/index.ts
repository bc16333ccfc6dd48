/**
 * The HTTPS front of the simulator: the filter chain of a real kube-apiserver (faults, authentication,
 * request-info parsing, authorization) and then the REST handlers, in the order that decides which error a
 * client sees first (an unknown resource asked by a user with no rights is a 403, as on a real server).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { STATUS_CODES } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import { closeServer, listen } from '../../listen.js';
import { errors, type StatusBody, StatusError } from '../errors.js';
import type { AuditEntry, CutAction } from '../faults.js';
import type { Identity } from '../rbac.js';
import { WatchRegistry } from '../watch.js';
import { errorReply, readBody, send, writeRaw } from './replies.js';
import { route } from './routing.js';
import { type Api, type Ctx, queryObject, type Reply, type ServerDeps } from './types.js';

export type { UpgradeContext, UpgradeHandler, UpgradeKind } from './types.js';

export class ApiServer {
  readonly server: Server;
  readonly watches = new WatchRegistry();
  private readonly sockets = new Set<Duplex>();
  private readonly api: Api;
  private seq = 0;

  constructor(
    private readonly deps: ServerDeps,
    tls: { key: string; cert: string },
  ) {
    const chosenProtocol = new WeakMap<IncomingMessage, string>();
    const wss = new WebSocketServer({
      noServer: true,
      perMessageDeflate: false,
      handleProtocols: (_offered, req) => chosenProtocol.get(req) ?? false,
    });
    this.api = { deps, watches: this.watches, upgrades: { wss, chosenProtocol } };
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
    return listen(this.server, port, host);
  }

  close(): Promise<void> {
    this.watches.closeAll();
    for (const c of this.api.upgrades.wss.clients) c.terminate();
    return closeServer(this.server, this.sockets);
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
    if (!id) return { reply: errorReply(errors.unauthorized()) };
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
        send(res, front.reply);
        return;
      }
      const ctx: Ctx = { req, method: req.method ?? 'GET', url, body, id: front.id, warnings: [], entry };
      const reply = await route(this.api, ctx, res);
      if (!reply) {
        entry.status = 200; // a watch: the stream is under way
        return;
      }
      entry.status = reply.status;
      send(res, reply, ctx.warnings, front.cut !== undefined);
    } catch (e) {
      const reply = errorReply(e);
      entry.status = reply.status;
      if (!res.headersSent) send(res, reply);
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
      const reply = await route(this.api, ctx, undefined);
      if (!reply) {
        // Handed to an upgrade handler, which may already have refused it.
        if (entry.status === 0) entry.status = 101;
        return;
      }
      entry.status = reply.status;
      writeRaw(socket, reply);
    } catch (e) {
      const reply = errorReply(e);
      entry.status = reply.status;
      writeRaw(socket, reply);
    }
  }
}
