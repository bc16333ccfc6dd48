/**
 * The simulator's exec and port-forward frames reach a client's reads as they do on a real v1.32 cluster
 * (test/fixtures/kube-real-2, fixtures 001-033): which frames share the 101's read, and, in `split` mode, that
 * frames are cut across reads and grouped at random while the byte stream stays the same.
 */

import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import type { Socket } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SimClient } from '../kube/http-client.js';
import { type KubeSim, startKubeSim } from '../kube/index.js';
import { dockerPodBackend } from './docker/backend.js';
import { installKubeletEndpoints } from './endpoints.js';
import type { WireMode } from './wire.js';

const FIXTURES = path.join(import.meta.dirname, '../../fixtures/kube-real-2');
interface WsFixture {
  response: {
    timing: { headBytes: number };
    stream: Array<{ read?: number; direction: string; channel?: number; base64?: string }>;
  };
}
const fixture = (name: string) => JSON.parse(readFileSync(path.join(FIXTURES, name), 'utf8')) as WsFixture;

/** A WebSocket frame as a server sends it (unmasked, short payload). */
const serverFrame = (payload: Buffer) => Buffer.concat([Buffer.from([0x82, payload.length]), payload]);

interface Opened {
  /** Bytes in the same read as the 101 answer. */
  head: Buffer;
  /** Every later read, in order, until the server closes. */
  reads: Buffer[];
}

/** A raw upgrade (no WebSocket library), so that the test sees the reads as the TLS socket delivers them. */
function open(sim: KubeSim, pathAndQuery: string, protocol: string): Promise<Opened> {
  return new Promise((resolve, reject) => {
    const req = request(`${sim.url}${pathAndQuery}`, {
      ca: sim.caPem,
      headers: {
        Authorization: `Bearer ${sim.adminToken}`,
        Connection: 'Upgrade',
        Upgrade: 'websocket',
        'Sec-WebSocket-Version': '13',
        'Sec-WebSocket-Key': randomBytes(16).toString('base64'),
        'Sec-WebSocket-Protocol': protocol,
      },
    });
    req.on('upgrade', (_res, socket: Socket, head: Buffer) => {
      const reads: Buffer[] = [];
      // The endpoints end with a close frame (1000), which this client does not answer: the test ends there.
      const closed = () =>
        Buffer.concat([head, ...reads])
          .toString('hex')
          .endsWith('880203e8');
      socket.on('data', (d: Buffer) => {
        reads.push(Buffer.from(d));
        if (closed()) socket.destroy();
      });
      socket.on('close', () => resolve({ head, reads }));
      socket.on('error', reject);
      if (closed()) socket.destroy();
    });
    req.on('response', (res) => reject(new Error(`no upgrade: HTTP ${res.statusCode}`)));
    req.on('error', reject);
    req.end();
  });
}

async function simWithPod(mode: WireMode, seed = 1): Promise<KubeSim> {
  // No engine behind the pod: the endpoints still answer with their first frames, then an error.
  const backend = dockerPodBackend({ isDockerHost: () => false });
  const sim = await startKubeSim({ namespaces: ['w'], podBackend: backend, wire: { mode, seed } });
  installKubeletEndpoints(sim, backend);
  const c = new SimClient(sim.url, sim.caPem, sim.adminToken);
  await c.createPod('w', 'p');
  for (let i = 0; i < 200; i++) {
    const pod = await c.request({ path: '/api/v1/namespaces/w/pods/p' });
    if (pod.json?.status?.phase === 'Running') return sim;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error('pod p did not run');
}

const PF = '/api/v1/namespaces/w/pods/p/portforward?ports=2375';
const EXEC = '/api/v1/namespaces/w/pods/p/exec?command=echo&command=hello&stdout=true&stderr=true';

describe('recorded mode: what shares the 101 read', () => {
  let sim: KubeSim;
  beforeAll(async () => {
    sim = await simWithPod('recorded');
  });
  afterAll(() => sim?.close());

  it('port-forward: both port-prefix frames come with the 101, as in fixture 001', async () => {
    const rec = fixture('001-ws-pf-ping-run01.json');
    const inHead = rec.response.stream.filter((f) => f.read === 0 && f.direction === 'server->client');
    const expected = Buffer.concat(inHead.map((f) => serverFrame(Buffer.from(f.base64 as string, 'base64'))));
    expect(rec.response.timing.headBytes).toBe(expected.length);
    const { head } = await open(sim, PF, 'v4.channel.k8s.io');
    expect(head.toString('hex')).toBe(expected.toString('hex'));
  });

  it('exec v4: the empty stdout frame comes with the 101 (29/80 recorded opens)', async () => {
    const { head } = await open(sim, EXEC, 'v4.channel.k8s.io');
    expect(head.toString('hex')).toBe(serverFrame(Buffer.from([1])).toString('hex'));
  });

  it('exec v5: nothing comes with the 101, the empty stdout frame first in a later read, as in fixture 010', async () => {
    const rec = fixture('010-ws-exec-v5-echo-run01.json');
    expect(rec.response.timing.headBytes).toBe(0);
    const { head, reads } = await open(sim, EXEC, 'v5.channel.k8s.io');
    expect(head.length).toBe(0);
    expect(reads[0]?.subarray(0, 3).toString('hex')).toBe(serverFrame(Buffer.from([1])).toString('hex'));
  });
});

describe('split mode: frames cut across reads and grouped at random', () => {
  it('keeps the byte stream, and over a few opens splits a frame across reads and groups frames in one read', async () => {
    const sim = await simWithPod('split', 7);
    try {
      const opens: Opened[] = [];
      for (let i = 0; i < 8; i++) opens.push(await open(sim, PF, 'v4.channel.k8s.io'));
      // The prefix frames (5 bytes each), the error text, the close: the same bytes every time.
      const stream = (o: Opened) => Buffer.concat([o.head, ...o.reads]).toString('hex');
      const first = stream(opens[0] as Opened);
      expect(first.startsWith('82030047098203014709')).toBe(true);
      expect(first.endsWith('880203e8')).toBe(true);
      for (const o of opens) expect(stream(o)).toBe(first);
      const shapes = opens.map((o) => [o.head.length, ...o.reads.map((r) => r.length)].join(','));
      // Some read ends inside a frame (a prefix frame is 5 bytes; cut points are random), some read holds more
      // than one frame, and not every open looks the same.
      const cutInside = opens.some((o) => [o.head, ...o.reads].some((r) => r.length > 0 && r.length < 5));
      const grouped = opens.some((o) => [o.head, ...o.reads].some((r) => r.length >= 10));
      expect({ cutInside, grouped, distinct: new Set(shapes).size > 1 }).toEqual({
        cutInside: true,
        grouped: true,
        distinct: true,
      });
    } finally {
      await sim.close();
    }
  });
});
