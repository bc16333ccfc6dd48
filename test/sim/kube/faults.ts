/**
 * Fault injection and the request audit log. Faults are decided before authentication, as a load
 * balancer or an overloaded apiserver would fail a request. Random faults draw from a seeded PRNG so
 * a failing test replays the same way.
 */

export type FaultAction =
  /** Answer with a Status of this code (500, 503, 429...). 429 carries `Retry-After`. */
  | { type: 'status'; code: number; retryAfterSeconds?: number; message?: string }
  /** Hold the request this long, then serve it normally. */
  | { type: 'latency'; ms: number }
  /** Destroy the socket without any response. */
  | { type: 'drop' }
  /**
   * Serve the request, then cut its connection mid-stream. A plain request is handled (a write is stored) and
   * its answer stops after the headers and half the body: the client sees a reset although the server acted.
   * An upgrade (exec, port-forward) is accepted and its socket destroyed (the client sees WebSocket close 1006)
   * before a frame would take the bytes sent to the client past `afterBytes`, or `afterMs` after it opened;
   * with neither, before the first frame past the port-forward's port prefixes (6 bytes).
   */
  | CutAction;

export interface CutAction {
  type: 'cut';
  afterBytes?: number;
  afterMs?: number;
}

export interface FaultMatch {
  method?: string;
  /** Matched against the path without the query. A string is a regular expression. */
  path?: RegExp | string;
  /** Matched against the raw query string (without `?`). */
  query?: RegExp | string;
}

export interface FaultRule extends FaultMatch {
  action: FaultAction;
  /** Chance that a matching request is hit (default 1). */
  probability?: number;
  /** How many more requests this rule may hit; unlimited when absent. */
  times?: number;
}

export interface FaultDecision {
  latencyMs: number;
  fail?: Exclude<FaultAction, { type: 'latency' }>;
  rules: number[];
}

export interface AuditEntry {
  seq: number;
  time: string;
  method: string;
  path: string;
  query: Record<string, string | string[]>;
  /** 0 when the connection was dropped; 101 for an upgrade handed to a handler. */
  status: number;
  user?: string;
  /** Set when a fault rule decided the outcome or added latency. */
  fault?: string;
  userAgent?: string;
}

/** mulberry32: small, fast and good enough for test decisions. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function toRegExp(v: RegExp | string | undefined): RegExp | undefined {
  if (v === undefined) return undefined;
  return typeof v === 'string' ? new RegExp(v) : v;
}

export class Faults {
  private rules = new Map<number, FaultRule & { pathRe?: RegExp; queryRe?: RegExp }>();
  private nextId = 1;
  private rand: () => number;

  constructor(seed = 1) {
    this.rand = prng(seed);
  }

  reseed(seed: number): void {
    this.rand = prng(seed);
  }

  /** Adds a rule; returns its id for `remove`. */
  add(rule: FaultRule): number {
    const id = this.nextId++;
    this.rules.set(id, { ...rule, pathRe: toRegExp(rule.path), queryRe: toRegExp(rule.query) });
    return id;
  }

  /** The next `n` requests matching `match` get `action`. */
  next(n: number, match: FaultMatch, action: FaultAction): number {
    return this.add({ ...match, action, times: n });
  }

  /** Every matching request gets `action` with this probability. */
  randomly(probability: number, match: FaultMatch, action: FaultAction): number {
    return this.add({ ...match, action, probability });
  }

  remove(id: number): void {
    this.rules.delete(id);
  }

  clear(): void {
    this.rules.clear();
  }

  get active(): number {
    return this.rules.size;
  }

  decide(method: string, path: string, query: string): FaultDecision {
    const d: FaultDecision = { latencyMs: 0, rules: [] };
    for (const [id, r] of this.rules) {
      if (r.method && r.method.toUpperCase() !== method.toUpperCase()) continue;
      if (r.pathRe && !r.pathRe.test(path)) continue;
      if (r.queryRe && !r.queryRe.test(query)) continue;
      if (r.action.type !== 'latency' && d.fail) continue;
      if (r.probability !== undefined && this.rand() >= r.probability) continue;
      if (r.times !== undefined) {
        r.times -= 1;
        if (r.times <= 0) this.rules.delete(id);
      }
      d.rules.push(id);
      if (r.action.type === 'latency') d.latencyMs += r.action.ms;
      else d.fail = r.action;
    }
    return d;
  }
}

/** Requests in the audit log matching method and path (a RegExp, or a string that must equal the path). */
export function countRequests(
  audit: AuditEntry[],
  match: { method?: string; path?: RegExp | string } = {},
): number {
  return audit.filter(
    (e) =>
      (!match.method || e.method === match.method.toUpperCase()) &&
      (match.path === undefined ||
        (typeof match.path === 'string' ? e.path === match.path : match.path.test(e.path))),
  ).length;
}

/** Writes (POST, PUT, PATCH, DELETE) in the audit log, for "no write happened" assertions. */
export function writes(audit: AuditEntry[]): AuditEntry[] {
  return audit.filter((e) => e.method !== 'GET' && e.method !== 'HEAD');
}
