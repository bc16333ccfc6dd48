/**
 * connect() and the raw request path over real HTTP(S), against a tiny stand-in API server that answers
 * with recorded kube-apiserver bodies. Checks what goes over the wire (server-side apply body and headers)
 * and how connection failures read.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { applyObjects } from '../../../src/environment/apply.js';
import { errorMessage, InputError, KubeApiError } from '../../../src/errors.js';
import { connect, type KubeClient } from '../../../src/kube/client.js';
import type { KubeObject } from '../../../src/kube/types.js';
import { captureLog } from '../support.js';

const TOKEN = 'good-token-0123456789';
const fixtures = path.join(import.meta.dirname, '../../fixtures/kube-api');
function body(num: string): unknown {
  const file = readdirSync(fixtures).find((f) => f.startsWith(`${num}-`))!;
  return (JSON.parse(readFileSync(path.join(fixtures, file), 'utf8')) as { response: { body: unknown } })
    .response.body;
}

interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function handler(seen: Seen[]) {
  return (req: http.IncomingMessage, res: http.ServerResponse) => {
    let text = '';
    req.on('data', (c: Buffer) => {
      text += c.toString('utf8');
    });
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: text });
      const json = (code: number, b: unknown) => {
        res.writeHead(code, { 'Content-Type': 'application/json' });
        res.end(`${JSON.stringify(b)}\n`);
      };
      const url = new URL(req.url ?? '/', 'http://x');
      if (req.headers.authorization !== `Bearer ${TOKEN}`) return json(401, body('066'));
      if (url.pathname === '/version') return json(200, body('009'));
      if (url.pathname === '/api/v1') return json(200, body('005'));
      if (url.pathname === '/apis/apps/v1') return json(200, body('006'));
      if (url.pathname === '/api/v1/namespaces/previews')
        return json(200, { kind: 'Namespace', metadata: { name: 'previews' } });
      if (url.pathname === '/api/v1/namespaces/nope') return json(404, body('080'));
      if (url.pathname === '/api/v1/namespaces/locked')
        return json(403, {
          kind: 'Status',
          apiVersion: 'v1',
          metadata: {},
          status: 'Failure',
          message:
            'namespaces "locked" is forbidden: User "system:serviceaccount:locked:ci" cannot get resource "namespaces" in API group "" in the namespace "locked"',
          reason: 'Forbidden',
          details: { name: 'locked', kind: 'namespaces' },
          code: 403,
        });
      if (url.pathname === '/apis/apps/v1/namespaces/previews/deployments/web') {
        if (req.method === 'GET') return json(404, body('050'));
        if (req.method === 'PATCH') {
          const obj = JSON.parse(text) as KubeObject;
          return json(201, {
            ...obj,
            metadata: { ...obj.metadata, uid: 'u-1', resourceVersion: '7', generation: 1 },
            status: {},
          });
        }
      }
      res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end('404 page not found\n');
    });
  };
}

function kubeconfig(server: string, opts: { token?: string; ca?: string; insecure?: boolean } = {}): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      {
        name: 'test',
        cluster: {
          server,
          ...(opts.insecure ? { 'insecure-skip-tls-verify': true } : {}),
          ...(opts.ca ? { 'certificate-authority-data': Buffer.from(opts.ca).toString('base64') } : {}),
        },
      },
    ],
    contexts: [{ name: 'test', context: { cluster: 'test', user: 'ci' } }],
    users: [{ name: 'ci', user: { token: opts.token ?? TOKEN } }],
    'current-context': 'test',
  });
}

const textLog = () => captureLog({ tagInfo: false });

async function listen(server: http.Server | https.Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return (server.address() as AddressInfo).port;
}

describe('connect and raw requests over HTTP', () => {
  const seen: Seen[] = [];
  const server = http.createServer(handler(seen));
  let url: string;
  let client: KubeClient | undefined;
  beforeAll(async () => {
    url = `http://127.0.0.1:${await listen(server)}`;
  });
  afterAll(async () => {
    await client?.close();
    server.close();
  });

  it('connects: /version, then the namespace', async () => {
    const log = textLog();
    client = await connect({ kubeconfig: kubeconfig(url, { insecure: true }), namespace: 'previews', log });
    expect(log.lines).toContain(`Connected to ${url} (Kubernetes v1.32.13), context "test".`);
    expect(seen.map((s) => `${s.method} ${s.url}`)).toEqual([
      'GET /version',
      'GET /api/v1/namespaces/previews',
    ]);
    for (const s of seen) expect(s.headers['user-agent']).toBe('preevy-kube-action');
  });

  it('server-side apply sends the raw object: unknown fields included, as an apply patch with force', async () => {
    seen.length = 0;
    const web: KubeObject = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web', namespace: 'previews', labels: { app: 'web' } },
      spec: {
        replicas: 1,
        strategyy: {},
        template: { spec: { containers: [{ name: 'c', image: 'x', bogusContainerField: 1 }] } },
      },
    };
    const [applied] = await applyObjects(client!, [web], {
      serverSide: true,
      fieldManager: 'preevy-kube-action',
    });
    expect(applied).toMatchObject({ ref: 'Deployment/web', action: 'created', uid: 'u-1', generation: 1 });
    const patch = seen.find((s) => s.method === 'PATCH' && !s.url.includes('dryRun'))!;
    expect(patch.url).toBe(
      '/apis/apps/v1/namespaces/previews/deployments/web?fieldManager=preevy-kube-action&force=true&fieldValidation=Strict',
    );
    expect(patch.headers['content-type']).toBe('application/apply-patch+yaml');
    expect(patch.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(JSON.parse(patch.body)).toEqual(web);
  });

  it('discovery through KubernetesObjectApi.resource, cached; unknown groups are undefined', async () => {
    seen.length = 0;
    expect(await client!.scopeOf({ apiVersion: 'apps/v1', kind: 'Deployment' })).toBe('Namespaced');
    expect(await client!.scopeOf({ apiVersion: 'v1', kind: 'Namespace' })).toBe('Cluster');
    expect(await client!.scopeOf({ apiVersion: 'example.com/v1', kind: 'Widget' })).toBeUndefined();
    expect(await client!.scopeOf({ apiVersion: 'apps/v1', kind: 'Deployment' })).toBe('Namespaced');
    expect(seen.map((s) => s.url)).toEqual(['/api/v1', '/apis/example.com/v1']);
  });

  it('a namespace that does not exist is an input error; one we may not read is fine', async () => {
    const err = await connect({ kubeconfig: kubeconfig(url, { insecure: true }), namespace: 'nope' }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(InputError);
    expect((err as InputError).input).toBe('namespace');
    expect((err as Error).message).toMatch(/"nope" does not exist/);
    const log = textLog();
    const c = await connect({ kubeconfig: kubeconfig(url, { insecure: true }), namespace: 'locked', log });
    await c.close();
    expect(log.lines.join('\n')).toMatch(/debug: Cannot read namespace "locked" \(403\)/);
    await expect(
      connect({ kubeconfig: kubeconfig(url, { insecure: true }), namespace: 'Bad_NS' }),
    ).rejects.toThrow(/not a valid namespace name/);
  });

  it('credentials the server rejects: 401 with a hint, no token in the message', async () => {
    const err = await connect({
      kubeconfig: kubeconfig(url, { insecure: true, token: 'expired-token-xyz' }),
      namespace: 'previews',
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KubeApiError);
    const msg = errorMessage(err);
    expect(msg).toMatch(
      /Connecting to http:\/\/127\.0\.0\.1:\d+ \(context "test"\): Unauthorized \(HTTP 401\)/,
    );
    expect(msg).toMatch(/token expired or was revoked/);
    expect(msg).not.toContain('expired-token-xyz');
  });

  it('an unreachable server is named, with what to check', async () => {
    const probe = http.createServer();
    const port = await listen(probe);
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const err = await connect({
      kubeconfig: kubeconfig(`https://127.0.0.1:${port}`),
      namespace: 'previews',
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KubeApiError);
    expect(errorMessage(err)).toMatch(
      new RegExp(`127\\.0\\.0\\.1:${port}.*cannot reach the Kubernetes API server \\(ECONNREFUSED\\)`),
    );
    expect(errorMessage(err)).toMatch(/runner can reach it/);
  });
});

function openssl(args: string[]): boolean {
  try {
    execFileSync('openssl', args, { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe('TLS', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'kube-tls-'));
  const make = (name: string) =>
    openssl([
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '2',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
      '-keyout',
      path.join(dir, `${name}.key`),
      '-out',
      path.join(dir, `${name}.crt`),
    ]);
  const haveOpenssl = make('server') && make('other');

  it.skipIf(!haveOpenssl)('the right CA connects; a CA mismatch says so', async () => {
    const seen: Seen[] = [];
    const server = https.createServer(
      { key: readFileSync(path.join(dir, 'server.key')), cert: readFileSync(path.join(dir, 'server.crt')) },
      handler(seen),
    );
    const url = `https://127.0.0.1:${await listen(server)}`;
    try {
      const good = await connect({
        kubeconfig: kubeconfig(url, { ca: readFileSync(path.join(dir, 'server.crt'), 'utf8') }),
        namespace: 'previews',
      });
      await good.close();
      const err = await connect({
        kubeconfig: kubeconfig(url, { ca: readFileSync(path.join(dir, 'other.crt'), 'utf8') }),
        namespace: 'previews',
      }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(KubeApiError);
      expect(errorMessage(err)).toMatch(/TLS connection to the Kubernetes API server failed/);
      expect(errorMessage(err)).toMatch(/CA mismatch/);
    } finally {
      server.close();
    }
  });
});
