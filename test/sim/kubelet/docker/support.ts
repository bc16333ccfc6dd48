/** Helpers shared by the docker engine tests. */
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { type DockerTarget, dockerJson, dockerRequest } from './api.js';
import type { Engine } from './engines.js';

/** Why these tests cannot run here, or undefined when they can (root, dockerd, nsenter, static busybox). */
export function dockerUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (network and mount namespaces)';
  const onPath = (cmd: string) =>
    (process.env.PATH ?? '')
      .split(':')
      .concat('/usr/sbin', '/sbin')
      .some((d) => fs.existsSync(path.join(d, cmd)));
  for (const cmd of ['dockerd', 'containerd', 'nsenter', 'unshare', 'ip']) {
    if (!onPath(cmd)) return `${cmd} is not installed (run scripts/setup.sh)`;
  }
  if (!fs.existsSync('/bin/busybox')) return 'busybox-static is not installed (run scripts/setup.sh)';
  return undefined;
}

/**
 * The engine's API as the tests reach it from the host: its TCP socket at the pod's address, or, when dockerd
 * listens on the pod's loopback only (the bundled templates), the pod's unix socket.
 */
export function tcp(engine: Engine): DockerTarget {
  if (engine.tcpHost !== '0.0.0.0') return { socketPath: engine.socketPath };
  return { host: engine.ip, port: engine.tcpPort };
}

/** Creates and starts a container through the engine's TCP API; returns its id. */
export async function runContainer(
  engine: Engine,
  spec: { cmd: string[]; binds?: string[]; ports?: number[]; tty?: boolean },
): Promise<string> {
  const exposed = Object.fromEntries((spec.ports ?? []).map((p) => [`${p}/tcp`, {}]));
  const bindings = Object.fromEntries((spec.ports ?? []).map((p) => [`${p}/tcp`, [{ HostPort: String(p) }]]));
  const created = await dockerJson<{ Id: string }>(tcp(engine), 'POST', '/containers/create', {
    json: {
      Image: 'busybox:local',
      Cmd: spec.cmd,
      Tty: spec.tty ?? false,
      ExposedPorts: exposed,
      HostConfig: { Binds: spec.binds ?? [], PortBindings: bindings },
    },
  });
  await dockerJson(tcp(engine), 'POST', `/containers/${created.Id}/start`);
  return created.Id;
}

/** Waits for a container to exit and returns its exit code and (tty) output. */
export async function containerResult(engine: Engine, id: string): Promise<{ code: number; output: string }> {
  const waited = await dockerJson<{ StatusCode: number }>(tcp(engine), 'POST', `/containers/${id}/wait`);
  const logs = await dockerRequest(tcp(engine), 'GET', `/containers/${id}/logs?stdout=1&stderr=1`);
  return { code: waited.StatusCode, output: logs.body.toString('utf8') };
}

/** GET http://host:port/path, retried while the server starts (bounded). */
export async function httpGet(
  host: string,
  port: number,
  urlPath: string,
  timeoutMs = 10_000,
): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await new Promise<string>((resolve, reject) => {
        const req = http.get({ host, port, path: urlPath, agent: false, timeout: 2_000 }, (res) => {
          let body = '';
          res.on('data', (c: Buffer) => {
            body += c.toString();
          });
          res.on('end', () =>
            res.statusCode === 200 ? resolve(body) : reject(new Error(`HTTP ${res.statusCode}`)),
          );
        });
        req.on('timeout', () => req.destroy(new Error('timeout')));
        req.on('error', reject);
      });
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await sleep(100);
    }
  }
}

export interface ExecResult {
  code: number | null;
  stdout: string;
  stderr: string;
  error?: Error & { code?: string };
}

export function collect(child: ChildProcess): Promise<ExecResult> {
  return new Promise((resolve) => {
    let stdout = '';
    let stderr = '';
    let error: (Error & { code?: string }) | undefined;
    child.stdout?.on('data', (c: Buffer) => {
      stdout += c.toString();
    });
    child.stderr?.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    child.on('error', (err) => {
      error = err;
    });
    child.on('close', (code) => resolve({ code, stdout, stderr, error }));
  });
}

/**
 * What an engine could leave behind: each entry names a leftover. Empty means clean.
 */
export function leftovers(engine: Engine): string[] {
  const found: string[] = [];
  if (fs.existsSync(`/run/netns/${engine.netns}`)) found.push(`netns ${engine.netns}`);
  for (const link of fs.readdirSync('/sys/class/net')) {
    if (link === `psimd${engine.index}h`) found.push(`veth ${link}`);
  }
  if (fs.existsSync(`/proc/${engine.pid}`)) found.push(`process ${engine.pid}`);
  if (fs.existsSync(engine.podRoot)) found.push(`directory ${engine.podRoot}`);
  for (const h of fs.readdirSync('/sys/fs/cgroup')) {
    const dir = path.join('/sys/fs/cgroup', h, `preevy-sim-docker-${engine.index}`);
    if (fs.existsSync(dir)) found.push(`cgroup ${dir}`);
  }
  if (fs.existsSync(`/sys/fs/cgroup/preevy-sim-docker-${engine.index}`)) found.push('cgroup (v2)');
  // Mounts of the pod in any process's namespace (a surviving mount namespace would show here). The root is
  // matched with what follows it, so e1 does not match e10.
  const root = new RegExp(`${engine.podRoot.replaceAll('.', '\\.')}[/\\s\\0]`);
  for (const p of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    let info: string;
    try {
      info = fs.readFileSync(`/proc/${p}/mountinfo`, 'utf8');
    } catch {
      continue;
    }
    if (root.test(info)) found.push(`mount of ${engine.podRoot} seen by pid ${p}`);
    // any process whose command line points into the pod's directory
    try {
      const cmdline = fs.readFileSync(`/proc/${p}/cmdline`, 'utf8');
      if (root.test(cmdline)) found.push(`process ${p}: ${cmdline.replaceAll('\0', ' ')}`);
    } catch {
      // gone
    }
  }
  if (fs.existsSync(`/tmp/preevy-sim-docker/claims/${engine.index}`)) {
    const claim = fs.readFileSync(`/tmp/preevy-sim-docker/claims/${engine.index}`, 'utf8');
    if (claim.includes(`"pid":${process.pid},`)) found.push(`claim ${engine.index}`);
  }
  return found;
}
