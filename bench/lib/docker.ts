/** The docker CLI and a Docker API call, for the benchmarks. */
import { spawn } from 'node:child_process';
import http from 'node:http';
import { cleanDockerEnv } from '../../src/util/process.js';
import { running } from './running.js';

/** Runs `docker args...` against `dockerHost`; resolves with the wall time in ms, rejects on failure. */
export function docker(
  dockerHost: string,
  args: string[],
  opts: { timeoutMs?: number; cwd?: string } = {},
): Promise<number> {
  const timeoutMs = opts.timeoutMs ?? 300_000;
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn('docker', args, {
      cwd: opts.cwd,
      env: cleanDockerEnv(process.env, dockerHost),
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    running.add(child);
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => {
      stderr = (stderr + c.toString('utf8')).slice(-4096);
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      running.delete(child);
      clearTimeout(timer);
      const ms = performance.now() - started;
      if (code === 0) resolve(ms);
      else
        reject(new Error(`docker ${args.join(' ')} (${dockerHost}) failed (${signal ?? code}): ${stderr}`));
    });
  });
}

/** Size of a file in a container, from the stat header of `HEAD /containers/<id>/archive`. */
export function containerFileSize(
  host: string,
  port: number,
  container: string,
  file: string,
): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host,
        port,
        method: 'HEAD',
        path: `/containers/${encodeURIComponent(container)}/archive?path=${encodeURIComponent(file)}`,
        agent: false,
        timeout: 10_000,
      },
      (res) => {
        res.resume();
        const stat = res.headers['x-docker-container-path-stat'];
        if (res.statusCode !== 200 || typeof stat !== 'string') {
          reject(new Error(`stat of ${container}:${file}: HTTP ${res.statusCode}`));
          return;
        }
        resolve((JSON.parse(Buffer.from(stat, 'base64').toString('utf8')) as { size: number }).size);
      },
    );
    req.on('timeout', () => req.destroy(new Error('stat timed out')));
    req.on('error', reject);
    req.end();
  });
}
