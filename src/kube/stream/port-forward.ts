/**
 * The tunnel to the pod's dockerd: a TCP server on 127.0.0.1 (ephemeral port; never 0.0.0.0, the Docker API
 * is unauthenticated) where every accepted connection gets its own `pods/portforward` WebSocket
 * (`v4.channel.k8s.io`, one port). Frames: channel 0 = data, channel 1 = error text; the first two bytes
 * of each channel are the port (little-endian) and are stripped.
 *
 * Why not client-node's `PortForward` (2.0.1): it offers v5 first, has no backpressure in either direction,
 * never ends the local socket when the WebSocket closes, and its refused upgrade is a rejected promise
 * that crashes the process when nothing awaits it. We use `ws` with client-node's credentials (see websocket.ts).
 *
 * Backpressure: TCP → WebSocket pauses the TCP socket while more than HIGH_WATER bytes are queued in the
 * WebSocket; WebSocket → TCP pauses the WebSocket (`ws.pause()`) until the TCP socket drains.
 *
 * Memory: nothing is allocated per byte on the way out. A client's bytes are read into one buffer for the whole
 * process (adopt()) and copied into pooled frames (channelSender), so a connection holds at most HIGH_WATER in
 * the WebSocket plus one frame, however much it carries. (Allocating per read does not queue more data, but the
 * dead Buffers pile up to 64 MB and more before V8 frees them: see adopt().)
 *
 * Faults: a connection's WebSocket opening is retried on 5xx, 429 and network errors (WEBSOCKET_RETRY_POLICY)
 * while its client waits. A WebSocket that drops once open cannot be resumed (the bytes in flight are lost),
 * so the local connection ends and the drop is counted in `failures()`: the caller can tell that a failed
 * Docker command met a broken tunnel, and run it again.
 */
import net from 'node:net';
import type WebSocket from 'ws';
import { ActionError } from '../../errors.js';
import { type KubeLog, noopLog } from '../../util/log.js';
import type { KubeClient } from '../client.js';
import { type RetryPolicy, retryOpening } from '../retry.js';
import { channelSender, type OpenedSocket, openWebSocket, PROTOCOL_V4 } from './websocket.js';

const HIGH_WATER = 1024 * 1024;
const DEFAULT_HEARTBEAT_MS = 30_000;
const DEFAULT_HALF_CLOSE_GRACE_MS = 2000;

export interface Tunnel {
  host: '127.0.0.1';
  port: number;
  /** `tcp://127.0.0.1:PORT`, for DOCKER_HOST. */
  url: string;
  /** The pod the tunnel leads to. */
  pod: string;
  /** The remote port. */
  remotePort: number;
  /** Open TCP connections. */
  connections(): number;
  /** The last failure of a connection (refused upgrade, error text from the kubelet), for error messages. */
  lastError(): Error | undefined;
  /**
   * Connections that failed since the tunnel opened: an opening refused for good, the kubelet's error text, or
   * a WebSocket that closed abnormally (dropped) while its client was still connected.
   */
  failures(): number;
  /** Close the server, every socket and WebSocket, and the timers. Never rejects. */
  close(): Promise<void>;
}

export interface TunnelArgs {
  namespace: string;
  pod: string;
  port?: number;
  log?: KubeLog;
  /** WebSocket ping interval, default 30 s (keeps idle connections through proxies and load balancers). */
  heartbeatMs?: number;
  /** After a client's FIN, how long the remote side may stay silent before the connection is closed; 2 s. */
  halfCloseGraceMs?: number;
  /** Retries of each connection's WebSocket opening; default WEBSOCKET_RETRY_POLICY (retry.ts). */
  retry?: Partial<RetryPolicy>;
}

/** The error text the kubelet/containerd sends on channel 1 (e.g. nothing listens on the port). */
export class TunnelError extends ActionError {}

export async function openTunnel(client: KubeClient, args: TunnelArgs): Promise<Tunnel> {
  const { namespace, pod } = args;
  const remotePort = args.port ?? 2375;
  const log = args.log ?? noopLog;
  const path = `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(pod)}/portforward?ports=${remotePort}`;
  const what = `port-forward to port ${remotePort} of pod ${pod}`;

  const sockets = new Set<net.Socket>();
  const webSockets = new Set<WebSocket>();
  let last: Error | undefined;
  let failures = 0;
  let warned = false;
  let closed = false;
  // Aborts the openings that are retrying when the tunnel closes.
  const closing = new AbortController();

  const record = (err: Error, warn: boolean) => {
    last = err;
    failures++;
    const text = err instanceof ActionError ? err.userMessage : err.message;
    if (warn && !warned) {
      warned = true;
      log.warning(text);
    } else {
      log.debug(text);
    }
  };

  const handle = async (local: Client) => {
    const { socket } = local;
    sockets.add(socket);
    socket.pause();
    socket.on('error', (err) => log.debug(`tunnel: local socket: ${err.message}`));
    let ws: WebSocket | undefined;
    let opening: OpenedSocket;
    let localGone = false;
    // A client that goes away stops the retries of its opening.
    const gone = new AbortController();
    socket.on('close', () => {
      localGone = true;
      gone.abort();
      sockets.delete(socket);
      if (ws && ws.readyState !== ws.CLOSED) {
        // A paused WebSocket (waiting for this socket to drain) could not read the server's close frame.
        if (ws.isPaused) ws.resume();
        ws.close(1000);
      }
    });
    try {
      opening = await retryOpening(
        what,
        async () => {
          const opened = await openWebSocket(client, path, [PROTOCOL_V4], what);
          const attempt = opened.ws;
          // So that a client leaving during the handshake closes it.
          ws = attempt;
          webSockets.add(attempt);
          attempt.on('close', () => webSockets.delete(attempt));
          if (closed || socket.destroyed) {
            attempt.terminate();
            throw new Error('the tunnel or its client closed during the WebSocket handshake');
          }
          try {
            await opened.opened;
          } catch (err) {
            attempt.terminate();
            throw err;
          }
          return opened;
        },
        { log, policy: args.retry, signal: AbortSignal.any([gone.signal, closing.signal]) },
      );
      ws = opening.ws;
      if (closed || socket.destroyed) {
        ws.terminate();
        return;
      }
    } catch (err) {
      // A client that went away during the handshake aborted it itself: not worth a warning.
      const e = err instanceof Error ? err : new Error(String(err));
      if (closed) log.debug(`tunnel: ${e.message}`);
      else if (localGone && e.name === 'AbortError') {
        // It left while its opening was being retried: its request failed, and `last` keeps the reason.
        failures++;
        log.debug(`tunnel: ${what}: the client left while the opening was retried`);
      } else record(e, !localGone);
      socket.destroy();
      ws?.terminate();
      return;
    }
    if (socket.destroyed) {
      ws.close(1000);
      return;
    }
    pipe(local, opening);
  };

  const pipe = ({ socket, onData }: Client, opened: OpenedSocket) => {
    const { ws } = opened;
    // Bytes of the port prefix still to strip, per channel. They may have come with the 101 answer, in frames of
    // their own or not, so they are counted across every frame of the channel.
    const prefix = [2, 2];
    let errorText = '';
    let ended = false;
    let idle: NodeJS.Timeout | undefined;
    const grace = args.halfCloseGraceMs ?? DEFAULT_HALF_CLOSE_GRACE_MS;
    const armIdle = () => {
      if (idle) clearTimeout(idle);
      idle = setTimeout(() => {
        socket.end();
        if (ws.isPaused) ws.resume();
        ws.close(1000);
      }, grace);
    };
    const onEnd = () => {
      ended = true;
      armIdle();
    };
    // The client may have sent its FIN during the handshake already.
    if (socket.readableEnded) onEnd();
    else socket.on('end', onEnd);
    socket.on('close', () => {
      if (idle) clearTimeout(idle);
    });
    const message = (data: Buffer, isBinary: boolean) => {
      if (!isBinary || data.length < 1) return;
      const channel = data[0]!;
      let payload = data.subarray(1);
      if (channel < 2 && prefix[channel]! > 0) {
        const n = Math.min(prefix[channel]!, payload.length);
        prefix[channel]! -= n;
        payload = payload.subarray(n);
      }
      if (payload.length === 0) return;
      if (channel === 0) {
        if (ended) armIdle();
        if (!socket.write(payload) && !ws.isPaused) {
          ws.pause();
          socket.once('drain', () => ws.resume());
        }
      } else if (channel === 1) {
        errorText += payload.toString('utf8');
        record(new TunnelError(`${what}: ${errorText.trim()}`), false);
        socket.destroy();
        ws.close(1000);
      }
    };
    let dropped = false;
    const drop = (why: string) => {
      // Lost while its client was still connected (not the tunnel closing, not the kubelet's error text):
      // whatever the client was doing failed with it.
      if (dropped || closed || socket.destroyed || errorText !== '') return;
      dropped = true;
      record(new TunnelError(`${what}: the connection dropped (${why})`), false);
    };
    const close = (code: number) => {
      // The remote side ends a forwarded connection with a normal close (1000), and echoes ours.
      if (code !== 1000) drop(`WebSocket close ${code}`);
      // Let written data flush, send FIN, then release the socket whatever the client does.
      if (!socket.destroyed) socket.destroySoon();
    };
    opened.receive({ message, close });
    ws.on('error', (err) => {
      log.debug(`tunnel: ${what}: ${err.message}`);
      drop(err.message);
      socket.destroy();
    });
    // The client's bytes go out in full frames of pooled buffers (see channelSender): a frame per TCP read would
    // allocate a Buffer per read, and start the frames at random places in the TLS records the API server reads.
    const out = channelSender(ws, 0);
    // What the client wrote before it went away still goes out, ahead of the close frame.
    socket.prependListener('close', () => out.flush());
    const written = () => {
      if (socket.isPaused() && ws.bufferedAmount <= HIGH_WATER && !socket.destroyed) socket.resume();
    };
    onData((chunk) => {
      if (ws.readyState !== ws.OPEN) return;
      if (ws.bufferedAmount > HIGH_WATER) {
        socket.pause();
        // Its callback runs once everything written before it is on the socket too.
        out.write(chunk, written);
      } else out.write(chunk);
    });
    socket.resume();
  };

  // allowHalfOpen: v4 port-forward cannot carry a half-close, and TCP cannot tell a client's half-close
  // (Docker's hijacked exec/attach streams send FIN at the end of stdin and still read the output) from a
  // full close. So after a client's FIN the answer keeps flowing until the remote side is idle for
  // `halfCloseGraceMs` (or closes); then both ends are closed.
  // pauseOnConnect: nothing is read before adopt() has chosen how.
  const server = net.createServer(
    { noDelay: true, allowHalfOpen: true, pauseOnConnect: true },
    (accepted) => {
      if (closed) {
        accepted.destroy();
        return;
      }
      void handle(adopt(accepted));
    },
  );
  server.on('error', (err) => log.debug(`tunnel: server: ${err.message}`));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as net.AddressInfo).port;

  const heartbeat = setInterval(() => {
    for (const ws of webSockets) if (ws.readyState === ws.OPEN) ws.ping();
  }, args.heartbeatMs ?? DEFAULT_HEARTBEAT_MS);
  heartbeat.unref();

  log.debug(`tunnel: 127.0.0.1:${port} -> pod ${pod} port ${remotePort}`);
  return {
    host: '127.0.0.1',
    port,
    url: `tcp://127.0.0.1:${port}`,
    pod,
    remotePort,
    connections: () => sockets.size,
    lastError: () => last,
    failures: () => failures,
    async close() {
      if (closed) return;
      closed = true;
      closing.abort();
      clearInterval(heartbeat);
      const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sockets) s.destroy();
      const wsClosed = [...webSockets].map(
        (ws) =>
          new Promise<void>((resolve) => {
            if (ws.readyState === ws.CLOSED) return resolve();
            ws.once('close', () => resolve());
            ws.terminate();
          }),
      );
      await Promise.all([serverClosed, ...wsClosed]);
    },
  };
}

/** A local connection, and how its bytes are read. */
interface Client {
  socket: net.Socket;
  /** Sets the receiver of the client's bytes; the chunk is only valid during the call. */
  onData(receive: (chunk: Buffer) => void): void;
}

/**
 * Where every local connection of the process is read into (64 KiB: what libuv reads at most per call). One is
 * enough: each read is copied into frames before the next (channelSender copies at once).
 */
const READ_BUFFER = Buffer.allocUnsafeSlow(64 * 1024);

/**
 * Reads an accepted connection into READ_BUFFER (net's `onread`) rather than into a new Buffer per read.
 *
 * Why: a Buffer per read is 64 KiB of fresh memory (malloc, page faults) that lives until V8 collects it, and
 * V8 collects such Buffers mostly with full mark-compacts once 64 MB of them have piled up. That was half of the
 * tunnel's CPU per byte and all of its memory growth (bench/README.md): per 200 MB `docker cp` through the
 * tunnel, 0.70 CPU-seconds with a Buffer per read, 0.31–0.40 without; a 1 GB build context took the process to
 * 209 MB of RSS with 70 MB of Buffers (75 mark-compacts, almost no scavenges), and now to 156 MB with 2 MB.
 *
 * How: `onread` is an option of the net.Socket constructor only, and a server creates its sockets itself. So the
 * accepted socket (paused: pauseOnConnect) hands its handle to a socket created with `onread`, and is then
 * destroyed without it. `_handle` and the constructor's `handle` option are what Node's own cluster and
 * child_process use to move sockets; if this Node has neither, the accepted socket is used as it is.
 */
function adopt(accepted: net.Socket): Client {
  const internal = accepted as unknown as { _handle?: { readStart?: unknown } | null };
  const handle = internal._handle;
  if (!handle || typeof handle.readStart !== 'function') {
    return { socket: accepted, onData: (receive) => accepted.on('data', receive) };
  }
  let receive: ((chunk: Buffer) => void) | undefined;
  internal._handle = null;
  // Without its handle, it only counts itself out of the server's connections.
  accepted.destroy();
  // The accepted TCP handle, not a net.BoundSocket (what the types know of the `handle` option).
  const options: Omit<net.SocketConstructorOpts, 'handle'> & { handle: unknown } = {
    handle,
    allowHalfOpen: true,
    onread: {
      buffer: READ_BUFFER,
      callback: (n) => {
        receive?.(READ_BUFFER.subarray(0, n));
        return true;
      },
    },
  };
  const socket = new net.Socket(options as net.SocketConstructorOpts);
  return {
    socket,
    onData: (r) => {
      receive = r;
    },
  };
}
