/**
 * The tunnel's memory while `docker build` sends a large build context through it: BuildKit (the docker CLI's
 * default builder, as `docker compose build` uses it) streams the context over the tunnel, here for
 * `COPY . /ctx`, with 100 MB and 1 GB contexts (500 kB files). Each size runs in a fresh tunnel process whose
 * peak RSS is the figure; the builder's cache is pruned first, so that the whole context crosses the tunnel.
 * The same build straight at the engine (cache pruned too) gives the time for comparison.
 */
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { dockerJson } from '../test/sim/kubelet/docker/api.js';
import type { ActionChildInput, TunnelResult } from './lib/action-child.js';
import { startChild } from './lib/child.js';
import { writeTree } from './lib/data.js';
import { docker } from './lib/docker.js';
import type { BenchEnv } from './lib/env.js';
import { MB, mb, mbps, secs, table, verdict } from './lib/format.js';
import { progress, type Section, withTimeout } from './lib/section.js';

const BYTES_PER_FILE = 500_000;
const SIZES = [
  { name: 'small', files: 200 },
  { name: 'large', files: 2_000 },
] as const;
const TARGET_PEAK = 200 * MB;
const TARGET_FLATNESS = 1.25;
const TAG = 'bench-context';

interface Run {
  name: string;
  bytes: number;
  tunnelMs: number;
  directMs: number;
  result: TunnelResult;
}

export async function buildMemoryBench(env: BenchEnv, tmp: string): Promise<Section> {
  const { engine } = env;
  const direct = `tcp://${engine.ip}:${engine.tcpPort}`;
  const api = { host: engine.ip, port: engine.tcpPort };
  // Nothing of an earlier build may be reused: the whole context must cross the tunnel.
  const clean = async () => {
    await dockerJson(api, 'DELETE', `/images/${TAG}?force=1`).catch(() => {});
    await docker(direct, ['builder', 'prune', '--all', '--force']);
  };
  const imageSize = async () => (await dockerJson<{ Size: number }>(api, 'GET', `/images/${TAG}/json`)).Size;

  const runs: Run[] = [];
  for (const size of SIZES) {
    const ctx = path.join(tmp, `context-${size.name}`);
    try {
      const bytes = await writeTree(ctx, { files: size.files, bytesPerFile: BYTES_PER_FILE, perDir: 100 });
      await writeFile(path.join(ctx, 'Dockerfile'), 'FROM busybox:local\nCOPY . /ctx\n');
      const build = async (host: string) => {
        await clean();
        const ms = await docker(host, ['build', '--quiet', '--tag', TAG, ctx], { timeoutMs: 20 * 60_000 });
        // The image holds busybox and the context: it cannot be smaller than the files.
        const got = await imageSize();
        if (got < bytes)
          throw new Error(`the image of the ${size.name} context has ${got} bytes, < ${bytes}`);
        return ms;
      };
      const directMs = await build(direct);
      const child = startChild({
        mode: 'tunnel',
        kubeconfig: env.kubeconfig,
        namespace: env.namespace,
        pod: env.pod.name,
      } satisfies ActionChildInput);
      try {
        const { url } = await withTimeout(child.message<{ url: string }>(), 60_000, 'opening the tunnel');
        const tunnelMs = await build(url);
        child.endInput();
        const result = await withTimeout(child.message<TunnelResult>(), 30_000, 'closing the tunnel');
        if ((await child.exited) !== 0) throw new Error('the tunnel process failed');
        progress(
          `${size.name}: ${mb(bytes, 0)} MB context: tunnel ${secs(tunnelMs)} s, direct ${secs(directMs)} s; tunnel process peak RSS ${mb(result.peakRss)} MB`,
        );
        runs.push({ name: size.name, bytes, tunnelMs, directMs, result });
      } finally {
        child.kill();
      }
    } finally {
      await clean().catch(() => {});
      await rm(ctx, { recursive: true, force: true });
    }
  }
  const [small, large] = runs as [Run, Run];
  const flatness = large.result.peakRss / small.result.peakRss;
  return {
    title:
      'Build context memory: docker build (BuildKit, COPY . /ctx) through the tunnel, peak RSS of the tunnel process',
    lines: [
      table(
        [
          'context',
          'files',
          'MB',
          'tunnel s',
          'MB/s',
          'direct s',
          'MB/s',
          'RSS connected',
          'peak RSS MB',
          'heap MB',
          'buffers MB',
        ],
        runs.map((r) => [
          r.name,
          String(r.bytes / BYTES_PER_FILE),
          mb(r.bytes, 0),
          secs(r.tunnelMs),
          mbps(r.bytes, r.tunnelMs),
          secs(r.directMs),
          mbps(r.bytes, r.directMs),
          mb(r.result.connectedRss),
          mb(r.result.peakRss),
          mb(r.result.peaks.heapUsed),
          mb(r.result.peaks.arrayBuffers),
        ]),
      ),
      '',
      `peak RSS, large: ${mb(large.result.peakRss)} MB  (target < ${mb(TARGET_PEAK, 0)} MB: ${verdict(large.result.peakRss < TARGET_PEAK)})`,
      `peak RSS large / small: ${flatness.toFixed(2)}  (10× the data; target <= ${TARGET_FLATNESS}: ${verdict(flatness <= TARGET_FLATNESS)})`,
      'RSS connected: once dockerd answered through the tunnel; heap MB / buffers MB: peaks of heapUsed / arrayBuffers',
    ],
  };
}
