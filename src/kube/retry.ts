/**
 * Retrying Kubernetes API calls that failed for a reason that passes: an API server that is restarting,
 * overloaded (429, 503) or behind a load balancer that drops a connection now and then. A run makes a few
 * hundred requests, and one of them failing must not fail the deploy.
 *
 * What is retried: 429 (after its Retry-After), 5xx (except the semantic 500s of server-side apply, see
 * `isTransientError`, and 501/505, which do not change on a retry), dropped connections and timeouts. A
 * refused connection or a name that does not resolve is retried only once the server has answered at least
 * once: before that it is a wrong address far more often than a restart, and the user should hear so at once.
 * Never retried: other 4xx, TLS failures, and anything after the caller's own signal aborted.
 *
 * How: exponential backoff with full jitter (a uniform wait in [0, min(cap, base * 2^n)], so clients that failed
 * together do not come back together), a Retry-After is waited for in full, and the whole call, attempts and
 * waits, is bounded by a time budget and an attempt count. A wait that would end past the budget is not
 * started: the caller gets the last error at once.
 *
 * Outcome-unknown failures: a dropped connection, a timeout or a 5xx may come after the server applied the
 * request. For reads and idempotent writes (GET, server-side apply) that does not matter. For the others the
 * error that ends the call is marked (`followsUncertainAttempt`), so a create answered 409 AlreadyExists, or a
 * DELETE answered 404, can be recognised as the effect of an earlier attempt.
 */
import { KubeApiError } from '../errors.js';
import { type KubeLog, noopLog } from '../util/log.js';
import { sleep } from '../util/sleep.js';
import { ApiException } from './client-node.js';
import {
  classifyNetworkCode,
  httpStatusOf,
  isTransientError,
  networkErrorCode,
  parseErrorBody,
} from './errors.js';

export interface RetryPolicy {
  /** Bound on one call, attempts and waits included. */
  budgetMs: number;
  /** Attempts at most, the first one included. */
  maxAttempts: number;
  /** The backoff's first ceiling; it doubles with every attempt. */
  baseDelayMs: number;
  /** The backoff's largest ceiling. */
  maxDelayMs: number;
}

/** The API calls of a run: 60 s and 8 attempts per call, backoff ceilings 250 ms, 500 ms ... 8 s. */
export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  budgetMs: 60_000,
  maxAttempts: 8,
  baseDelayMs: 250,
  maxDelayMs: 8_000,
};

/**
 * The WebSocket openings (exec, one port-forward per Docker connection): the Docker client or the upload waits
 * behind each, so the bound is tighter.
 */
export const WEBSOCKET_RETRY_POLICY: RetryPolicy = {
  budgetMs: 30_000,
  maxAttempts: 6,
  baseDelayMs: 250,
  maxDelayMs: 4_000,
};

export type RetryDecision =
  | { retry: false }
  | {
      retry: true;
      /** For the log: `HTTP 503`, `ECONNRESET`, ... */
      reason: string;
      /** What the server asked for (Retry-After), in ms. */
      retryAfterMs?: number;
      /** The server may have applied the request (the answer was lost, or a 5xx came from a proxy after it). */
      uncertain: boolean;
    };

export interface ClassifyOptions {
  /** The server has answered before: a refused connection or a failed name lookup is then transient. */
  reachedServer: boolean;
  signal?: AbortSignal;
}

function isAbortError(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { name?: unknown }).name === 'AbortError';
}

/** Retry-After in ms: the header (seconds or an HTTP date), else the Status's `details.retryAfterSeconds`. */
export function retryAfterMsOf(err: unknown, now = Date.now()): number | undefined {
  if (err instanceof ApiException) {
    const headers = (err.headers ?? {}) as Record<string, string | undefined>;
    const raw = headers['retry-after'] ?? headers['Retry-After'];
    if (raw !== undefined && raw.trim() !== '') {
      const seconds = Number(raw);
      if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
      const date = Date.parse(raw);
      if (Number.isFinite(date)) return Math.max(0, date - now);
    }
  }
  let seconds: number | undefined;
  if (err instanceof KubeApiError) {
    try {
      seconds = parseErrorBody(err.details ?? '').status?.details?.retryAfterSeconds;
    } catch {
      seconds = undefined;
    }
  } else if (typeof err === 'object' && err !== null && 'body' in err) {
    seconds = parseErrorBody((err as { body: unknown }).body).status?.details?.retryAfterSeconds;
  }
  return typeof seconds === 'number' && Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : undefined;
}

/** The network code of a failure without an HTTP answer (ECONNRESET, ...), for raw and converted errors. */
function networkCodeOf(err: unknown): string | undefined {
  if (err instanceof KubeApiError) return err.code === undefined ? err.reason : undefined;
  return networkErrorCode(err);
}

/** Whether a failed attempt is worth another, and what the log should say. Pure. */
export function classifyFailure(err: unknown, opts: ClassifyOptions): RetryDecision {
  if (opts.signal?.aborted || isAbortError(err)) return { retry: false };
  const status = httpStatusOf(err);
  if (status !== undefined) {
    if (status === 501 || status === 505) return { retry: false };
    if (!isTransientError(err)) return { retry: false };
    return {
      retry: true,
      reason: `HTTP ${status}`,
      retryAfterMs: retryAfterMsOf(err),
      // 429 is answered before the request is handled (max-in-flight, API priority and fairness).
      uncertain: status !== 429,
    };
  }
  const code = networkCodeOf(err);
  if (!code || !isTransientError(err)) return { retry: false };
  const kind = classifyNetworkCode(code);
  if ((kind === 'unreachable' || kind === 'dns') && !opts.reachedServer) return { retry: false };
  // Refused or unresolved: nothing was sent.
  return { retry: true, reason: code, uncertain: kind === 'reset' || kind === 'timeout' };
}

/** Full jitter: a uniform wait in [0, min(maxDelay, base * 2^(attempt-1))]. `attempt` counts from 1. */
export function backoffMs(attempt: number, policy: RetryPolicy, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, attempt - 1));
  return Math.floor(random() * ceiling);
}

/** How long to wait before the next attempt: Retry-After in full when the server asked, else the backoff. */
export function delayBeforeRetry(
  attempt: number,
  decision: { retryAfterMs?: number },
  policy: RetryPolicy,
  random: () => number = Math.random,
): number {
  const backoff = backoffMs(attempt, policy, random);
  return decision.retryAfterMs === undefined ? backoff : Math.max(decision.retryAfterMs, backoff);
}

const uncertainErrors = new WeakSet<object>();

/**
 * True when `err` ended a call of which an earlier attempt may have been applied by the server: a 409
 * AlreadyExists on a create, or a 404 on a DELETE, may then be that attempt's doing.
 */
export function followsUncertainAttempt(err: unknown): boolean {
  return typeof err === 'object' && err !== null && uncertainErrors.has(err);
}

export interface AttemptInfo {
  /** 1 for the first attempt. */
  attempt: number;
  /** An earlier attempt may have been applied. */
  uncertain: boolean;
  /** Time left in the budget, for the attempt's own timeout. */
  remainingMs: number;
}

export interface RetryOptions {
  /** What is being done, for the log: `GET /api/v1/...`, `exec in pod x`. */
  what: string;
  policy?: RetryPolicy;
  log?: KubeLog;
  signal?: AbortSignal;
  /** Default: `classifyFailure` with `reachedServer`. */
  classify?: (err: unknown) => RetryDecision;
  /** For `classifyFailure`; read at every failure (it may change while the call runs). */
  reachedServer?: () => boolean;
  /** Test seams. */
  random?: () => number;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  now?: () => number;
}

function seconds(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`;
}

/**
 * Run `fn` until it succeeds, fails for good, or the policy's budget or attempts are spent. Rejects with the
 * last attempt's error, as it was thrown (callers read its status and body as usual).
 */
export async function withRetry<T>(fn: (info: AttemptInfo) => Promise<T>, opts: RetryOptions): Promise<T> {
  const policy = opts.policy ?? DEFAULT_RETRY_POLICY;
  const log = opts.log ?? noopLog;
  const now = opts.now ?? Date.now;
  const wait = opts.sleep ?? sleep;
  const classify =
    opts.classify ??
    ((err: unknown) =>
      classifyFailure(err, { reachedServer: opts.reachedServer?.() ?? false, signal: opts.signal }));
  const deadline = now() + policy.budgetMs;
  let uncertain = false;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn({ attempt, uncertain, remainingMs: Math.max(0, deadline - now()) });
    } catch (err) {
      const decision = opts.signal?.aborted ? ({ retry: false } as const) : classify(err);
      const giveUp = (why: string) => {
        if (uncertain && typeof err === 'object' && err !== null) uncertainErrors.add(err);
        if (why) log.info(`${opts.what}: ${why}; giving up after ${attempt} attempts.`);
        return err;
      };
      // Not transient: the caller explains it; nothing to add.
      if (!decision.retry) throw giveUp('');
      const delay = delayBeforeRetry(attempt, decision, policy, opts.random);
      if (attempt >= policy.maxAttempts) throw giveUp(`${decision.reason} again`);
      if (now() + delay >= deadline) {
        throw giveUp(
          decision.retryAfterMs !== undefined && decision.retryAfterMs > deadline - now()
            ? `${decision.reason}, and the server asks to wait ${seconds(decision.retryAfterMs)}, past the ${seconds(policy.budgetMs)} budget`
            : `${decision.reason} again, and the ${seconds(policy.budgetMs)} budget is spent`,
        );
      }
      uncertain ||= decision.uncertain;
      log.info(
        `${opts.what}: ${decision.reason}${decision.retryAfterMs !== undefined ? ` (Retry-After ${seconds(decision.retryAfterMs)})` : ''}; retrying in ${seconds(delay)} (attempt ${attempt + 1} of at most ${policy.maxAttempts}).`,
      );
      await wait(delay, opts.signal);
    }
  }
}

/**
 * For a WebSocket opening (exec, port-forward): the handshake's failures arrive as KubeApiError (see stream/websocket.ts)
 * and are retried as a request's would be; the API server had answered before (the run connected first).
 */
export function classifyOpening(err: unknown, signal?: AbortSignal): RetryDecision {
  if (!(err instanceof KubeApiError)) return { retry: false };
  return classifyFailure(err, { reachedServer: true, signal });
}

/** `fn` (which opens a WebSocket) under WEBSOCKET_RETRY_POLICY, retrying failed handshakes. */
export function retryOpening<T>(
  what: string,
  fn: (info: AttemptInfo) => Promise<T>,
  opts: { log?: KubeLog; policy?: Partial<RetryPolicy>; signal?: AbortSignal } = {},
): Promise<T> {
  return withRetry(fn, {
    what,
    policy: { ...WEBSOCKET_RETRY_POLICY, ...opts.policy },
    log: opts.log,
    signal: opts.signal,
    classify: (err) => classifyOpening(err, opts.signal),
  });
}
