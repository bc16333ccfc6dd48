/**
 * The retry policy of Kubernetes API calls (src/kube/retry.ts): the pure parts (backoff bounds, Retry-After,
 * which failures are retried), the loop under a fake clock, and through a real client against a tiny
 * stand-in API server that fails the way API servers and load balancers do, including answers lost after
 * the server acted (a create, a delete).
 */
import { readdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { ApiException } from '@kubernetes/client-node';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { againAfterDrop } from '../../../src/bridge/deploy.js';
import { applyObjects } from '../../../src/environment/apply.js';
import { KubeApiError } from '../../../src/errors.js';
import { connect, type KubeClient } from '../../../src/kube/client.js';
import { toKubeError } from '../../../src/kube/errors.js';
import {
  backoffMs,
  classifyFailure,
  classifyOpening,
  DEFAULT_RETRY_POLICY,
  delayBeforeRetry,
  followsUncertainAttempt,
  type RetryPolicy,
  retryAfterMsOf,
  withRetry,
} from '../../../src/kube/retry.js';
import type { KubeObject } from '../../../src/kube/types.js';
import { captureLog } from '../support.js';

const fixtures = path.join(import.meta.dirname, '../../fixtures/kube-api');
function body(num: string): unknown {
  const file = readdirSync(fixtures).find((f) => f.startsWith(`${num}-`))!;
  return (JSON.parse(readFileSync(path.join(fixtures, file), 'utf8')) as { response: { body: unknown } })
    .response.body;
}

function status(code: number, reason: string, extra: Record<string, unknown> = {}) {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message: `${reason} (test)`,
    reason,
    code,
    ...extra,
  };
}

function apiError(code: number, b: unknown, headers: Record<string, string> = {}): ApiException<string> {
  return new ApiException<string>(code, 'test', JSON.stringify(b), headers);
}

function coded(code: string): Error {
  return Object.assign(new Error(code), { code });
}

/** undici's shape: `TypeError: fetch failed` with the socket error as its cause. */
function fetchFailed(cause: Error): TypeError {
  return new TypeError('fetch failed', { cause });
}

const reached = { reachedServer: true };

describe('backoff', () => {
  const policy: RetryPolicy = { budgetMs: 60_000, maxAttempts: 8, baseDelayMs: 250, maxDelayMs: 8000 };

  it('is a uniform wait under a ceiling that doubles per attempt up to the cap (full jitter)', () => {
    const top = () => 0.999_999;
    expect([1, 2, 3, 4, 5, 6, 7, 8].map((n) => backoffMs(n, policy, top))).toEqual([
      249, 499, 999, 1999, 3999, 7999, 7999, 7999,
    ]);
    expect([1, 5, 8].map((n) => backoffMs(n, policy, () => 0))).toEqual([0, 0, 0]);
    for (let n = 1; n <= 10; n++) {
      for (let i = 0; i < 200; i++) {
        const d = backoffMs(n, policy);
        expect(d).toBeGreaterThanOrEqual(0);
        expect(d).toBeLessThan(Math.min(8000, 250 * 2 ** (n - 1)));
      }
    }
  });

  it('waits at least what Retry-After asks', () => {
    expect(delayBeforeRetry(1, { retryAfterMs: 3000 }, policy, () => 0.5)).toBe(3000);
    // A backoff longer than Retry-After wins: the server asked for a minimum.
    expect(delayBeforeRetry(7, { retryAfterMs: 1000 }, policy, () => 0.5)).toBe(4000);
    expect(delayBeforeRetry(2, {}, policy, () => 0.5)).toBe(250);
  });

  it('the defaults: 60 s and 8 attempts per call, ceilings from 250 ms to 8 s', () => {
    expect(DEFAULT_RETRY_POLICY).toEqual({
      budgetMs: 60_000,
      maxAttempts: 8,
      baseDelayMs: 250,
      maxDelayMs: 8000,
    });
  });
});

describe('Retry-After', () => {
  it('from the header in seconds or as a date, else from the Status details', () => {
    expect(retryAfterMsOf(apiError(429, status(429, 'TooManyRequests'), { 'retry-after': '3' }))).toBe(3000);
    const now = Date.parse('2025-01-01T00:00:00Z');
    expect(
      retryAfterMsOf(
        apiError(503, status(503, 'ServiceUnavailable'), { 'retry-after': 'Wed, 01 Jan 2025 00:00:05 GMT' }),
        now,
      ),
    ).toBe(5000);
    expect(
      retryAfterMsOf(apiError(429, status(429, 'TooManyRequests', { details: { retryAfterSeconds: 2 } }))),
    ).toBe(2000);
    // The WebSocket handshake's errors are already converted: the Status is in `details`.
    const converted = toKubeError(
      {
        code: 429,
        body: JSON.stringify(status(429, 'TooManyRequests', { details: { retryAfterSeconds: 4 } })),
      },
      'port-forward',
    );
    expect(retryAfterMsOf(converted)).toBe(4000);
    expect(retryAfterMsOf(apiError(503, status(503, 'ServiceUnavailable')))).toBeUndefined();
  });
});

describe('which failures are retried', () => {
  it('429 (answered before the request is handled) and 5xx (outcome unknown)', () => {
    expect(
      classifyFailure(apiError(429, status(429, 'TooManyRequests'), { 'retry-after': '1' }), reached),
    ).toEqual({ retry: true, reason: 'HTTP 429', retryAfterMs: 1000, uncertain: false });
    for (const code of [500, 502, 503, 504]) {
      expect(classifyFailure(apiError(code, status(code, 'InternalError')), reached)).toMatchObject({
        retry: true,
        reason: `HTTP ${code}`,
        uncertain: true,
      });
    }
  });

  it('not the 4xx that a retry would not change, nor 501/505, nor the semantic 500 of server-side apply', () => {
    for (const code of [400, 401, 403, 404, 409, 410, 415, 422]) {
      expect(classifyFailure(apiError(code, status(code, 'X')), reached), String(code)).toEqual({
        retry: false,
      });
    }
    expect(classifyFailure(apiError(501, status(501, 'NotImplemented')), reached)).toEqual({ retry: false });
    expect(classifyFailure(apiError(505, status(505, 'X')), reached)).toEqual({ retry: false });
    // `.spec.bogus: field not declared in schema`, recorded from a real server: a retry fails the same way.
    expect(classifyFailure(apiError(500, body('056')), reached)).toEqual({ retry: false });
  });

  it('dropped connections and timeouts; refused or unresolved ones only once the server has answered', () => {
    expect(classifyFailure(fetchFailed(coded('ECONNRESET')), reached)).toEqual({
      retry: true,
      reason: 'ECONNRESET',
      uncertain: true,
    });
    expect(classifyFailure(fetchFailed(coded('UND_ERR_SOCKET')), reached)).toMatchObject({ retry: true });
    expect(classifyFailure(new DOMException('timed out', 'TimeoutError'), reached)).toMatchObject({
      retry: true,
      reason: 'TimeoutError',
      uncertain: true,
    });
    expect(classifyFailure(fetchFailed(coded('ECONNREFUSED')), reached)).toEqual({
      retry: true,
      reason: 'ECONNREFUSED',
      uncertain: false,
    });
    expect(classifyFailure(fetchFailed(coded('ECONNREFUSED')), { reachedServer: false })).toEqual({
      retry: false,
    });
    expect(classifyFailure(fetchFailed(coded('ENOTFOUND')), { reachedServer: false })).toEqual({
      retry: false,
    });
    expect(classifyFailure(fetchFailed(coded('ENOTFOUND')), reached)).toMatchObject({ retry: true });
  });

  it('never TLS failures, aborts, or anything once the caller aborted', () => {
    expect(classifyFailure(fetchFailed(coded('UNABLE_TO_VERIFY_LEAF_SIGNATURE')), reached)).toEqual({
      retry: false,
    });
    expect(classifyFailure(new DOMException('aborted', 'AbortError'), reached)).toEqual({ retry: false });
    const ac = new AbortController();
    ac.abort();
    expect(
      classifyFailure(apiError(503, status(503, 'ServiceUnavailable')), { ...reached, signal: ac.signal }),
    ).toEqual({ retry: false });
  });

  it('WebSocket openings: the converted handshake errors, 5xx/429/network only', () => {
    const refused = toKubeError(
      { code: 503, body: JSON.stringify(status(503, 'ServiceUnavailable')) },
      'exec',
    );
    expect(classifyOpening(refused)).toMatchObject({ retry: true, reason: 'HTTP 503' });
    expect(classifyOpening(toKubeError(fetchFailed(coded('ECONNRESET')), 'exec'))).toMatchObject({
      retry: true,
      reason: 'ECONNRESET',
    });
    const forbidden = toKubeError({ code: 403, body: JSON.stringify(status(403, 'Forbidden')) }, 'exec');
    expect(classifyOpening(forbidden)).toEqual({ retry: false });
    // What the command did once the socket was open is not an opening's failure.
    expect(classifyOpening(new Error('connection closed before the command finished'))).toEqual({
      retry: false,
    });
  });
});

/** A clock that only moves when the loop sleeps. */
function fakeTime() {
  let t = 0;
  const sleeps: number[] = [];
  return {
    sleeps,
    now: () => t,
    sleep: async (ms: number) => {
      sleeps.push(ms);
      t += ms;
    },
  };
}

const recordingLog = () => captureLog({ tagInfo: false });

describe('withRetry', () => {
  const policy: RetryPolicy = { budgetMs: 60_000, maxAttempts: 8, baseDelayMs: 250, maxDelayMs: 8000 };

  it('retries until the call succeeds, logging each retry with its reason', async () => {
    const time = fakeTime();
    const log = recordingLog();
    const failures = [
      apiError(503, status(503, 'ServiceUnavailable')),
      apiError(429, status(429, 'TooManyRequests'), { 'retry-after': '2' }),
      fetchFailed(coded('ECONNRESET')),
    ];
    let calls = 0;
    const result = await withRetry(
      async () => {
        const f = failures[calls++];
        if (f) throw f;
        return 'ok';
      },
      { what: 'GET /api/v1/x', policy, log, random: () => 0.5, reachedServer: () => true, ...time },
    );
    expect(result).toBe('ok');
    expect(calls).toBe(4);
    expect(time.sleeps).toEqual([125, 2000, 500]);
    expect(log.lines).toEqual([
      'GET /api/v1/x: HTTP 503; retrying in 125 ms (attempt 2 of at most 8).',
      'GET /api/v1/x: HTTP 429 (Retry-After 2.0 s); retrying in 2.0 s (attempt 3 of at most 8).',
      'GET /api/v1/x: ECONNRESET; retrying in 500 ms (attempt 4 of at most 8).',
    ]);
  });

  it('throws a failure that is not transient at once, as it was thrown', async () => {
    const time = fakeTime();
    const err = apiError(403, status(403, 'Forbidden'));
    let calls = 0;
    const got = await withRetry(
      async () => {
        calls++;
        throw err;
      },
      { what: 'x', policy, ...time },
    ).catch((e: unknown) => e);
    expect(got).toBe(err);
    expect(calls).toBe(1);
    expect(time.sleeps).toEqual([]);
  });

  it('is bounded by attempts and by the time budget, and says why it gave up', async () => {
    const failing = async () => {
      throw apiError(503, status(503, 'ServiceUnavailable'));
    };
    let time = fakeTime();
    let log = recordingLog();
    await expect(
      withRetry(failing, { what: 'x', policy: { ...policy, maxAttempts: 3 }, log, ...time }),
    ).rejects.toBeInstanceOf(ApiException);
    expect(time.sleeps).toHaveLength(2);
    expect(log.lines.at(-1)).toBe('x: HTTP 503 again; giving up after 3 attempts.');

    // Always the longest backoff: the total never passes the budget.
    time = fakeTime();
    log = recordingLog();
    await expect(
      withRetry(failing, {
        what: 'x',
        policy: { ...policy, maxAttempts: 100 },
        log,
        random: () => 0.999_999,
        ...time,
      }),
    ).rejects.toBeInstanceOf(ApiException);
    expect(time.now()).toBeLessThanOrEqual(60_000);
    expect(time.sleeps.length).toBeGreaterThan(5);
    expect(log.lines.at(-1)).toMatch(
      /HTTP 503 again, and the 60.0 s budget is spent; giving up after \d+ attempts/,
    );
  });

  it('does not wait for a Retry-After that ends past the budget', async () => {
    const time = fakeTime();
    const log = recordingLog();
    let calls = 0;
    await expect(
      withRetry(
        async () => {
          calls++;
          throw apiError(429, status(429, 'TooManyRequests'), { 'retry-after': '120' });
        },
        { what: 'x', policy, log, ...time },
      ),
    ).rejects.toBeInstanceOf(ApiException);
    expect(calls).toBe(1);
    expect(time.sleeps).toEqual([]);
    expect(log.lines).toEqual([
      'x: HTTP 429, and the server asks to wait 120.0 s, past the 60.0 s budget; giving up after 1 attempts.',
    ]);
  });

  it('stops when the caller aborts during a wait', async () => {
    const ac = new AbortController();
    let calls = 0;
    const p = withRetry(
      async () => {
        calls++;
        if (calls === 1) setTimeout(() => ac.abort(), 20);
        throw apiError(503, status(503, 'ServiceUnavailable'));
      },
      {
        what: 'x',
        policy: { ...policy, baseDelayMs: 60_000, maxDelayMs: 60_000 },
        random: () => 0.5,
        signal: ac.signal,
      },
    );
    await expect(p).rejects.toThrow();
    expect(calls).toBe(1);
  });

  it('marks the error that ends a call of which an earlier attempt may have been applied', async () => {
    const time = fakeTime();
    const conflict = apiError(409, status(409, 'AlreadyExists'));
    const seen: boolean[] = [];
    const got = await withRetry(
      async ({ uncertain }) => {
        seen.push(uncertain);
        if (seen.length === 1) throw fetchFailed(coded('ECONNRESET'));
        throw conflict;
      },
      { what: 'x', policy, reachedServer: () => true, ...time },
    ).catch((e: unknown) => e);
    expect(got).toBe(conflict);
    expect(seen).toEqual([false, true]);
    expect(followsUncertainAttempt(got)).toBe(true);

    // A 429 was not handled: what follows it is no one's doing but its own.
    const after429 = apiError(409, status(409, 'AlreadyExists'));
    let n = 0;
    await withRetry(
      async () => {
        if (n++ === 0) throw apiError(429, status(429, 'TooManyRequests'), { 'retry-after': '0' });
        throw after429;
      },
      { what: 'x', policy, ...time },
    ).catch(() => {});
    expect(followsUncertainAttempt(after429)).toBe(false);
  });
});

// -----------------------------------------------------------------------------------------------------------
// Through a client, against a stand-in API server

const TOKEN = 'good-token-0123456789';
type Fault = 'pass' | 'reset' | 'lose-answer' | { code: number; headers?: Record<string, string> };

function kubeconfig(server: string): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'test', cluster: { server, 'insecure-skip-tls-verify': true } }],
    contexts: [{ name: 'test', context: { cluster: 'test', user: 'ci' } }],
    users: [{ name: 'ci', user: { token: TOKEN } }],
    'current-context': 'test',
  });
}

/**
 * ConfigMaps in one namespace, enough for client-side apply (create, read, strategic merge patch) and delete.
 * `faults` fail the next requests of a method in order: a status, a reset before the request is handled, or
 * an answer lost after it was handled.
 */
function standIn() {
  const store = new Map<string, KubeObject>();
  const faults = new Map<string, Fault[]>();
  const log: string[] = [];
  let rv = 1;
  const server = http.createServer((req, res) => {
    let text = '';
    req.on('data', (c: Buffer) => {
      text += c.toString('utf8');
    });
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x');
      const method = req.method ?? 'GET';
      const json = (code: number, b: unknown, headers: Record<string, string> = {}) => {
        res.writeHead(code, { 'Content-Type': 'application/json', ...headers });
        res.end(`${JSON.stringify(b)}\n`);
      };
      const next = faults.get(method)?.shift();
      const fault = next === 'pass' ? undefined : next;
      log.push(
        `${method} ${url.pathname}${url.searchParams.has('dryRun') ? ' (dry run)' : ''}${fault ? ` ${typeof fault === 'string' ? fault : fault.code}` : ''}`,
      );
      if (fault === 'reset') return void req.socket.destroy();
      if (typeof fault === 'object')
        return json(fault.code, status(fault.code, 'ServiceUnavailable'), fault.headers ?? {});
      // Handled below, then the answer is lost: the socket goes before anything is written.
      const answer =
        fault === 'lose-answer' ? () => req.socket.destroy() : (code: number, b: unknown) => json(code, b);
      if (url.pathname === '/version') return answer(200, body('009'));
      if (url.pathname === '/api/v1') return answer(200, body('005'));
      if (url.pathname === '/api/v1/namespaces/previews')
        return answer(200, { kind: 'Namespace', metadata: { name: 'previews' } });
      const collection = '/api/v1/namespaces/previews/configmaps';
      const dryRun = url.searchParams.get('dryRun') === 'All';
      if (url.pathname === collection && method === 'POST') {
        const obj = JSON.parse(text) as KubeObject;
        if (store.has(obj.metadata.name))
          return answer(409, {
            ...status(409, 'AlreadyExists'),
            message: `configmaps "${obj.metadata.name}" already exists`,
          });
        const created = {
          ...obj,
          metadata: { ...obj.metadata, uid: `uid-${rv}`, resourceVersion: String(rv++) },
        };
        if (!dryRun) store.set(obj.metadata.name, created);
        return answer(201, created);
      }
      if (url.pathname.startsWith(`${collection}/`)) {
        const name = decodeURIComponent(url.pathname.slice(collection.length + 1));
        const current = store.get(name);
        if (!current)
          return answer(404, { ...status(404, 'NotFound'), details: { name, kind: 'configmaps' } });
        if (method === 'GET') return answer(200, current);
        if (method === 'PATCH') return answer(200, current);
        if (method === 'DELETE') {
          store.delete(name);
          return answer(200, status(200, 'Success'));
        }
      }
      res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end('404 page not found\n');
    });
  });
  return { server, store, faults, log };
}

describe('a client against an API server that fails now and then', () => {
  const api = standIn();
  let client: KubeClient;
  const log = recordingLog();
  const fast: Partial<RetryPolicy> = { baseDelayMs: 10, maxDelayMs: 50 };
  beforeAll(async () => {
    await new Promise<void>((resolve) => api.server.listen(0, '127.0.0.1', () => resolve()));
    const url = `http://127.0.0.1:${(api.server.address() as AddressInfo).port}`;
    client = await connect({ kubeconfig: kubeconfig(url), namespace: 'previews', log, retry: fast });
  });
  afterAll(async () => {
    await client?.close();
    api.server.closeAllConnections();
    api.server.close();
  });
  beforeEach(() => {
    api.faults.clear();
    api.log.length = 0;
    log.lines.length = 0;
  });

  const cm = (name: string): KubeObject => ({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name,
      namespace: 'previews',
      labels: { 'preevy.dev/instance': `${name}-abcde` },
      annotations: { 'preevy.dev/created-at': '2025-01-01T00:00:00.000Z' },
    },
    data: { a: '1' },
  });

  it('a GET rides out 503, 429 with Retry-After, and a reset', async () => {
    api.store.set('one', { ...cm('one'), metadata: { ...cm('one').metadata, resourceVersion: '1' } });
    api.faults.set('GET', [{ code: 503 }, { code: 429, headers: { 'Retry-After': '1' } }, 'reset']);
    const started = Date.now();
    const { body: got } = await client.request<KubeObject>({
      method: 'GET',
      path: '/api/v1/namespaces/previews/configmaps/one',
    });
    expect(got.metadata.name).toBe('one');
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    expect(api.log).toHaveLength(4);
    expect(log.lines.filter((l) => /retrying/.test(l))).toEqual([
      expect.stringMatching(/^GET \/api\/v1\/namespaces\/previews\/configmaps\/one: HTTP 503; retrying in/),
      expect.stringMatching(/HTTP 429 \(Retry-After 1\.0 s\); retrying in 1\.0 s/),
      expect.stringMatching(/ECONNRESET|UND_ERR_SOCKET|other side closed/),
    ]);
  });

  it('a 4xx is not retried', async () => {
    api.faults.set('GET', [{ code: 403 }]);
    const err = await client
      .request({ method: 'GET', path: '/api/v1/namespaces/previews/configmaps/one' })
      .catch((e: unknown) => e);
    expect(toKubeError(err, 'x').code).toBe(403);
    expect(api.log).toHaveLength(1);
  });

  it('a client-side create whose answer was lost: the retry meets 409 AlreadyExists and reports it created', async () => {
    api.faults.set('POST', [
      { code: 503 }, // the dry run, retried
      'pass', // its retry
      'lose-answer', // the real create: stored, the answer lost
    ]);
    const applied = await applyObjects(client, [cm('two')], {
      serverSide: false,
      fieldManager: 'preevy-kube-action',
    });
    expect(applied.map((a) => [a.ref, a.action])).toEqual([['ConfigMap/two', 'created']]);
    expect([...api.store.keys()].filter((k) => k === 'two')).toHaveLength(1);
    expect(api.log.filter((l) => l !== 'GET /api/v1')).toEqual([
      'POST /api/v1/namespaces/previews/configmaps (dry run) 503',
      'POST /api/v1/namespaces/previews/configmaps (dry run)',
      'POST /api/v1/namespaces/previews/configmaps lose-answer',
      'POST /api/v1/namespaces/previews/configmaps',
      'GET /api/v1/namespaces/previews/configmaps/two',
      'PATCH /api/v1/namespaces/previews/configmaps/two',
    ]);
  });

  it('an object that existed before is not taken for a lost create: 409 after a lost answer, other stamp', async () => {
    api.store.set('three', {
      ...cm('three'),
      metadata: {
        ...cm('three').metadata,
        labels: { 'preevy.dev/instance': 'three-older' },
        resourceVersion: '9',
      },
    });
    // The dry run passes; the create meets a 502 from a proxy, so it may have gone through, and 409 follows:
    // the stamp says the object is not this run's.
    api.faults.set('POST', ['pass', { code: 502 }]);
    const applied = await applyObjects(client, [cm('three')], {
      serverSide: false,
      fieldManager: 'preevy-kube-action',
    });
    expect(applied[0]?.action).not.toBe('created');
    expect(api.log.filter((l) => l.startsWith('POST'))).toEqual([
      'POST /api/v1/namespaces/previews/configmaps (dry run)',
      'POST /api/v1/namespaces/previews/configmaps 502',
      'POST /api/v1/namespaces/previews/configmaps',
    ]);
  });

  it('a DELETE whose answer was lost: the retry meets 404, which is the deletion the caller asked for', async () => {
    api.store.set('four', cm('four'));
    api.faults.set('DELETE', ['lose-answer']);
    const rsp = await client.request({
      method: 'DELETE',
      path: '/api/v1/namespaces/previews/configmaps/four',
    });
    expect(rsp.status).toBe(404);
    expect(api.store.has('four')).toBe(false);
    // Without an earlier attempt, a 404 is the caller's to judge.
    const err = await client
      .request({ method: 'DELETE', path: '/api/v1/namespaces/previews/configmaps/four' })
      .catch((e: unknown) => e);
    expect(toKubeError(err, 'x').code).toBe(404);
  });
});

describe('the first contact', () => {
  it('does not retry a refused connection before the server ever answered: a wrong address fails at once', async () => {
    const probe = http.createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', () => resolve()));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const started = Date.now();
    const err = await connect({
      kubeconfig: kubeconfig(`http://127.0.0.1:${port}`),
      namespace: 'previews',
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KubeApiError);
    expect((err as KubeApiError).reason).toBe('ECONNREFUSED');
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('retries /version on 503', async () => {
    const api = standIn();
    await new Promise<void>((resolve) => api.server.listen(0, '127.0.0.1', () => resolve()));
    const url = `http://127.0.0.1:${(api.server.address() as AddressInfo).port}`;
    api.faults.set('GET', [{ code: 503 }, 'reset']);
    const client = await connect({
      kubeconfig: kubeconfig(url),
      namespace: 'previews',
      retry: { baseDelayMs: 10 },
    });
    await client.close();
    expect(api.log.slice(0, 3)).toEqual(['GET /version 503', 'GET /version reset', 'GET /version']);
    for (const s of [api.server]) {
      s.closeAllConnections();
      s.close();
    }
  });
});

describe('compose steps and a tunnel that drops connections', () => {
  const tunnel = () => {
    let failures = 0;
    return {
      drop: () => void failures++,
      failures: () => failures,
      lastError: () =>
        new Error('port-forward to port 2375 of pod p: the connection dropped (WebSocket close 1006)'),
    };
  };

  it('runs a step that failed while the tunnel lost a connection once more, and says why', async () => {
    const t = tunnel();
    const log = recordingLog();
    let runs = 0;
    await againAfterDrop(t, log)('up', async () => {
      if (++runs === 1) {
        t.drop();
        throw new Error('docker compose up failed');
      }
    });
    expect(runs).toBe(2);
    expect(log.lines).toEqual([
      'docker compose up failed while 1 connection(s) of the tunnel to the Docker host failed (last: port-forward to port 2375 of pod p: the connection dropped (WebSocket close 1006)); running it once more.',
    ]);
  });

  it('only once, and not a failure of its own, nor on a pod that changed', async () => {
    const t = tunnel();
    let runs = 0;
    const failing = async () => {
      runs++;
      t.drop();
      throw new Error(`failed ${runs}`);
    };
    await expect(againAfterDrop(t, recordingLog())('up', failing)).rejects.toThrow('failed 2');
    expect(runs).toBe(2);

    runs = 0;
    await expect(
      againAfterDrop(t, recordingLog())('up', async () => {
        runs++;
        throw new Error('a build error');
      }),
    ).rejects.toThrow('a build error');
    expect(runs).toBe(1);

    runs = 0;
    await expect(
      againAfterDrop(t, recordingLog(), async () => 'The docker host pod p was replaced')('up', failing),
    ).rejects.toThrow('failed 1');
    expect(runs).toBe(1);
  });
});
