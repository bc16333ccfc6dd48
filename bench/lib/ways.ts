/**
 * The baselines' ways to the docker host pod's dockerd on a cluster, next to the action's tunnel:
 *
 * - kubectl: `kubectl port-forward pod/X :2375`, the tool every user has; its time is the bar for any
 *   port-forward, since both pay the API server → kubelet stream.
 * - direct: the pod IP's 2375, when this machine is on the pod network and dockerd listens on the pod's
 *   address (the bundled templates now bind it to 127.0.0.1, so there it is unreachable by design).
 *
 * Either may be missing; then it is skipped with the reason, never an error.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { dockerGet } from '../../src/bridge/docker-api.js';
import { running } from './running.js';

export type Way = { ok: true; url: string; close(): void } | { ok: false; reason: string };

/** kubectl: the --kubectl path (checked by the argument parser), else the first on PATH. */
export function findKubectl(given: string | undefined): string | undefined {
  return given ?? onPath('kubectl');
}

export function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter).filter(Boolean)) {
    const file = path.join(dir, name);
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // not here
    }
  }
  return undefined;
}

async function pings(host: string, port: number): Promise<string | undefined> {
  try {
    const r = await dockerGet({ host, port }, '/_ping', 5000);
    return r.status === 200 ? undefined : `GET /_ping answered HTTP ${r.status}`;
  } catch (err) {
    return `GET /_ping: ${err instanceof Error ? err.message : String(err)}`;
  }
}

/** `kubectl port-forward pod/X :2375` on a free local port, once dockerd answers through it. */
export async function kubectlPortForward(args: {
  kubectl: string | undefined;
  kubeconfigFile: string;
  namespace: string;
  pod: string;
  timeoutMs?: number;
}): Promise<Way> {
  if (!args.kubectl)
    return {
      ok: false,
      reason:
        'kubectl is not on PATH (give it with --kubectl PATH); the kubectl port-forward baseline is skipped',
    };
  const proc: ChildProcess = spawn(
    args.kubectl,
    [
      '--kubeconfig',
      path.resolve(args.kubeconfigFile),
      '--namespace',
      args.namespace,
      'port-forward',
      '--address',
      '127.0.0.1',
      `pod/${args.pod}`,
      ':2375',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  running.add(proc);
  const close = () => {
    proc.kill('SIGTERM');
    running.delete(proc);
  };
  let stderr = '';
  proc.stderr!.on('data', (c: Buffer) => {
    stderr = (stderr + c.toString('utf8')).slice(-2000);
  });
  // kubectl prints "Forwarding from 127.0.0.1:PORT -> 2375" once it listens.
  const port = await new Promise<number | string>((resolve) => {
    let out = '';
    const timer = setTimeout(
      () => resolve(`no "Forwarding from" line within ${(args.timeoutMs ?? 30_000) / 1000} s`),
      args.timeoutMs ?? 30_000,
    );
    proc.stdout!.on('data', (c: Buffer) => {
      out += c.toString('utf8');
      const m = /Forwarding from 127\.0\.0\.1:(\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    proc.on('error', (err) => {
      clearTimeout(timer);
      resolve(err.message);
    });
    proc.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve(`it exited (${signal ?? `code ${code}`})`);
    });
  });
  const failed = (why: string): Way => {
    close();
    // kubectl's reason is its `error: ...` line; anything else, the last line it printed.
    const lines = stderr
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean);
    const detail = lines.filter((l) => /^error\b/i.test(l)).at(-1) ?? lines.at(-1) ?? '';
    return {
      ok: false,
      reason: `\`${args.kubectl} port-forward pod/${args.pod} :2375\` failed: ${why}${detail ? `: ${detail}` : ''}; the kubectl baseline is skipped`,
    };
  };
  if (typeof port === 'string') return failed(port);
  // The listener is up before any stream to the pod exists: only a request shows that the forward works.
  const notDocker = await pings('127.0.0.1', port);
  if (notDocker) return failed(notDocker);
  return { ok: true, url: `tcp://127.0.0.1:${port}`, close };
}

/** The pod IP's 2375, if a TCP connection from here opens within `timeoutMs` and dockerd answers. */
export async function directToPod(podIp: string | undefined, timeoutMs = 2000): Promise<Way> {
  if (!podIp) return { ok: false, reason: 'the pod has no IP in its status; the direct baseline is skipped' };
  const connected = await new Promise<string | undefined>((resolve) => {
    const socket = net.connect({ host: podIp, port: 2375 });
    const done = (why: string | undefined) => {
      socket.destroy();
      resolve(why);
    };
    socket.setTimeout(timeoutMs, () => done(`no connection within ${timeoutMs / 1000} s`));
    socket.once('connect', () => done(undefined));
    socket.once('error', (err: NodeJS.ErrnoException) => done(err.code ?? err.message));
  });
  if (connected)
    return {
      ok: false,
      reason: `${podIp}:2375 is not reachable from this machine (${connected}): this machine is not on the pod network, or dockerd listens on 127.0.0.1 only (as the bundled templates make it); the direct baseline is skipped`,
    };
  // Something answers, but it may be another host of this machine's own networks that has the same address.
  const notDocker = await pings(podIp, 2375);
  if (notDocker)
    return {
      ok: false,
      reason: `${podIp}:2375 accepts connections from this machine but is not the pod's dockerd (${notDocker}): the address is another host's here; the direct baseline is skipped`,
    };
  return { ok: true, url: `tcp://${podIp}:2375`, close: () => {} };
}
