/**
 * What the unit tests share: recorded API exchanges (test/fixtures), a log that keeps its lines, a KubeClient for a
 * fake HTTPS API server, objects to put in it, and (from fake-kube.ts) FakeKube, an in-memory KubeClient for the
 * environment's operations.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import type { AddressInfo, Server } from 'node:net';
import path from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { beforeAll, describe } from 'vitest';
import type { WebSocket, WebSocketServer } from 'ws';
import { createKubeClient, type KubeClient } from '../../src/kube/client.js';
import type { KubeObject } from '../../src/kube/types.js';
import type { Log } from '../../src/util/log.js';
import { simCerts } from '../sim/kube/certs.js';
import { prng, WIRE_TEST_MODES, type WireMode } from '../sim/kubelet/wire.js';

/** A KubeClient for a fake API server that serves the simulator's certificate and expects `token`. */
export function fakeApiClient(serverUrl: string, token: string, namespace = 'ns'): Promise<KubeClient> {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [
      {
        name: 'c',
        server: serverUrl,
        caData: Buffer.from(simCerts().caPem).toString('base64'),
        skipTLSVerify: false,
      },
    ],
    users: [{ name: 'u', token }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  return createKubeClient(kc, { server: serverUrl, namespace });
}

/** Whether this machine has the docker CLI's compose plugin (the suites that run compose skip without it). */
export const hasCompose = (() => {
  try {
    execFileSync('docker', ['compose', 'version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

/** How a fake server's frames reach the client's reads (test/sim/kubelet/wire.ts) in the run under way. */
export interface WireRun {
  mode: WireMode;
  rand: () => number;
}

/**
 * Every test of `body` under each wire mode: the first frames in the 101's read, as a real cluster sends them, and
 * frames cut and grouped at random across reads. The fake server shapes its frames by the returned WireRun.
 */
export function describeWireModes(body: () => void): WireRun {
  const wire: WireRun = { mode: 'recorded', rand: prng(1) };
  describe.each(WIRE_TEST_MODES)('wire: %s', (mode) => {
    beforeAll(() => {
      Object.assign(wire, { mode, rand: prng(11) });
    });
    body();
  });
  return wire;
}

/** The error `fn` throws, which must be a `type` (the tests then read its message and hint). */
// biome-ignore lint/suspicious/noExplicitAny: any error class, whatever its constructor takes
export function thrownBy<E extends Error>(type: new (...args: any[]) => E, fn: () => unknown): E {
  try {
    fn();
  } catch (err) {
    if (!(err instanceof type)) throw new Error(`expected a ${type.name}, got ${String(err)}`);
    return err;
  }
  throw new Error(`expected a ${type.name}`);
}

/** Starts a fake API server on a free loopback port; gives a KubeClient for it that presents `token`. */
export async function serveFakeApi(server: Server, token: string): Promise<KubeClient> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return fakeApiClient(`https://127.0.0.1:${(server.address() as AddressInfo).port}`, token);
}

/** A slow reader: stops reading `ws` for 400 ms (its peer must stop sending meanwhile), then `onResume`, and reads on. */
export function pauseReading(ws: WebSocket, onResume: () => void): void {
  ws.pause();
  setTimeout(() => {
    onResume();
    ws.resume();
  }, 400);
}

/** Ends a fake API server's WebSockets, then the server, then the client (any may be missing after a failed start). */
export async function closeFakeApi(
  wss: WebSocketServer | undefined,
  servers: Array<Server | undefined>,
  client: KubeClient | undefined,
): Promise<void> {
  for (const ws of wss?.clients ?? []) ws.terminate();
  wss?.close();
  await Promise.all(servers.map((s) => new Promise((r) => (s ? s.close(r) : r(undefined)))));
  await client?.close();
}

// ---------------------------------------------------------------------------------------------------------
// Recorded exchanges: test/fixtures/kube-api (a kind cluster) and test/fixtures/kube-real-2 (a real one)

export interface StreamEntry {
  type?: string;
  object?: KubeObject;
  channel?: number;
  length?: number;
  payloadJson?: unknown;
  payloadText?: string;
}
export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: Record<string, string>;
  body: unknown;
}
export interface Recorded<B = unknown> {
  request: RecordedRequest;
  response: { status: number; headers: Record<string, string>; body: B; stream?: StreamEntry[] };
}

const FIXTURES = path.join(import.meta.dirname, '../fixtures');

/** The recorded exchange numbered `num` (its file name's prefix, or the whole file name). */
export function recorded<B = unknown>(
  num: string,
  folder: 'kube-api' | 'kube-real-2' = 'kube-api',
): Recorded<B> {
  const dir = path.join(FIXTURES, folder);
  const file = readdirSync(dir).find((f) => f === num || f.startsWith(`${num}-`));
  if (!file) throw new Error(`no fixture ${num} in ${dir}`);
  return JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as Recorded<B>;
}

/** The body the server answered in the recorded exchange `num`. */
export function recordedBody<T = unknown>(num: string, folder: 'kube-api' | 'kube-real-2' = 'kube-api'): T {
  return recorded(num, folder).response.body as T;
}

export { FakeKube, type FakeType, type Injected, matchesSelector, status, TYPES } from './fake-kube.js';

export interface CapturedLog extends Log {
  lines: string[];
}
/** A log that keeps its lines; `info: ` tags and debug lines are optional, as each suite's assertions read them. */
export function captureLog(opts: { tagInfo?: boolean; debug?: boolean } = {}): CapturedLog {
  const { tagInfo = true, debug = true } = opts;
  const lines: string[] = [];
  return {
    lines,
    info: (m) => void lines.push(tagInfo ? `info: ${m}` : m),
    warning: (m) => void lines.push(`warning: ${m}`),
    debug: debug ? (m) => void lines.push(`debug: ${m}`) : () => {},
  };
}

/** An object of `kind` named `name`; `rest` gives its other fields, and metadata besides the name. */
export function kubeObject(
  kind: string,
  name: string,
  apiVersion = 'v1',
  rest: Record<string, unknown> & { metadata?: Record<string, unknown> } = {},
): KubeObject {
  const { metadata, ...fields } = rest;
  return { apiVersion, kind, metadata: { name, ...metadata }, ...fields };
}

export const cm = (
  name: string,
  data: Record<string, string> = { a: '1' },
  labels: Record<string, string> = {},
): KubeObject => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, namespace: 'ns', labels },
  data,
});
export const svc = (name: string): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name, namespace: 'ns' },
  spec: { ports: [{ port: 2375 }] },
});
export const deploy = (name: string, extra: Record<string, unknown> = {}): KubeObject => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name, namespace: 'ns' },
  spec: { replicas: 1, ...extra },
});

// ---------------------------------------------------------------------------------------------------------

export const ENV = 'shop-pr-2';
export const envLabels = (envId: string, id: string) => ({
  'preevy.dev/env-id': envId,
  'preevy.dev/instance': id,
  'app.kubernetes.io/managed-by': 'preevy-kube-action',
});

export function dockerHost(
  envId: string,
  id: string,
  extra: Partial<KubeObject['metadata']> = {},
): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name: `${id}-dind`,
      namespace: 'ns',
      labels: { ...envLabels(envId, id), 'app.kubernetes.io/component': 'docker-host' },
      annotations: {
        'preevy.dev/created-at': '2026-01-01T00:00:00.000Z',
        'preevy.dev/all-types': 'apps/v1/Deployment,example.com/v1/Widget,v1/ConfigMap,v1/Service',
      },
      ...extra,
    },
    spec: { replicas: 1 },
  };
}
