/**
 * openTunnel / waitForDocker against a fake API server (HTTPS + `ws`, self-signed certificate) that speaks
 * the recorded port-forward protocol (fixtures 105-110): `v4.channel.k8s.io`, a 2-byte little-endian port
 * prefix on channels 0 and 1, error text on channel 1 followed by a server close, handshake refusals.
 * Behind the fake: a TCP echo server (port 2375 of pod `echo`) and a tiny HTTP "dockerd" (pod `docker`).
 */

import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net, { type AddressInfo } from 'node:net';
import path from 'node:path';
import { type Duplex, Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type WebSocket, WebSocketServer } from 'ws';
import { waitForDocker } from '../../../../src/bridge/docker-api.js';
import { KubeApiError } from '../../../../src/errors.js';
import type { KubeClient } from '../../../../src/kube/client.js';
import { openTunnel, type Tunnel } from '../../../../src/kube/stream/port-forward.js';
import type { Log } from '../../../../src/util/log.js';
import { simCerts } from '../../../sim/kube/certs.js';
import { shapeWire } from '../../../sim/kubelet/wire.js';
import { closeFakeApi, describeWireModes, pauseReading, serveFakeApi } from '../../support.js';

const fixtures = path.join(import.meta.dirname, '../../../fixtures/kube-api');
const TOKEN = 'test-token';
const CLOSED_PORT_TEXT = (
  JSON.parse(readFileSync(path.join(fixtures, '108-ws-portforward-closed-port-2999.json'), 'utf8')) as {
    response: { stream: Array<{ channel?: number; payloadText?: string; length?: number }> };
  }
).response.stream.find((f) => f.channel === 1 && (f.length ?? 0) > 3)!.payloadText!;

let server: https.Server;
let wss: WebSocketServer;
let echo: net.Server;
let docker: http.Server;
let client: KubeClient;
let upgrades = 0;

function refuse(socket: Duplex, status: number, body: string, type?: string) {
  socket.end(
    `HTTP/1.1 ${status} X\r\n${type ? `Content-Type: ${type}\r\n` : ''}Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

/** The fake kubelet side of one port-forward: prefix frames, then bytes to and from `target`. */
let onSlowReaderPause: (() => void) | undefined;
/** When set, the length of every message the fake kubelet receives. */
let framesSeen: number[] | undefined;

function forward(
  ws: WebSocket,
  port: number,
  target: number | undefined,
  closeOnData: boolean,
  slow = false,
) {
  const prefix = Buffer.from([port & 0xff, port >> 8]);
  ws.send(Buffer.concat([Buffer.from([0]), prefix]));
  ws.send(Buffer.concat([Buffer.from([1]), prefix]));
  if (target === undefined) {
    ws.send(Buffer.concat([Buffer.from([1]), Buffer.from(CLOSED_PORT_TEXT)]));
    ws.close(1000);
    return;
  }
  const conn = net.connect(target, '127.0.0.1');
  let paused = false;
  ws.on('message', (data: Buffer) => {
    framesSeen?.push(data.length);
    if (slow && !paused) {
      // A slow remote: stop reading for a while; the tunnel must stop reading its client too.
      paused = true;
      pauseReading(ws, () => onSlowReaderPause?.());
    }
    if (closeOnData) {
      ws.close(1000);
      return;
    }
    if (data[0] === 0 && !conn.write(data.subarray(1))) {
      ws.pause();
      conn.once('drain', () => ws.resume());
    }
  });
  conn.on('data', (chunk: Buffer) => {
    ws.send(Buffer.concat([Buffer.from([0]), chunk]));
    if (ws.bufferedAmount > 1024 * 1024) {
      conn.pause();
      const wait = () => (ws.bufferedAmount > 256 * 1024 ? setTimeout(wait, 1) : conn.resume());
      wait();
    }
  });
  conn.on('close', () => ws.close(1000));
  conn.on('error', () => ws.close(1000));
  ws.on('close', () => conn.destroy());
}

beforeAll(async () => {
  // The simulator's CA and server certificate (one openssl run per process, cached).
  const certs = simCerts();

  echo = net.createServer((s) => {
    s.pipe(s);
    s.on('error', () => {});
  });
  await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
  docker = http.createServer((req, res) => {
    if (req.url === '/_ping') res.end('OK');
    else if (req.url === '/version') res.end(JSON.stringify({ Version: '26.1.5', ApiVersion: '1.45' }));
    else res.writeHead(404).end();
  });
  await new Promise<void>((r) => docker.listen(0, '127.0.0.1', r));
  const targets: Record<string, number> = {
    echo: (echo.address() as AddressInfo).port,
    closer: (echo.address() as AddressInfo).port,
    slow: (echo.address() as AddressInfo).port,
    docker: (docker.address() as AddressInfo).port,
  };

  server = https.createServer({ key: certs.keyPem, cert: certs.certPem });
  wss = new WebSocketServer({
    noServer: true,
    handleProtocols: (offered) => (offered.has('v4.channel.k8s.io') ? 'v4.channel.k8s.io' : false),
  });
  server.on('upgrade', (req, socket, head) => {
    upgrades++;
    const url = new URL(req.url ?? '/', 'https://x');
    const m = /^\/api\/v1\/namespaces\/ns\/pods\/([^/]+)\/portforward$/.exec(url.pathname);
    if (req.headers.authorization !== `Bearer ${TOKEN}`) return refuse(socket, 401, '');
    if (!m) return refuse(socket, 404, '404 page not found\n', 'text/plain');
    const pod = m[1]!;
    if (pod === 'forbidden')
      return refuse(
        socket,
        403,
        JSON.stringify({
          kind: 'Status',
          status: 'Failure',
          reason: 'Forbidden',
          code: 403,
          message: `pods "forbidden" is forbidden: User "system:serviceaccount:ns:ci" cannot create resource "pods/portforward" in API group "" in the namespace "ns"`,
        }),
        'application/json',
      );
    if (!url.searchParams.get('ports'))
      return refuse(socket, 400, 'query parameter "port" is required', 'text/plain');
    shapeWire(socket, 'with-upgrade', wire.mode, wire.rand);
    wss.handleUpgrade(req, socket, head, (ws) => {
      wss.emit('connection', ws, req);
      const port = Number(url.searchParams.get('ports'));
      forward(ws, port, port === 2375 ? targets[pod] : undefined, pod === 'closer', pod === 'slow');
    });
  });
  client = await serveFakeApi(server, TOKEN);
});

afterAll(async () => {
  await closeFakeApi(wss, [server, echo, docker], client);
});

function recordingLog(): Log & { warnings: string[]; debugs: string[] } {
  const warnings: string[] = [];
  const debugs: string[] = [];
  return {
    warnings,
    debugs,
    info() {},
    warning: (m) => warnings.push(m),
    debug: (m) => debugs.push(m),
  };
}

/** Send `data` through a new connection to the tunnel and read back as many bytes. */
function roundTrip(tunnel: Tunnel, data: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const s = net.connect(tunnel.port, tunnel.host);
    const chunks: Buffer[] = [];
    let got = 0;
    s.on('data', (c: Buffer) => {
      chunks.push(c);
      got += c.length;
      if (got >= data.length) {
        s.destroy();
        resolve(Buffer.concat(chunks));
      }
    });
    s.on('error', reject);
    s.on('close', () => (got < data.length ? reject(new Error(`closed after ${got} bytes`)) : undefined));
    s.write(data);
  });
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

function handles(): Record<string, number> {
  const out: Record<string, number> = { TCPSocketWrap: 0, TCPServerWrap: 0, Timeout: 0 };
  for (const r of process.getActiveResourcesInfo()) if (r in out) out[r]!++;
  return out;
}

/** No kind of handle has more instances than in `before`. */
function noMoreThan(before: Record<string, number>): boolean {
  const now = handles();
  return Object.keys(now).every((k) => now[k]! <= before[k]!);
}

async function until(cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) return;
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** How the fake server shapes its frames in the run under way. */
const wire = describeWireModes(() => {
  describe('openTunnel', () => {
    it('listens on 127.0.0.1 and carries 50 MB to an echo intact', async () => {
      const tunnel = await openTunnel(client, { namespace: 'ns', pod: 'echo', port: 2375 });
      try {
        expect(tunnel.host).toBe('127.0.0.1');
        expect(tunnel.url).toBe(`tcp://127.0.0.1:${tunnel.port}`);
        const data = randomBytes(50 * 1024 * 1024);
        const back = await roundTrip(tunnel, data);
        expect(back.length).toBe(data.length);
        expect(sha(back)).toBe(sha(data));
      } finally {
        await tunnel.close();
      }
    });

    it('stops reading its client while the remote side does not read (backpressure)', async () => {
      const tunnel = await openTunnel(client, { namespace: 'ns', pod: 'slow' });
      try {
        const data = randomBytes(64 * 1024 * 1024);
        let offset = 0;
        let readWhilePaused = -1;
        onSlowReaderPause = () => {
          readWhilePaused = offset;
        };
        const s = net.connect(tunnel.port, tunnel.host);
        let got = 0;
        const hash = createHash('sha256');
        const done = new Promise<void>((resolve, reject) => {
          s.on('data', (c: Buffer) => {
            hash.update(c);
            got += c.length;
            if (got >= data.length) resolve();
          });
          s.on('error', reject);
        });
        const source = new Readable({
          read() {
            if (offset >= data.length) return;
            this.push(data.subarray(offset, offset + 64 * 1024));
            offset += 64 * 1024;
          },
        });
        source.pipe(s);
        await done;
        s.destroy();
        expect(hash.digest('hex')).toBe(sha(data));
        expect(readWhilePaused).toBeGreaterThan(0);
        expect(readWhilePaused).toBeLessThan(32 * 1024 * 1024);
      } finally {
        onSlowReaderPause = undefined;
        await tunnel.close();
      }
    });

    it('packs what its client writes into frames of at most one TLS record (16 KiB)', async () => {
      const tunnel = await openTunnel(client, { namespace: 'ns', pod: 'echo' });
      framesSeen = [];
      try {
        // 16 KiB on the wire less the 8-byte client frame header: channel byte and data.
        const full = 16 * 1024 - 8;
        const data = randomBytes(40 * (full - 1));
        const back = await roundTrip(tunnel, data);
        expect(sha(back)).toBe(sha(data));
        expect(framesSeen.reduce((n, l) => n + l - 1, 0)).toBe(data.length);
        // No frame spans two TLS records, and reads are packed into full frames rather than framed one by one (a
        // short frame goes out only when nothing is queued ahead of it, whatever the sizes of the TCP reads).
        expect(framesSeen.every((l) => l <= full)).toBe(true);
        expect(framesSeen.filter((l) => l === full).length).toBeGreaterThanOrEqual(30);
      } finally {
        framesSeen = undefined;
        await tunnel.close();
      }
    });

    it('keeps two parallel connections apart, one WebSocket each', async () => {
      const tunnel = await openTunnel(client, { namespace: 'ns', pod: 'echo' });
      try {
        const before = upgrades;
        // Large enough that their reads interleave (every connection is read into the same buffer).
        const a = randomBytes(6_000_000);
        const b = randomBytes(4_000_000);
        const [ra, rb] = await Promise.all([roundTrip(tunnel, a), roundTrip(tunnel, b)]);
        expect(sha(ra)).toBe(sha(a));
        expect(sha(rb)).toBe(sha(b));
        expect(upgrades - before).toBe(2);
      } finally {
        await tunnel.close();
      }
    });

    it('counts open connections', async () => {
      const tunnel = await openTunnel(client, { namespace: 'ns', pod: 'echo', halfCloseGraceMs: 50 });
      const s1 = net.connect(tunnel.port, tunnel.host);
      const s2 = net.connect(tunnel.port, tunnel.host);
      try {
        await until(() => tunnel.connections() === 2);
        expect(tunnel.connections()).toBe(2);
        s1.destroy();
        await until(() => tunnel.connections() === 1);
        expect(tunnel.connections()).toBe(1);
      } finally {
        s1.destroy();
        s2.destroy();
        await tunnel.close();
      }
    });

    it('keeps delivering the answer after the client half-closes, then ends', async () => {
      const tunnel = await openTunnel(client, { namespace: 'ns', pod: 'echo', halfCloseGraceMs: 200 });
      try {
        const data = randomBytes(2 * 1024 * 1024);
        const s = net.connect({ port: tunnel.port, host: tunnel.host, allowHalfOpen: true });
        const chunks: Buffer[] = [];
        s.on('data', (c: Buffer) => chunks.push(c));
        const ended = new Promise<void>((r) => s.on('end', () => r()));
        s.end(data);
        await ended;
        s.destroy();
        expect(sha(Buffer.concat(chunks))).toBe(sha(data));
        await until(() => tunnel.connections() === 0);
        expect(tunnel.connections()).toBe(0);
      } finally {
        await tunnel.close();
      }
    });

    it('ends the local socket when the remote side closes', async () => {
      const tunnel = await openTunnel(client, { namespace: 'ns', pod: 'closer' });
      try {
        const s = net.connect(tunnel.port, tunnel.host);
        s.on('error', () => {});
        const ended = new Promise<void>((r) => s.on('close', () => r()));
        s.write('GET /_ping HTTP/1.1\r\n\r\n');
        await ended;
        await until(() => tunnel.connections() === 0);
        expect(tunnel.connections()).toBe(0);
      } finally {
        await tunnel.close();
      }
    });

    it('reports a refused upgrade once, destroys the local socket, and keeps it as lastError', async () => {
      const log = recordingLog();
      const tunnel = await openTunnel(client, { namespace: 'ns', pod: 'forbidden', log });
      try {
        for (let i = 0; i < 2; i++) {
          const s = net.connect(tunnel.port, tunnel.host);
          s.on('error', () => {});
          await new Promise<void>((r) => s.on('close', () => r()));
        }
        expect(log.warnings).toHaveLength(1);
        expect(log.warnings[0]).toMatch(/port-forward to port 2375 of pod forbidden/);
        expect(log.warnings[0]).toMatch(/cannot create resource "pods\/portforward"/);
        const err = tunnel.lastError();
        expect(err).toBeInstanceOf(KubeApiError);
        expect((err as KubeApiError).code).toBe(403);
      } finally {
        await tunnel.close();
      }
    });

    it('surfaces the kubelet error text when nothing listens on the port', async () => {
      const log = recordingLog();
      const tunnel = await openTunnel(client, { namespace: 'ns', pod: 'echo', port: 2999, log });
      try {
        const s = net.connect(tunnel.port, tunnel.host);
        s.on('error', () => {});
        await new Promise<void>((r) => s.on('close', () => r()));
        expect(tunnel.lastError()?.message).toMatch(/error forwarding port 2999/);
      } finally {
        await tunnel.close();
      }
    });

    it('leaves no active handles after close()', async () => {
      const before = handles();
      const tunnel = await openTunnel(client, { namespace: 'ns', pod: 'echo', heartbeatMs: 50 });
      const s = net.connect(tunnel.port, tunnel.host);
      s.on('error', () => {});
      await until(() => tunnel.connections() === 1);
      await new Promise((r) => setTimeout(r, 120)); // a heartbeat or two
      await tunnel.close();
      await until(() => s.destroyed);
      s.destroy();
      await until(() => noMoreThan(before));
      expect({ before, after: handles(), ok: noMoreThan(before) }).toMatchObject({ ok: true });
      expect(tunnel.connections()).toBe(0);
      const refused = await new Promise<string>((r) => {
        const c = net.connect(tunnel.port, '127.0.0.1');
        c.on('connect', () => {
          c.destroy();
          r('connected');
        });
        c.on('error', (e: NodeJS.ErrnoException) => r(e.code ?? 'error'));
      });
      expect(refused).toBe('ECONNREFUSED');
    });

    it('sends heartbeat pings', async () => {
      let pings = 0;
      const onConn = (ws: WebSocket) => ws.on('ping', () => pings++);
      wss.on('connection', onConn);
      const tunnel = await openTunnel(client, { namespace: 'ns', pod: 'echo', heartbeatMs: 30 });
      const s = net.connect(tunnel.port, tunnel.host);
      try {
        await until(() => tunnel.connections() === 1);
        await until(() => pings >= 2, 2000);
        expect(pings).toBeGreaterThanOrEqual(2);
      } finally {
        s.destroy();
        wss.off('connection', onConn);
        await tunnel.close();
      }
    });
  });

  describe('waitForDocker', () => {
    it('pings and reads the version', async () => {
      const tunnel = await openTunnel(client, { namespace: 'ns', pod: 'docker' });
      try {
        await expect(waitForDocker(tunnel, { timeoutMs: 5000 })).resolves.toEqual({
          version: '26.1.5',
          apiVersion: '1.45',
        });
      } finally {
        await tunnel.close();
      }
    });

    it('names the pod and the tunnel error when dockerd does not answer', async () => {
      const tunnel = await openTunnel(client, { namespace: 'ns', pod: 'echo', port: 2999 });
      try {
        const err = (await waitForDocker(tunnel, { timeoutMs: 1200 }).then(
          () => undefined,
          (e: unknown) => e,
        )) as Error;
        expect(err).toBeInstanceOf(Error);
        expect(err.message).toMatch(/pod echo/);
        expect(err.message).toMatch(/error forwarding port 2999/);
      } finally {
        await tunnel.close();
      }
    });
  });
});
