/**
 * channelSender (src/kube/stream/websocket.ts): the framing shared by exec stdin and the port-forward tunnel. Checked on a
 * real WebSocket pair: message boundaries, the channel byte, packing into full frames, the order against other
 * sends after flush(), callbacks, and data intact through reused frame buffers.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { channelSender } from '../../../../src/kube/stream/websocket.js';

/** Channel byte and data of a full frame: 16 KiB on the wire, less the 8-byte client frame header. */
const FULL = 16 * 1024 - 8;

interface Pair {
  client: WebSocket;
  /** Messages the server received, in order. */
  received: Buffer[];
  /** Resolves once the server has received `n` messages. */
  messages(n: number): Promise<Buffer[]>;
  close(): Promise<void>;
}

const open: Pair[] = [];

async function pair(): Promise<Pair> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await new Promise<void>((r) => wss.once('listening', () => r()));
  const received: Buffer[] = [];
  const waiters: Array<{ n: number; resolve: (m: Buffer[]) => void }> = [];
  wss.on('connection', (ws) => {
    ws.on('message', (data: Buffer) => {
      received.push(data);
      for (const w of waiters.splice(0)) {
        if (received.length >= w.n) w.resolve(received.slice(0, w.n));
        else waiters.push(w);
      }
    });
  });
  const client = new WebSocket(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}`);
  await new Promise<void>((resolve, reject) => {
    client.once('open', () => resolve());
    client.once('error', reject);
  });
  const p: Pair = {
    client,
    received,
    messages: (n) =>
      received.length >= n
        ? Promise.resolve(received.slice(0, n))
        : new Promise((resolve) => waiters.push({ n, resolve })),
    close: async () => {
      client.terminate();
      for (const c of wss.clients) c.terminate();
      await new Promise<void>((r) => wss.close(() => r()));
    },
  };
  open.push(p);
  return p;
}

afterEach(async () => {
  for (const p of open.splice(0)) await p.close();
});

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const nextTurn = () => new Promise((r) => setImmediate(r));

describe('channelSender', () => {
  it('packs what is written in one turn into full frames, each starting with the channel byte', async () => {
    const { client, messages } = await pair();
    const out = channelSender(client, 0);
    const data = randomBytes(3 * FULL + 1000);
    // Written in pieces that do not line up with frames: 100 kB, then small ones.
    out.write(data.subarray(0, 30_000));
    out.write(data.subarray(30_000, 30_512));
    out.write(data.subarray(30_512));
    const got = await messages(4);
    expect(got.map((m) => m.length)).toEqual([FULL, FULL, FULL, data.length - 3 * (FULL - 1) + 1]);
    for (const m of got) expect(m[0]).toBe(0);
    expect(sha(Buffer.concat(got.map((m) => m.subarray(1))))).toBe(sha(data));
  });

  it('sends a partly filled frame on the next turn, or at flush() before what follows it', async () => {
    const { client, messages, received } = await pair();
    const out = channelSender(client, 0);
    out.write(Buffer.from('hello'));
    expect(received).toHaveLength(0);
    const [first] = await messages(1);
    expect(first).toEqual(Buffer.from([0, ...Buffer.from('hello')]));

    out.write(Buffer.from('last bytes'));
    out.flush();
    client.send(Buffer.from([255, 0]));
    const got = await messages(3);
    expect(got[1]).toEqual(Buffer.from([0, ...Buffer.from('last bytes')]));
    expect(got[2]).toEqual(Buffer.from([255, 0]));
    await nextTurn();
    expect(received).toHaveLength(3);
  });

  it('copies the data at once: the caller may reuse its buffer', async () => {
    const { client, messages } = await pair();
    const out = channelSender(client, 2);
    const scratch = Buffer.from('first');
    out.write(scratch);
    scratch.write('XXXXX');
    const [m] = await messages(1);
    expect(m).toEqual(Buffer.from([2, ...Buffer.from('first')]));
  });

  it('calls back once the last byte of a write is on the socket, and with an error once closed', async () => {
    const { client, messages } = await pair();
    const out = channelSender(client, 0);
    const order: string[] = [];
    out.write(randomBytes(FULL * 2), (err) => order.push(`big ${err ?? 'ok'}`));
    out.write(Buffer.from('tail'), (err) => order.push(`tail ${err ?? 'ok'}`));
    out.write(Buffer.alloc(0), (err) => order.push(`empty ${err ?? 'ok'}`));
    await messages(3);
    await nextTurn();
    expect(order).toEqual(['big ok', 'tail ok', 'empty ok']);

    client.close();
    const err = await new Promise<Error | undefined>((resolve) => out.write(Buffer.from('late'), resolve));
    expect(err).toBeInstanceOf(Error);
  });

  it('keeps a long stream intact through reused frame buffers', async () => {
    const { client, received } = await pair();
    const out = channelSender(client, 0);
    const hash = createHash('sha256');
    let total = 0;
    // 8 MB in odd-sized chunks, waiting for the socket now and then (a waited-for write is sent at the next
    // turn even if its frame is not full), as a producer with backpressure does.
    for (let i = 0; i < 300; i++) {
      const chunk = randomBytes(20_000 + ((i * 7919) % 30_000));
      hash.update(chunk);
      total += chunk.length;
      const written = new Promise<void>((resolve, reject) =>
        out.write(chunk, (err) => (err ? reject(err) : resolve())),
      );
      if (i % 7 === 0) await written;
    }
    out.flush();
    const bytes = () => received.reduce((n, m) => n + m.length - 1, 0);
    for (let i = 0; i < 500 && bytes() < total; i++) await new Promise((r) => setTimeout(r, 10));
    expect(received.every((m) => m.length <= FULL && m[0] === 0)).toBe(true);
    expect(sha(Buffer.concat(received.map((m) => m.subarray(1))))).toBe(hash.digest('hex'));
  });
});
