/**
 * The HTTP front of the GitHub simulator. Order of a request, as GitHub answers them: faults; authentication
 * (401); the primary rate limit (403, counted per token); the route (404, or 501 for a real route the simulator
 * does not emulate); path parameters (422); the repository (404 when missing or hidden from the token);
 * permissions (403); the secondary content limit (403 + retry-after); JSON parsing (400); query and body
 * schemas (422); the operation. Every contract mismatch is recorded in `violations`, in either direction.
 */
import { randomBytes } from 'node:crypto';
import {
  createServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
  STATUS_CODES,
} from 'node:http';
import type { Socket } from 'node:net';
import { closeServer, listen } from '../listen.js';
import type { AuditEntry, Faults } from './faults.js';
import { ApiError, type Ctx, handlers, type Need, type Reply } from './handlers.js';
import type { OpenApi, Operation } from './openapi.js';
import { RateLimits } from './ratelimit.js';
import type { Json, Urls } from './render.js';
import type { GitHubState, PermissionName, SimRepo, SimToken } from './state.js';

export interface Violation {
  /**
   * `route`: no such route on GitHub; `unemulated`: a GitHub route the simulator does not serve; `request`:
   * the request does not match the description (answered 422/400, or only reported when GitHub would ignore
   * it, e.g. an unknown parameter); `response`: the simulator's own answer does not match (a simulator bug).
   */
  kind: 'route' | 'unemulated' | 'request' | 'response';
  seq: number;
  method: string;
  path: string;
  operationId?: string;
  status: number;
  errors: string[];
}

export interface ServerDeps {
  state: GitHubState;
  openapi: OpenApi;
  faults: Faults;
  limits: RateLimits;
  audit: AuditEntry[];
  violations: Violation[];
  /** Filled in once the port is known. */
  urls: Urls;
}

const API_VERSION = '2022-11-28';
const REST_DOCS = 'https://docs.github.com/rest';
const RATE_DOCS = 'https://docs.github.com/rest/overview/rate-limits-for-the-rest-api';
const SECONDARY_DOCS =
  'https://docs.github.com/free-pro-team@latest/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits';
/** Workflow `permissions:` names → the names GitHub uses in headers and app permissions. */
const API_PERMISSION: Record<PermissionName, string> = {
  actions: 'actions',
  checks: 'checks',
  contents: 'contents',
  deployments: 'deployments',
  environments: 'environments',
  issues: 'issues',
  metadata: 'metadata',
  'pull-requests': 'pull_requests',
  statuses: 'statuses',
};

function requestId(): string {
  const h = (n: number) => randomBytes(n).toString('hex').toUpperCase();
  return `${h(2)}:${h(3)}:${h(3)}:${h(3)}:${h(4)}`;
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function queryObject(q: URLSearchParams): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const k of new Set(q.keys())) {
    const all = q.getAll(k);
    out[k] = all.length === 1 ? (all[0] as string) : all;
  }
  return out;
}

function allows(token: SimToken, need: Need): boolean {
  if (!token.permissions) return true;
  const [name, level] = need;
  if (name === 'metadata' && level === 'read') return true;
  const have = token.permissions[name];
  return have === 'write' || (have === 'read' && level === 'read');
}

export class GitHubServer {
  readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private seq = 0;

  constructor(private readonly deps: ServerDeps) {
    this.server = createServer((req, res) => {
      void this.onRequest(req, res);
    });
    this.server.on('connection', (s: Socket) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
  }

  listen(port: number, host: string): Promise<number> {
    return listen(this.server, port, host);
  }

  close(): Promise<void> {
    return closeServer(this.server, this.sockets);
  }

  private violation(entry: AuditEntry, kind: Violation['kind'], status: number, errors: string[]): void {
    this.deps.violations.push({
      kind,
      seq: entry.seq,
      method: entry.method,
      path: entry.path,
      ...(entry.operationId ? { operationId: entry.operationId } : {}),
      status,
      errors,
    });
  }

  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    res.on('error', () => {});
    const url = new URL(req.url ?? '/', this.deps.urls.api);
    const method = (req.method ?? 'GET').toUpperCase();
    const entry: AuditEntry = {
      seq: ++this.seq,
      time: new Date().toISOString(),
      method,
      path: url.pathname,
      query: queryObject(url.searchParams),
      status: 0,
    };
    if (req.headers['user-agent']) entry.userAgent = req.headers['user-agent'];
    this.deps.audit.push(entry);
    const rid = requestId();
    const headers: Record<string, string> = {
      'x-github-request-id': rid,
      'x-github-api-version-selected': API_VERSION,
      'x-github-media-type': 'github.v3; format=json',
    };
    let op: Operation | undefined;
    try {
      const raw = await readBody(req);
      const text = raw.toString('utf8');
      let parsed: unknown;
      let parseError = false;
      if (text.trim() !== '') {
        try {
          parsed = JSON.parse(text);
          entry.body = parsed;
        } catch {
          parseError = true;
          entry.body = text;
        }
      }

      // Faults first: an overloaded front end fails before looking at credentials.
      const d = this.deps.faults.decide(method, url.pathname, url.search.replace(/^\?/, ''));
      if (d.rules.length) {
        const fail = d.fail ? d.fail.type + (d.fail.type === 'status' ? ` ${d.fail.code}` : '') : undefined;
        entry.fault = [fail, d.latencyMs ? `latency ${d.latencyMs}ms` : undefined].filter(Boolean).join(', ');
      }
      if (d.latencyMs > 0) await new Promise((r) => setTimeout(r, d.latencyMs));
      const token = this.authenticate(req);
      if (token) entry.login = token.login;
      const limit = token ? this.deps.limits.window(token.token, token.rateLimit) : undefined;
      if (d.fail?.type === 'drop') {
        req.socket.destroy();
        return;
      }
      if (d.fail) {
        const f = d.fail;
        if (f.type === 'status') {
          return this.send(res, entry, headers, {
            status: f.code,
            body: { message: f.message ?? STATUS_CODES[f.code] ?? 'Error', status: String(f.code) },
          });
        }
        if (limit) Object.assign(headers, RateLimits.headers(limit));
        if (f.type === 'secondary-rate-limit') {
          return this.send(
            res,
            entry,
            headers,
            this.secondaryLimited(rid, f.status ?? 403, f.retryAfterSeconds ?? 60),
          );
        }
        const reset = Math.floor(this.deps.state.now().getTime() / 1000) + (f.resetInSeconds ?? 3600);
        Object.assign(headers, {
          'x-ratelimit-remaining': '0',
          'x-ratelimit-reset': String(reset),
          'x-ratelimit-used': String(limit?.limit ?? 5000),
        });
        return this.send(res, entry, headers, this.primaryLimited(token, f.status ?? 403, rid));
      }

      // Authentication.
      const auth = req.headers.authorization;
      if (!token) {
        return this.send(res, entry, headers, {
          status: 401,
          body: {
            message: auth ? 'Bad credentials' : 'Requires authentication',
            documentation_url: REST_DOCS,
            status: '401',
          },
        });
      }
      const user = this.deps.state.user(token.login);

      // Primary rate limit: every authenticated request counts, whatever its answer.
      const counted = this.deps.limits.take(token.token, token.rateLimit);
      Object.assign(
        headers,
        RateLimits.headers(limit ?? this.deps.limits.window(token.token, token.rateLimit)),
      );
      if (!counted) return this.send(res, entry, headers, this.primaryLimited(token, 403, rid));

      // GitHub's pagination links name repositories by id; the description only knows /repos/{owner}/{repo}.
      let path = url.pathname;
      const byId = /^\/repositories\/(\d+)(\/.*)?$/.exec(path);
      if (byId) {
        const r = [...this.deps.state.repos.values()].find((x) => x.id === Number(byId[1]));
        path = r ? `/repos/${r.owner}/${r.name}${byId[2] ?? ''}` : path;
      }
      const match = this.deps.openapi.match(method === 'HEAD' ? 'GET' : method, path);
      if (!match) {
        this.violation(entry, 'route', 404, [
          `${method} ${url.pathname} is not a route of GitHub's REST API`,
        ]);
        return this.send(res, entry, headers, {
          status: 404,
          body: { message: 'Not Found', documentation_url: REST_DOCS, status: '404' },
        });
      }
      op = match.op;
      entry.operationId = op.id;
      const handler = handlers[op.id];
      if (!handler) {
        this.violation(entry, 'unemulated', 501, [`${op.id} (${op.method} ${op.template}) is not emulated`]);
        return this.send(res, entry, headers, {
          status: 501,
          body: {
            message: `The GitHub simulator does not emulate ${op.id}`,
            documentation_url: op.docsUrl,
            status: '501',
          },
        });
      }

      const check = this.deps.openapi.checkParameters(op, match.params, url.searchParams);
      if (check.pathErrors.length) return this.invalid(res, entry, headers, op, check.pathErrors);

      let repo: SimRepo | undefined;
      if (handler.repoScoped) {
        repo = this.deps.state.repo(String(match.params.owner), String(match.params.repo));
        const visible =
          repo &&
          (!token.repositories || token.repositories.includes(`${repo.owner}/${repo.name}`.toLowerCase()));
        if (!repo || !visible) throw new ApiError(404, 'Not Found');
      }
      const ctx: Ctx = {
        state: this.deps.state,
        urls: this.deps.urls,
        op,
        params: check.values,
        body: parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Json) : {},
        token,
        user,
        repo: repo as SimRepo,
        url,
      };

      const needs = handler.permissions?.(ctx);
      if (needs?.length) {
        headers['x-accepted-github-permissions'] = needs
          .map((set) => set.map(([n, l]) => `${API_PERMISSION[n]}=${l}`).join(','))
          .join('; ');
        const readOnly = needs.every((set) => set.every(([, l]) => l === 'read'));
        const publicRead = readOnly && repo && !repo.private;
        if (!publicRead && !needs.some((set) => set.every((n) => allows(token, n)))) {
          throw new ApiError(
            403,
            token.kind === 'installation'
              ? 'Resource not accessible by integration'
              : 'Resource not accessible by personal access token',
          );
        }
      }

      if (handler.createsContent && !this.deps.limits.createContent(token.token)) {
        return this.send(res, entry, headers, this.secondaryLimited(rid, 403, 60));
      }

      if (parseError) {
        this.violation(entry, 'request', 400, ['the body is not JSON']);
        throw new ApiError(400, 'Problems parsing JSON');
      }
      if (parsed !== undefined && (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))) {
        this.violation(entry, 'request', 400, ['the body is not a JSON object']);
        throw new ApiError(400, 'Body should be a JSON object');
      }
      const body = op.bodySchema
        ? this.deps.openapi.checkBody(op, parsed ?? {})
        : { errors: [], unknown: [] };
      const errors = [...check.errors, ...body.errors];
      if (errors.length) return this.invalid(res, entry, headers, op, errors);
      const unknown = [...check.unknown, ...(op.bodySchema ? body.unknown : [])];
      if (!op.bodySchema && parsed !== undefined && method !== 'GET' && method !== 'HEAD') {
        unknown.push('a request body (the operation takes none)');
      }
      if (unknown.length) {
        // GitHub ignores these; a test still wants to know the client sent something that has no effect.
        this.violation(
          entry,
          'request',
          0,
          unknown.map((u) => `unknown ${u}, ignored by GitHub`),
        );
      }

      const reply = handler.run(ctx);
      return this.send(res, entry, headers, reply, op);
    } catch (e) {
      if (e instanceof ApiError) {
        const body: Json = { message: e.message };
        if (e.errors) body.errors = e.errors;
        body.documentation_url = op?.docsUrl ?? REST_DOCS;
        body.status = String(e.status);
        return this.send(res, entry, headers, { status: e.status, body }, op);
      }
      const message = e instanceof Error ? (e.stack ?? e.message) : String(e);
      this.violation(entry, 'response', 500, [`the simulator failed: ${message}`]);
      return this.send(res, entry, headers, {
        status: 500,
        body: { message: 'Server Error', status: '500' },
      });
    }
  }

  private authenticate(req: IncomingMessage): SimToken | undefined {
    const m = /^(?:token|bearer)\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
    return m ? this.deps.state.tokens.get(m[1] as string) : undefined;
  }

  private invalid(
    res: ServerResponse,
    entry: AuditEntry,
    headers: Record<string, string>,
    op: Operation,
    errors: string[],
  ): void {
    this.violation(entry, 'request', 422, errors);
    this.send(
      res,
      entry,
      headers,
      {
        status: 422,
        body: {
          message: `Invalid request.\n\n${errors.join('\n')}`,
          documentation_url: op.docsUrl,
          status: '422',
        },
      },
      op,
    );
  }

  private primaryLimited(token: SimToken | undefined, status: number, rid: string): Reply {
    const who =
      token?.kind === 'installation'
        ? `installation ID ${token.installationId}`
        : `user ID ${token ? this.deps.state.user(token.login).id : 0}`;
    return {
      status,
      body: {
        message: `API rate limit exceeded for ${who}. If you reach out to GitHub Support for help, please include the request ID ${rid} and timestamp ${this.deps.state
          .now()
          .toISOString()
          .replace('T', ' ')
          .replace(/\.\d+Z$/, ' UTC')}.`,
        documentation_url: RATE_DOCS,
        status: String(status),
      },
    };
  }

  private secondaryLimited(rid: string, status: number, retryAfter: number): Reply {
    return {
      status,
      headers: { 'retry-after': String(retryAfter) },
      body: {
        message: `You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID ${rid}.`,
        documentation_url: SECONDARY_DOCS,
        status: String(status),
      },
    };
  }

  private send(
    res: ServerResponse,
    entry: AuditEntry,
    headers: Record<string, string>,
    reply: Reply,
    op?: Operation,
  ): void {
    entry.status = reply.status;
    if (op) {
      const problems = this.deps.openapi.checkResponse(op, reply.status, reply.body);
      if (problems?.length) this.violation(entry, 'response', reply.status, problems.slice(0, 20));
    }
    const all: Record<string, string> = { ...headers, ...reply.headers };
    let payload = '';
    if (reply.body !== undefined && reply.status !== 204) {
      payload = JSON.stringify(reply.body);
      all['content-type'] = 'application/json; charset=utf-8';
    }
    all['content-length'] = String(Buffer.byteLength(payload));
    res.writeHead(reply.status, all);
    res.end(entry.method === 'HEAD' ? undefined : payload);
  }
}
