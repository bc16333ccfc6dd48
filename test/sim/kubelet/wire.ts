/**
 * How an upgraded connection's bytes reach the client's reads: which frames come in the same read as the 101
 * answer, and how later frames are grouped or split across reads. A TLS client gets one read per TLS record the
 * server wrote (kube-real-2/README.md), so the grouping is made by how the server's writes are cut, before TLS.
 *
 * What a real v1.32 cluster does (kube-real-2 fixtures 001-033, ws-timing-summary.json, 20 opens per case):
 * - port-forward: both port-prefix frames in the 101's read in 22/60 opens, only the data prefix in 7/60, neither in
 *   31/60 (then within 1.15 ms);
 * - exec v5 (the API server answers itself): the first frame never in the 101's read (0/80), 0.15-2.2 ms later;
 * - exec v4 (proxied to the kubelet): the empty stdout frame in the 101's read in 29/80 opens.
 *
 * Modes:
 * - `recorded` (default): each endpoint does the recorded case that is hardest for a client. Port-forward's and
 *   exec v4's first frames go out in the same write as the 101; exec v5's about a millisecond later. Later writes
 *   go out as made.
 * - `split`: adversarial, seeded. Everything written, the 101 included, is cut at random places into writes made
 *   on later turns of the event loop (some after up to 2 ms), so frames are split across reads and several frames
 *   share one read; whether the first frames come with the 101 is random too. Order is always kept, as TCP keeps it.
 * - `plain`: writes go out as made (what a bare `ws` server does).
 */
import type { Duplex } from 'node:stream';

export type WireMode = 'recorded' | 'split' | 'plain';

export interface WireOptions {
  mode?: WireMode;
  /** Seed of `split`'s cuts; a connection's cuts follow from the seed and the order of the upgrades. */
  seed?: number;
}

/** Where an endpoint's first frames go in `recorded` mode. */
export type FirstFrames = 'with-upgrade' | 'later';

/** The wire mode of a process's simulators when a test does not choose one: `PREEVY_SIM_WIRE=split`. */
export function defaultWireMode(): WireMode {
  const env = process.env.PREEVY_SIM_WIRE;
  return env === 'split' || env === 'plain' || env === 'recorded' ? env : 'recorded';
}

// The seeded draws of the fault rules; re-exported for the callers that seed the wire's cut points.
export { prng } from '../faults.js';

type WriteFn = (chunk: unknown, encoding?: unknown, cb?: unknown) => boolean;
type Callback = (err?: Error | null) => void;

/**
 * Takes over `socket.write` before the upgrade's 101 is written, so that the 101 and what follows go out as the
 * mode says. The caller's callbacks run once their bytes were handed to the real socket, as ws expects.
 */
export function shapeWire(
  socket: Duplex,
  firstFrames: FirstFrames,
  mode: WireMode,
  rand: () => number,
): void {
  if (mode === 'plain') return;
  const real = socket.write.bind(socket) as WriteFn;
  const writer = socket as unknown as { write: WriteFn };
  const chunks: Buffer[] = [];
  /** Callbacks of the writes whose last byte is `end` bytes into the queue. */
  let cbs: Array<{ end: number; cb: Callback }> = [];
  let queued = 0;
  let scheduled = false;
  let upgradeWritten = false;

  const take = (n: number) => {
    const parts: Buffer[] = [];
    let left = n;
    while (left > 0) {
      const c = chunks[0] as Buffer;
      if (c.length <= left) {
        parts.push(c);
        chunks.shift();
        left -= c.length;
      } else {
        parts.push(c.subarray(0, left));
        chunks[0] = c.subarray(left);
        left = 0;
      }
    }
    queued -= n;
    const done: Callback[] = [];
    cbs = cbs.filter((c) => {
      c.end -= n;
      if (c.end <= 0) done.push(c.cb);
      return c.end > 0;
    });
    return { out: parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts), done };
  };
  const writeOut = (out: Buffer, done: Callback[]) => {
    if (socket.destroyed) {
      for (const cb of done) cb(new Error('socket destroyed'));
      return;
    }
    real(out, (err?: Error | null) => {
      for (const cb of done) cb(err ?? null);
    });
  };

  // `later` waits for a poll phase of the event loop in between, so that a client in the same process (most tests)
  // reads what went before on its own; sometimes a moment more, as the recorded frames came up to 2 ms apart.
  const schedule = (fn: () => void, later: boolean) => {
    scheduled = true;
    const run = () => {
      scheduled = false;
      fn();
    };
    if (!later) setImmediate(run);
    else if (rand() < 0.5) setImmediate(() => setImmediate(run));
    else setTimeout(() => setImmediate(run), 1 + Math.floor(rand() * 2));
  };

  // recorded: one write for everything of the upgrade's turn (or the 101 alone, the rest a moment later), then
  // the socket's own write again.
  const recorded = () => {
    if (firstFrames === 'with-upgrade') {
      const { out, done } = take(queued);
      writeOut(out, done);
      writer.write = real;
      return;
    }
    const head = Buffer.concat(chunks).indexOf('\r\n\r\n');
    const { out, done } = take(head < 0 ? queued : head + 4);
    writeOut(out, done);
    schedule(() => {
      const rest = take(queued);
      writer.write = real;
      if (rest.out.length > 0 || rest.done.length > 0) writeOut(rest.out, rest.done);
    }, true);
  };

  // split: a random part of what is queued per turn; all of it at times, so frames also share reads.
  const split = () => {
    if (queued === 0) return;
    const n =
      rand() < 0.3 || queued === 1 ? queued : 1 + Math.floor(rand() * Math.min(queued - 1, 64 * 1024));
    const { out, done } = take(n);
    writeOut(out, done);
    upgradeWritten = true;
    if (queued > 0) schedule(split, rand() < 0.2);
  };

  writer.write = (chunk, encoding, cb) => {
    const callback = (typeof encoding === 'function' ? encoding : cb) as Callback | undefined;
    const buf = Buffer.isBuffer(chunk)
      ? chunk
      : Buffer.from(chunk as string, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8');
    chunks.push(buf);
    queued += buf.length;
    if (callback) cbs.push({ end: queued, cb: callback });
    if (!scheduled) {
      if (mode === 'recorded') schedule(recorded, false);
      else schedule(split, upgradeWritten && rand() < 0.2);
    }
    return true;
  };
}

/** The modes the WebSocket client tests run under: what a real cluster does, and the adversarial cuts. */
export const WIRE_TEST_MODES: readonly WireMode[] = ['recorded', 'split'];
