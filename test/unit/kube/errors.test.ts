import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { ApiException } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { errorMessage, KubeApiError } from '../../../src/errors.js';
import { isTransientError, networkErrorCode, toKubeError } from '../../../src/kube/errors.js';

const dir = path.join(import.meta.dirname, '../../fixtures/kube-api');
function recorded(num: string): ApiException<string> {
  const file = readdirSync(dir).find((f) => f.startsWith(`${num}-`));
  if (!file) throw new Error(`no fixture ${num}`);
  const { response } = JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as {
    response: { status: number; headers: Record<string, string>; body: unknown };
  };
  // As client-node and client.ts build it: the body is the response text.
  const text = typeof response.body === 'string' ? response.body : `${JSON.stringify(response.body)}\n`;
  return new ApiException(response.status, 'Unsuccessful HTTP Request', text, {
    ...response.headers,
    authorization: 'Bearer super-secret-token',
  });
}

describe('toKubeError from recorded Status bodies', () => {
  it('401: credentials rejected', () => {
    const e = toKubeError(recorded('066'), 'GET /version');
    expect(e).toBeInstanceOf(KubeApiError);
    expect(e.message).toBe('GET /version: Unauthorized (Unauthorized, HTTP 401)');
    expect(e.code).toBe(401);
    expect(e.hint).toMatch(/expired|revoked/);
    expect(isTransientError(e)).toBe(false);
  });

  it('403 on create: names the verb, resource, group and namespace the Role lacks', () => {
    const e = toKubeError(recorded('069'), 'apply Deployment/web');
    expect(e.message).toMatch(
      /^apply Deployment\/web: deployments\.apps is forbidden: .* \(Forbidden, HTTP 403\)$/,
    );
    expect(e.hint).toContain(
      'lacks verb "create" on resource "deployments" (apiGroup "apps") in namespace "fixtures"',
    );
    expect(e.hint).toContain("README's RBAC section");
    expect(e.hint).toContain('system:serviceaccount:fixtures:limited');
  });

  it('403 on server-side apply says patch', () => {
    expect(toKubeError(recorded('070'), 'apply Deployment/forbidden').hint).toContain('verb "patch"');
  });

  it('403 on secrets: core group', () => {
    expect(toKubeError(recorded('073'), 'get Secret/x').hint).toMatch(/apiGroup "" \(core\)/);
  });

  it('404 of a named object', () => {
    const e = toKubeError(recorded('050'), 'get Deployment/missing');
    expect(e.message).toBe(
      'get Deployment/missing: deployments.apps "missing" not found (NotFound, HTTP 404)',
    );
    expect(e.reason).toBe('NotFound');
  });

  it('404 of an unknown resource or group: hint about the CRD', () => {
    expect(toKubeError(recorded('074'), 'list Foo').hint).toMatch(/CRD/);
    const plain = toKubeError(recorded('075'), 'list Foo');
    expect(plain.message).toBe('list Foo: 404 page not found (HTTP 404)');
    expect(plain.hint).toMatch(/CRD/);
  });

  it('409 AlreadyExists and SSA conflicts', () => {
    const exists = toKubeError(recorded('042'), 'create ConfigMap/client-cm');
    expect(exists.reason).toBe('AlreadyExists');
    expect(exists.message).toMatch(/already exists \(AlreadyExists, HTTP 409\)/);
    const conflict = toKubeError(recorded('051'), 'apply Deployment/web');
    expect(conflict.reason).toBe('Conflict');
    expect(conflict.hint).toMatch(/\.spec\.replicas: conflict with "fixture-mgr"/);
  });

  it('422 Invalid lists the causes with their fields', () => {
    const e = toKubeError(recorded('054'), 'apply Deployment/negative');
    expect(e.message).toMatch(
      /spec\.replicas: Invalid value: -1: must be greater than or equal to 0 \(Invalid, HTTP 422\)/,
    );
    expect(e.hint).toContain('  - spec.replicas: Invalid value: -1: must be greater than or equal to 0');
    expect(toKubeError(recorded('052'), 'create Deployment/Bad_Name').hint).toContain(
      '  - metadata.name: Invalid value',
    );
  });

  it('500 "field not declared in schema" from server-side apply is a template error, not transient', () => {
    const e = toKubeError(recorded('056'), 'apply Deployment/unknown-strict');
    expect(e.message).toContain('.spec.bogusField: field not declared in schema');
    expect(e.message).toMatch(/\(HTTP 500\)$/);
    expect(e.hint).toMatch(/field the API does not know/);
    expect(isTransientError(e)).toBe(false);
    expect(isTransientError(recorded('056'))).toBe(false);
  });

  it('400 strict decoding error names the unknown field', () => {
    const e = toKubeError(recorded('057'), 'create Deployment/x');
    expect(e.message).toMatch(/unknown field "spec\.bogusField"/);
    expect(e.hint).toMatch(/field the API does not know/);
  });

  it('5xx and 429 are transient', () => {
    const status = (code: number) =>
      new ApiException(
        code,
        'x',
        JSON.stringify({ kind: 'Status', status: 'Failure', message: 'etcdserver: request timed out', code }),
        {},
      );
    for (const code of [429, 500, 503, 504]) {
      const e = toKubeError(status(code), 'get Deployment/web');
      expect(isTransientError(e), String(code)).toBe(true);
      expect(e.hint).toMatch(/temporary/);
    }
  });

  it('a 401 without a body (client-node generated APIs drop it) still reads well', () => {
    const e = toKubeError(
      new ApiException(401, 'Unauthorized', undefined, { authorization: 'Bearer x' }),
      'connect',
    );
    expect(e.message).toBe('connect: Unauthorized (HTTP 401)');
  });

  it('never includes headers or tokens', () => {
    for (const num of ['066', '069', '050', '042', '054', '056', '075']) {
      const e = toKubeError(recorded(num), 'x');
      expect(errorMessage(e)).not.toContain('super-secret-token');
      expect(e.details ?? '').not.toContain('super-secret-token');
    }
  });
});

describe('toKubeError from network failures', () => {
  const fetchFailed = (cause: unknown) => new TypeError('fetch failed', { cause });
  const coded = (code: string, message = code) => Object.assign(new Error(message), { code });

  it('ECONNREFUSED names the server and says what to check', () => {
    const e = toKubeError(
      fetchFailed(coded('ECONNREFUSED', 'connect ECONNREFUSED 10.0.0.1:6443')),
      'Connecting',
      {
        server: 'https://10.0.0.1:6443',
      },
    );
    expect(e.message).toBe(
      'Connecting: cannot reach the Kubernetes API server at https://10.0.0.1:6443 (ECONNREFUSED)',
    );
    expect(e.reason).toBe('ECONNREFUSED');
    expect(e.code).toBeUndefined();
    expect(e.hint).toMatch(/runner can reach it/);
    expect(isTransientError(e)).toBe(true);
  });

  it('finds the code inside an AggregateError (happy eyeballs)', () => {
    const err = fetchFailed(new AggregateError([coded('ECONNREFUSED'), coded('ENETUNREACH')]));
    expect(networkErrorCode(err)).toBe('ECONNREFUSED');
  });

  it('ENOTFOUND, timeouts, resets', () => {
    expect(toKubeError(fetchFailed(coded('ENOTFOUND')), 'x', { server: 'https://k' }).hint).toMatch(
      /does not resolve/,
    );
    expect(toKubeError(fetchFailed(coded('UND_ERR_CONNECT_TIMEOUT')), 'x').hint).toMatch(
      /did not answer in time/,
    );
    expect(isTransientError(fetchFailed(coded('ECONNRESET')))).toBe(true);
    const timeout = new DOMException('The operation was aborted due to timeout', 'TimeoutError');
    expect(toKubeError(timeout, 'x').reason).toBe('TimeoutError');
  });

  it('TLS errors say CA mismatch, or host name mismatch', () => {
    const ca = toKubeError(fetchFailed(coded('UNABLE_TO_VERIFY_LEAF_SIGNATURE')), 'x', {
      server: 'https://k:6443',
    });
    expect(ca.message).toMatch(/TLS connection to the Kubernetes API server at https:\/\/k:6443 failed/);
    expect(ca.hint).toMatch(/certificate-authority-data/);
    expect(isTransientError(ca)).toBe(false);
    expect(toKubeError(fetchFailed(coded('ERR_TLS_CERT_ALTNAME_INVALID')), 'x').hint).toMatch(
      /tls-server-name/,
    );
  });

  it('a plain error keeps its message and the cause of "fetch failed"', () => {
    expect(toKubeError(fetchFailed(new Error('bad port')), 'x').message).toBe('x: fetch failed: bad port');
    expect(toKubeError(new Error('boom'), 'y').message).toBe('y: boom');
  });
});
