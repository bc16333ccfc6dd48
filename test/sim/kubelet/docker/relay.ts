/**
 * Connections made from inside a pod's network namespace, the way the kubelet's port-forward makes them
 * (containerd dials localhost:PORT in the pod's netns: fixture 108's error text), or the way another pod's
 * process would. Node cannot setns(2), so one small helper process per pod runs in the namespace
 * (`nsenter --net=... node relay-child.mjs`) and hands each connected socket back over its IPC channel
 * (SCM_RIGHTS): bytes then flow between this process and the kernel with no process in between.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { Duplex } from 'node:stream';
import { fileURLToPath } from 'node:url';

const CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), 'relay-child.mjs');

type Reply = { id: number; ready?: boolean; error?: { code?: string; message: string } };

export interface Relay {
  /** The helper's pid (it must be killed with the pod). */
  readonly pid: number;
  /** Resolves once the helper can take requests. */
  readonly ready: Promise<void>;
  /**
   * A connection to host:port made inside the namespace, usable at once: writes wait for the connection, and a
   * refused one is an 'error' event with the connect error's code (ECONNREFUSED), as on a net.Socket.
   */
  connect(host: string, port: number): PodSocket;
  stop(): void;
}

export function startRelay(netnsPath: string, onExit: () => void): Relay {
  const child: ChildProcess = spawn('nsenter', [`--net=${netnsPath}`, process.execPath, CHILD], {
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  const waiting = new Map<number, PodSocket>();
  let next = 1;
  let gone = false;
  let markReady: () => void = () => {};
  let failReady: (err: Error) => void = () => {};
  const ready = new Promise<void>((resolve, reject) => {
    markReady = resolve;
    failReady = reject;
  });
  ready.catch(() => {});
  const fail = (why: string) => {
    if (gone) return;
    gone = true;
    failReady(new Error(`the netns helper for ${netnsPath} ${why}`));
    for (const s of waiting.values())
      s.destroy(Object.assign(new Error('pod is gone'), { code: 'ECONNRESET' }));
    waiting.clear();
    onExit();
  };
  child.on('error', (err) => fail(`could not start: ${err.message}`));
  child.on('exit', (code, signal) => fail(`exited (${signal ?? code})`));
  child.on('message', (msg: Reply, handle?: unknown) => {
    if (msg.ready) {
      markReady();
      return;
    }
    const sock = waiting.get(msg.id);
    waiting.delete(msg.id);
    if (handle instanceof net.Socket) {
      if (sock) sock.attach(handle);
      else handle.destroy();
    } else if (sock && msg.error) {
      sock.destroy(Object.assign(new Error(msg.error.message), { code: msg.error.code }));
    }
  });
  if (child.pid === undefined) throw new Error('could not spawn nsenter for the netns helper');
  return {
    pid: child.pid,
    ready,
    connect(host, port) {
      const sock = new PodSocket();
      if (gone || !child.connected) {
        process.nextTick(() => sock.destroy(Object.assign(new Error('pod is gone'), { code: 'ECONNRESET' })));
        return sock;
      }
      const id = next++;
      waiting.set(id, sock);
      child.send({ id, host, port });
      return sock;
    },
    stop() {
      child.kill('SIGKILL');
    },
  };
}

/**
 * The net.Socket members the simulator's port-forward and the tests use, over a socket that arrives later.
 * Data is passed on as the same Buffers, never copied.
 */
export class PodSocket extends Duplex {
  private sock: net.Socket | undefined;
  private queued: Array<{ chunk: Buffer; cb: (err?: Error | null) => void }> = [];
  private finalCb: ((err?: Error | null) => void) | undefined;
  private noDelay: boolean | undefined;

  attach(sock: net.Socket): void {
    if (this.destroyed) {
      sock.destroy();
      return;
    }
    this.sock = sock;
    if (this.noDelay !== undefined) sock.setNoDelay(this.noDelay);
    sock.on('data', (c: Buffer) => {
      if (!this.push(c)) sock.pause();
    });
    sock.on('end', () => this.push(null));
    sock.on('error', (err) => this.destroy(err));
    sock.on('close', () => {
      if (!this.destroyed) this.destroy();
    });
    for (const { chunk, cb } of this.queued) this.writeThrough(chunk, cb);
    this.queued = [];
    if (this.finalCb) sock.end(this.finalCb);
    sock.resume();
    this.emit('connect');
  }

  setNoDelay(noDelay = true): this {
    this.noDelay = noDelay;
    this.sock?.setNoDelay(noDelay);
    return this;
  }

  private writeThrough(chunk: Buffer, cb: (err?: Error | null) => void): void {
    const sock = this.sock!;
    if (sock.write(chunk)) cb();
    else sock.once('drain', () => cb());
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (this.sock) this.writeThrough(chunk, cb);
    else this.queued.push({ chunk, cb });
  }

  override _read(): void {
    this.sock?.resume();
  }

  override _final(cb: (err?: Error | null) => void): void {
    if (this.sock) this.sock.end(cb);
    else this.finalCb = cb;
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.sock?.destroy();
    cb(err);
  }
}
