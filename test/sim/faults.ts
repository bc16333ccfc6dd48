/**
 * Fault injection and the request audit log, shared by the API simulators. Each simulator names the failures
 * its real counterpart shows (`F`) and the fields its audit entries add; the rule matching, the seeded draws
 * and the audit queries live here once, so that a seed replays the same way in either simulator. Faults are
 * decided before authentication, as a load balancer or an overloaded front end would fail a request.
 */

/** Hold the request this long, then serve it normally. */
export interface LatencyAction {
  type: 'latency';
  ms: number;
}

/**
 * What a rule does: delay the request, or fail it in one of the simulator's ways. Latencies add up, while a
 * request fails at most once, so the two are told apart.
 */
export type FaultAction<F extends { type: string }> = F | LatencyAction;

export interface FaultMatch {
  method?: string;
  /** Matched against the path without the query. A string is a regular expression. */
  path?: RegExp | string;
  /** Matched against the raw query string (without `?`). */
  query?: RegExp | string;
}

export interface FaultRule<F extends { type: string }> extends FaultMatch {
  action: FaultAction<F>;
  /** Chance that a matching request is hit (default 1). */
  probability?: number;
  /** How many more requests this rule may hit; unlimited when absent. */
  times?: number;
}

export interface FaultDecision<F extends { type: string }> {
  latencyMs: number;
  fail?: F;
  rules: number[];
}

/** The fields every simulator records; each adds who asked and what it knows of the request. */
export interface AuditEntry {
  seq: number;
  time: string;
  method: string;
  path: string;
  query: Record<string, string | string[]>;
  /** 0 when the connection was dropped. */
  status: number;
  /** Set when a fault rule decided the outcome or added latency. */
  fault?: string;
  userAgent?: string;
}

/** mulberry32: small, seedable and good enough for test decisions (fault draws, the wire's cut points). */
export function prng(seed: number): () => number {
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

// A guard rather than `type === 'latency'`: on a union with a type parameter, TypeScript narrows only this way.
function isLatency<F extends { type: string }>(a: FaultAction<F>): a is LatencyAction {
  return a.type === 'latency';
}

export class Faults<F extends { type: string }> {
  private rules = new Map<number, FaultRule<F> & { pathRe?: RegExp; queryRe?: RegExp }>();
  private nextId = 1;
  private rand: () => number;

  constructor(seed = 1) {
    this.rand = prng(seed);
  }

  reseed(seed: number): void {
    this.rand = prng(seed);
  }

  /** Adds a rule; returns its id for `remove`. */
  add(rule: FaultRule<F>): number {
    const id = this.nextId++;
    this.rules.set(id, { ...rule, pathRe: toRegExp(rule.path), queryRe: toRegExp(rule.query) });
    return id;
  }

  /** The next `n` requests matching `match` get `action`. */
  next(n: number, match: FaultMatch, action: FaultAction<F>): number {
    return this.add({ ...match, action, times: n });
  }

  /** Every matching request gets `action` with this probability. */
  randomly(probability: number, match: FaultMatch, action: FaultAction<F>): number {
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

  decide(method: string, path: string, query: string): FaultDecision<F> {
    const d: FaultDecision<F> = { latencyMs: 0, rules: [] };
    for (const [id, r] of this.rules) {
      if (r.method && r.method.toUpperCase() !== method.toUpperCase()) continue;
      if (r.pathRe && !r.pathRe.test(path)) continue;
      if (r.queryRe && !r.queryRe.test(query)) continue;
      // A request fails once: a later failure rule neither draws from the PRNG nor spends one of its `times`.
      if (!isLatency(r.action) && d.fail) continue;
      if (r.probability !== undefined && this.rand() >= r.probability) continue;
      if (r.times !== undefined) {
        r.times -= 1;
        if (r.times <= 0) this.rules.delete(id);
      }
      d.rules.push(id);
      if (isLatency(r.action)) d.latencyMs += r.action.ms;
      else d.fail = r.action;
    }
    return d;
  }
}

/** Requests in the audit log matching method and path (a RegExp, or a string that must equal the path). */
export function countRequests(
  audit: readonly AuditEntry[],
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
export function writes<E extends AuditEntry>(audit: readonly E[]): E[] {
  return audit.filter((e) => e.method !== 'GET' && e.method !== 'HEAD');
}
