/**
 * WebSockets to the API server (the layer under exec and port-forward, as client-node's web-socket-handler.ts is
 * under its exec.ts and portforward.ts): opening one with the kubeconfig's credentials, and sending on a channel.
 *
 *
 * Why `ws` directly and not client-node's `Exec`/`WebSocketHandler` (2.0.1): the handler resolves when the
 * socket opens, sends stdin with `ws.send` on every `data` event (no backpressure: a 200 MB upload is
 * buffered in memory), closes the socket at the end of stdin on v4 (the command is killed, no status), turns a
 * refused upgrade into an `ErrorEvent` that has lost the Status body, and offers `v5.channel.k8s.io` to
 * port-forward too. We still use client-node for everything about credentials: `applyToHTTPSOptions` gives
 * the CA, client certificate, bearer token (exec plugins, OIDC), tls-server-name and the proxy agent.
 *
 * Channel protocol (`v4`/`v5.channel.k8s.io`, binary frames): first byte = channel (0 stdin, 1 stdout,
 * 2 stderr, 3 status JSON, 4 resize); v5 adds `[255, ch]` = "channel ch is closed" (we send `[255, 0]` at
 * the end of stdin and the command sees EOF). Both versions send an empty stdout frame first, the Status on
 * channel 3 when the command ends, then close 1000.
 */
import WebSocket from 'ws';
import type { KubeClient } from '../client.js';
import { toKubeError } from '../errors.js';

export const PROTOCOL_V5 = 'v5.channel.k8s.io';
export const PROTOCOL_V4 = 'v4.channel.k8s.io';
const HANDSHAKE_TIMEOUT_MS = 30_000;

// ---------------------------------------------------------------------------------------------------------
// Opening a WebSocket to the API server

export interface OpenedSocket {
  ws: WebSocket;
  /** Resolves with the negotiated subprotocol; rejects with KubeApiError (refused upgrade, network). */
  opened: Promise<string>;
  /**
   * Hands every message the server sent since the upgrade, then its close, to `receiver`: the ones that came
   * before this call at once and in order, the rest as they come. Consumers must read through this, never through
   * their own `ws.on('message')`: see openWebSocket.
   */
  receive(receiver: SocketReceiver): void;
}

export interface SocketReceiver {
  message(data: Buffer, isBinary: boolean): void;
  close(code: number): void;
}

/** `https://host:6443/prefix` + `/api/...` → `wss://host:6443/prefix/api/...`. */
export function webSocketUrl(server: string, path: string): string {
  return server.replace(/\/+$/, '').replace(/^http/, 'ws') + path;
}

/** Query string the way kubectl and the fixtures encode it (`%20` for spaces, repeated keys). */
export function queryString(params: Array<[string, string]>): string {
  return params.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');
}

/**
 * Start a WebSocket to `path` with the kubeconfig's credentials. The socket has an `error` listener from
 * the start, so nothing it does can become an unhandled error; a refused upgrade is read to the end and
 * turned into a KubeApiError with the Status message (403 RBAC, 404 pod not found, 400 ...).
 *
 * Messages and the close are held from the first byte after the upgrade until a consumer calls `receive`. A real
 * kubelet sends port-forward's port-prefix frames in the same TLS read as the 101 answer in about a third of the
 * opens (kube-real-2 fixtures 001-009, ws-timing-summary.json): `ws` parses them on the tick after `open`, before
 * any `await` that follows the opening can resume, so a listener attached after one misses them, and for
 * port-forward the 2-byte prefix is then stripped from the real data. Exec's first frames and a quick command's
 * Status and close can come as early (v4: in the 101's read in 29/80 opens).
 */
export async function openWebSocket(
  client: KubeClient,
  path: string,
  protocols: string[],
  what: string,
  opts: { handshakeTimeoutMs?: number } = {},
): Promise<OpenedSocket> {
  const url = webSocketUrl(client.server, path);
  const options: WebSocket.ClientOptions = {};
  try {
    await client.kubeConfig.applyToHTTPSOptions(options);
  } catch (err) {
    throw toKubeError(err, `${what}: kubeconfig credentials`, { server: client.server });
  }
  options.perMessageDeflate = false;
  options.handshakeTimeout = opts.handshakeTimeoutMs ?? HANDSHAKE_TIMEOUT_MS;
  options.headers = { ...(options.headers ?? {}), 'User-Agent': 'preevy-kube-action' };
  // Masking protects caching proxies that read cleartext; inside TLS nothing can read the frames. ws skips
  // the XOR and a copy of every frame for an all-zero key, which halves the tunnel's CPU per byte.
  if (url.startsWith('wss:')) options.generateMask = (mask: Buffer) => void mask.fill(0);
  const ws = new WebSocket(url, protocols, options);
  ws.binaryType = 'nodebuffer';
  let receiver: SocketReceiver | undefined;
  const early: Array<[Buffer, boolean]> = [];
  let closeCode: number | undefined;
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    if (receiver) receiver.message(data, isBinary);
    else early.push([data, isBinary]);
  });
  ws.on('close', (code: number) => {
    if (receiver) receiver.close(code);
    else closeCode = code;
  });
  const receive = (r: SocketReceiver) => {
    if (receiver) throw new Error('a WebSocket has one receiver');
    receiver = r;
    for (const [data, isBinary] of early.splice(0)) r.message(data, isBinary);
    if (closeCode !== undefined) r.close(closeCode);
  };
  const opened = new Promise<string>((resolve, reject) => {
    let settled = false;
    const fail = (err: unknown) => {
      if (settled) return;
      settled = true;
      reject(toKubeError(err, what, { server: client.server }));
    };
    ws.on('error', (err) => fail(err));
    ws.on('close', () => fail(new Error('connection closed during the WebSocket handshake')));
    ws.on('unexpected-response', (_req, res) => {
      const chunks: Buffer[] = [];
      const done = () => {
        fail({ code: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') });
        ws.terminate();
      };
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', done);
      res.on('error', done);
    });
    ws.on('open', () => {
      if (settled) return;
      settled = true;
      resolve(ws.protocol);
    });
  });
  // Once the handshake is settled either way, a later rejection has nobody to tell.
  opened.catch(() => {});
  return { ws, opened, receive };
}

// ---------------------------------------------------------------------------------------------------------
// Sending on a channel (exec stdin, port-forward data)

/**
 * A full frame on the wire is 16 KiB, the largest TLS record: a client frame's 8-byte header (2 bytes,
 * a 16-bit length, the mask), the channel byte and the data. Smaller frames cost more calls per byte; larger
 * ones cost the tunnel process more CPU per byte (measured: bench/README.md), and a frame that spans TLS records
 * is copied together again by the receiver.
 */
const FRAME_BYTES = 16 * 1024;
const FRAME_HEADER = 8;
/** Channel byte and data of a full frame. */
const FRAME_PAYLOAD = FRAME_BYTES - FRAME_HEADER;
/** Frame buffers kept for reuse, shared by all channels: 2 MiB at most. */
const POOL_MAX = 128;
const pool: Buffer[] = [];

/** The WebSocket's TCP/TLS socket, if this version of ws still keeps it where ws 8 does. */
function socketOf(ws: WebSocket): { cork(): void; uncork(): void } | undefined {
  const sock = (ws as unknown as { _socket?: { cork?: unknown; uncork?: unknown } })._socket;
  return sock && typeof sock.cork === 'function' && typeof sock.uncork === 'function'
    ? (sock as { cork(): void; uncork(): void })
    : undefined;
}

export interface ChannelSender {
  /**
   * Sends `data` on the channel. It is copied at once, so the caller may reuse it; `cb` runs when its last byte
   * is written to the socket, or with an error when the WebSocket is closed.
   */
  write(data: Buffer, cb?: (err?: Error) => void): void;
  /** Sends a partly filled frame now rather than on the next turn of the event loop. */
  flush(): void;
}

/**
 * Frames the bytes written to it as binary messages of one channel (`[channel, ...data]`), without allocating:
 * frames are copied into buffers that return to a shared pool once written. What is written within one turn
 * of the event loop is packed into full frames; a partly filled frame goes out on the next turn (setImmediate)
 * or at flush(). Callers must flush() before anything else they send on the WebSocket that has to follow the
 * data (an end-of-stdin frame, a close).
 */
export function channelSender(ws: WebSocket, channel: number): ChannelSender {
  let cur: Buffer | undefined;
  let used = 0;
  /** Callbacks of the writes whose last byte is in `cur`. */
  let waiting: Array<(err?: Error) => void> = [];
  let scheduled: NodeJS.Immediate | undefined;
  /** Frames sent and not yet written to the socket. */
  let inFlight = 0;
  /** A partly filled frame waits for the frames ahead of it (see partial()). */
  let deferred = false;

  const send = () => {
    if (scheduled) {
      clearImmediate(scheduled);
      scheduled = undefined;
    }
    deferred = false;
    if (!cur) return;
    const buf = cur;
    const n = used;
    const cbs = waiting;
    cur = undefined;
    used = 0;
    waiting = [];
    inFlight++;
    const done = (err?: Error) => {
      inFlight--;
      if (pool.length < POOL_MAX) pool.push(buf);
      for (const cb of cbs) cb(err ?? undefined);
      if (deferred && inFlight === 0) send();
    };
    // ws reports a send on a closed socket through the callback too, but throws while it is connecting.
    if (ws.readyState === WebSocket.CONNECTING) {
      process.nextTick(done, new Error('the WebSocket is not open yet'));
      return;
    }
    ws.send(buf.subarray(0, n), { binary: true }, done);
  };

  // A partly filled frame queued behind full ones would be encrypted together with them, and shift every
  // frame after it off the TLS record boundaries. So it goes out once the frames ahead of it are written (it
  // would wait for them in the socket's queue anyway), and meanwhile takes in what is written after it.
  const partial = () => {
    scheduled = undefined;
    if (inFlight > 0) deferred = true;
    else send();
  };

  return {
    write(data, cb) {
      // The frames one write fills go to the socket corked: one writev, so one TLS write (still one record per
      // frame) and one TCP send, rather than a send, a packet and its ACK per 16 KiB. Measured per 200 MB through
      // the tunnel: 0.29 CPU-seconds in the tunnel's process and 0.52 in the simulator's, against 0.37 and 0.62
      // uncorked. ws keeps its socket in `_socket` (not public; without it, frames go out one by one).
      const sock =
        data.length >= FRAME_PAYLOAD - used && ws.readyState === WebSocket.OPEN ? socketOf(ws) : undefined;
      sock?.cork();
      let off = 0;
      while (off < data.length) {
        if (!cur) {
          cur = pool.pop() ?? Buffer.allocUnsafeSlow(FRAME_PAYLOAD);
          cur[0] = channel;
          used = 1;
        }
        const n = Math.min(FRAME_PAYLOAD - used, data.length - off);
        data.copy(cur, used, off, off + n);
        used += n;
        off += n;
        if (used === FRAME_PAYLOAD) {
          if (off === data.length && cb) waiting.push(cb);
          send();
        }
      }
      sock?.uncork();
      if (cur) {
        if (cb) waiting.push(cb);
        if (!deferred) scheduled ??= setImmediate(partial);
      } else if (data.length === 0 && cb) {
        process.nextTick(cb);
      }
    },
    flush: send,
  };
}
