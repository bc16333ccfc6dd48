/**
 * The WebSocket form of pods/portforward, as the kubelet (containerd) answers it on a real v1.32 cluster
 * (fixtures 105-110). Per requested port i, channel 2i carries data and 2i+1 errors; the first frame on each
 * is the port as 2 bytes little-endian. v4.base64.channel.k8s.io sends text frames: the channel as an ASCII
 * digit, then the payload in base64.
 */
import type net from 'node:net';
import type { WebSocket } from 'ws';
import type { UpgradeContext, UpgradeHandler } from '../kube/server/index.js';
import { offeredProtocols, podKey, sandboxId } from './common.js';
import type { DockerPodBackend } from './docker/backend.js';

export const PORTFORWARD_PROTOCOLS = [
  'v4.channel.k8s.io',
  'v4.base64.channel.k8s.io',
  'channel.k8s.io',
  'base64.channel.k8s.io',
] as const;

/** Above this many queued bytes on the WebSocket (or on the pod's socket), reading from the other side pauses. */
const HIGH_WATER = 4 * 1024 * 1024;

/** Blocks the data for the pods is copied into; a few are in use per connection, the rest kept for reuse. */
const BLOCK = 256 * 1024;
const BLOCKS_KEPT = 32;
const blocks: Buffer[] = [];

/**
 * Writes a connection's data to the pod the way the kubelet's copy loop does: out of buffers of its own, not out
 * of the received frames. The WebSocket's frames are views into Buffers that Node's TLS server allocates per
 * record (16 KiB); written as they are, each would live until the pod's socket has taken it, long enough to
 * outlive the young generation, and the simulator's process would then free them with full mark-compacts, which
 * cost it more CPU than the rest of its work per byte (bench/README.md). Copied, they die at once. What arrives
 * in one turn of the event loop goes to the pod in one write (system call) at the next.
 */
class PodWriter {
  private block: Buffer | undefined;
  private used = 0;
  /** Start of the bytes of `block` not yet handed to the socket. */
  private start = 0;
  private scheduled = false;

  constructor(private readonly sock: net.Socket) {}

  write(data: Buffer): void {
    let off = 0;
    while (off < data.length) {
      if (!this.block) {
        this.block = blocks.pop() ?? Buffer.allocUnsafeSlow(BLOCK);
        this.used = 0;
        this.start = 0;
      }
      const n = Math.min(BLOCK - this.used, data.length - off);
      data.copy(this.block, this.used, off, off + n);
      this.used += n;
      off += n;
      if (this.used === BLOCK) this.flush();
    }
    if (!this.scheduled && this.block) {
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        this.flush();
      });
    }
  }

  flush(): void {
    const block = this.block;
    if (!block || this.used === this.start || this.sock.destroyed) return;
    const full = this.used === BLOCK;
    // Writes complete in order: once the block's last part is written, the block is free.
    this.sock.write(
      block.subarray(this.start, this.used),
      full
        ? () => {
            if (blocks.length < BLOCKS_KEPT) blocks.push(block);
          }
        : undefined,
    );
    this.start = this.used;
    if (full) this.block = undefined;
  }
}

function parsePorts(query: URLSearchParams): number[] | string {
  const raw = query
    .getAll('ports')
    .flatMap((v) => v.split(','))
    .map((s) => s.trim())
    .filter(Boolean);
  if (raw.length === 0) return 'query parameter "port" is required';
  const ports: number[] = [];
  for (const s of raw) {
    const n = /^\d+$/.test(s) ? Number(s) : Number.NaN;
    if (!Number.isInteger(n) || n > 65535)
      return `unable to parse "${s}" as a port: strconv.ParseUint: parsing "${s}": ${Number.isNaN(n) ? 'invalid syntax' : 'value out of range'}`;
    if (n === 0) return `port "${s}" must be > 0`;
    ports.push(n);
  }
  return ports;
}

/** containerd's words for a refused connection (fixture 108), with the simulator's sandbox id and netns. */
function forwardError(ctx: UpgradeContext, netns: string, port: number, cause: string): string {
  const sandbox = sandboxId(ctx.pod);
  return `error forwarding port ${port} to pod ${sandbox}, uid : failed to execute portforward in network namespace "/var/run/netns/${netns}": failed to connect to localhost:${port} inside namespace "${sandbox}", IPv4: ${cause} IPv6 dial tcp6: address localhost: no suitable address found `;
}

export function portForwardHandler(backend: DockerPodBackend): UpgradeHandler {
  return async (ctx: UpgradeContext) => {
    const ports = parsePorts(ctx.query);
    if (typeof ports === 'string') {
      ctx.reject(400, ports, 'text/plain; charset=utf-8');
      return;
    }
    const offered = offeredProtocols(ctx.req);
    const protocol = PORTFORWARD_PROTOCOLS.find((p) => offered.includes(p));
    if (offered.length > 0 && !protocol) {
      // The kubelet's WebSocket handshake refuses unknown subprotocols with a bare 403 (fixture 107).
      ctx.reject(403, '', '');
      return;
    }
    // The kubelet's port-prefix frames come in the same read as the 101 in a third of the opens (fixtures 001-009).
    const ws = await ctx.accept(protocol, 'with-upgrade');
    runPortForward(ws, protocol ?? 'channel.k8s.io', backend, ctx, ports);
  };
}

function runPortForward(
  ws: WebSocket,
  protocol: string,
  backend: DockerPodBackend,
  ctx: UpgradeContext,
  ports: number[],
): void {
  const base64 = protocol.includes('base64');
  const send = (channel: number, data: Buffer, cb?: () => void) => {
    if (ws.readyState !== ws.OPEN) return;
    if (base64) ws.send(`${channel}${data.toString('base64')}`, cb);
    else ws.send(Buffer.concat([Buffer.from([channel]), data]), cb);
  };
  const sockets: Array<net.Socket | undefined> = [];
  let open = ports.length;
  let closed = false;
  const closeAll = () => {
    if (closed) return;
    closed = true;
    for (const s of sockets) s?.destroy();
    if (ws.readyState === ws.OPEN) ws.close(1000);
  };
  const portDone = () => {
    open -= 1;
    if (open === 0) closeAll();
  };

  ws.on('close', () => {
    closed = true;
    // The kubelet's copy loop has written what the client sent before its close: the pod gets those bytes, then
    // the end of the stream (FIN), and the connection goes once the pod closes its side, or after a grace.
    for (const s of sockets) {
      if (!s || s.destroyed) continue;
      writers.get(s)?.flush();
      s.end();
      setTimeout(() => s.destroy(), 2000).unref();
    }
  });
  ws.on('error', () => {});

  for (const [i, port] of ports.entries()) {
    const prefix = Buffer.alloc(2);
    prefix.writeUInt16LE(port);
    send(2 * i, prefix);
    send(2 * i + 1, prefix);
  }

  const engine = backend.engineFor(podKey(ctx.pod));
  // A kubelet reports a failed dial once it has tried, not with the prefixes: the first frames stay the prefixes.
  if (!engine) {
    setImmediate(() => noRuntime(ports, send, ctx, closeAll));
    return;
  }
  for (const [i, port] of ports.entries()) {
    const sock = backend.portForward(ctx.pod, port);
    // As the kubelet's (Go's) dialled connections are.
    sock.setNoDelay(true);
    sockets[i] = sock;
    let failed = false;
    sock.on('error', (err: NodeJS.ErrnoException) => {
      if (failed || closed) return;
      failed = true;
      if (err.code === 'ECONNREFUSED' || err.code === 'EHOSTUNREACH' || err.code === 'ETIMEDOUT') {
        const why = err.code === 'ECONNREFUSED' ? 'connection refused' : err.message;
        send(
          2 * i + 1,
          Buffer.from(forwardError(ctx, engine.netns, port, `dial tcp4 127.0.0.1:${port}: connect: ${why}`)),
        );
        // containerd's forwarder gives up and the kubelet closes the whole connection (fixtures 108, 109).
        closeAll();
      } else {
        send(
          2 * i + 1,
          Buffer.from(`error forwarding port ${port} to pod ${sandboxId(ctx.pod)}, uid : ${err.message}`),
        );
        portDone();
      }
    });
    sock.on('data', (c: Buffer) => {
      send(2 * i, c, () => {
        if (sock.isPaused() && ws.bufferedAmount < HIGH_WATER) sock.resume();
      });
      if (ws.bufferedAmount >= HIGH_WATER) sock.pause();
    });
    sock.on('close', () => {
      if (!failed) portDone();
    });
  }

  const writers = new Map<net.Socket, PodWriter>();
  const toPod = (sock: net.Socket, payload: Buffer) => {
    let w = writers.get(sock);
    if (!w) {
      w = new PodWriter(sock);
      writers.set(sock, w);
    }
    w.write(payload);
    // A pod that reads slower than the client sends holds the client back, as TCP backpressure does through the
    // kubelet's copy.
    if (sock.writableLength > HIGH_WATER && !ws.isPaused) {
      ws.pause();
      const resume = () => {
        sock.off('drain', resume);
        sock.off('close', resume);
        if (ws.isPaused) ws.resume();
      };
      sock.on('drain', resume);
      sock.on('close', resume);
    }
  };
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    let channel: number;
    let payload: Buffer;
    if (base64) {
      const text = data.toString('utf8');
      if (text.length === 0) return;
      channel = Number(text[0]);
      payload = Buffer.from(text.slice(1), 'base64');
    } else {
      if (!isBinary || data.length === 0) return;
      channel = data[0] as number;
      payload = data.subarray(1);
    }
    if (!Number.isInteger(channel) || channel % 2 !== 0) return;
    const sock = sockets[channel / 2];
    if (sock && !sock.destroyed && payload.length > 0) toPod(sock, payload);
  });
}

function noRuntime(
  ports: number[],
  send: (channel: number, data: Buffer) => void,
  ctx: UpgradeContext,
  closeAll: () => void,
): void {
  const [port] = ports;
  send(
    1,
    Buffer.from(
      `error forwarding port ${port} to pod ${sandboxId(ctx.pod)}, uid : pod ${podKey(ctx.pod)} has no container runtime in this simulator (a virtual pod: only docker-host pods get one)`,
    ),
  );
  closeAll();
}
