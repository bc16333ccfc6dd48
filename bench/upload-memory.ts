/**
 * Upload memory: the action's upload path (planUpload → tarStream → copyTarToPod) for 100 MB in 2,000
 * files and 1 GB in 20,000 files, each run in a child process whose peak RSS is the action's alone. The data
 * is 10× larger; a streaming upload keeps the peak where it is.
 */
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { REMOTE_ROOT } from '../src/compose/rewrite.js';
import type { ActionChildInput, UploadResult } from './lib/action-child.js';
import { runChild } from './lib/child.js';
import { writeTree } from './lib/data.js';
import type { BenchEnv } from './lib/env.js';
import { MB, mb, mbps, secs, table, verdict } from './lib/format.js';
import { progress, type Section } from './lib/section.js';

const BYTES_PER_FILE = 50_000;
const SIZES = [
  { name: 'small', files: 2_000 },
  { name: 'large', files: 20_000 },
] as const;
const TARGET_PEAK = 200 * MB;
/** "Flat": 10× the data may cost at most a quarter more memory. */
const TARGET_FLATNESS = 1.25;

interface Run {
  name: string;
  files: number;
  bytes: number;
  result: UploadResult;
}

export async function uploadMemoryBench(env: BenchEnv, tmp: string): Promise<Section> {
  const idle = await runChild<{ peakRss: number }>({ mode: 'idle' } satisfies ActionChildInput, 120_000);
  progress(`idle child (modules loaded): peak RSS ${mb(idle.peakRss)} MB`);

  const runs: Run[] = [];
  for (const size of SIZES) {
    const wd = path.join(tmp, size.name);
    const remoteDir = `${REMOTE_ROOT}/bench-${size.name}`;
    try {
      await mkdir(wd, { recursive: true });
      const bytes = await writeTree(path.join(wd, 'tree'), {
        files: size.files,
        bytesPerFile: BYTES_PER_FILE,
        perDir: 100,
      });
      progress(`${size.name}: generated ${size.files} files, ${mb(bytes, 0)} MB; uploading`);
      const result = await runChild<UploadResult>(
        {
          mode: 'upload',
          kubeconfig: env.kubeconfig,
          namespace: env.namespace,
          pod: env.pod.name,
          container: env.pod.container,
          workingDirectory: wd,
          roots: ['tree'],
          remoteDir,
        } satisfies ActionChildInput,
        30 * 60_000,
      );
      if (result.files !== size.files || result.sendBytes !== bytes)
        throw new Error(`${size.name}: the plan sent ${result.files} files, ${result.sendBytes} bytes`);
      await verifyInPod(env, `${remoteDir}/tree`, size.files, bytes);
      progress(
        `${size.name}: ${secs(result.uploadMs)} s, ${mbps(bytes, result.uploadMs)} MB/s, peak RSS ${mb(result.peakRss)} MB, exec ${result.protocol}; ${size.files} files, ${bytes} bytes in the pod`,
      );
      runs.push({ name: size.name, files: size.files, bytes, result });
    } finally {
      await env.sh('rm -rf "$0"', remoteDir).catch(() => {});
      await rm(wd, { recursive: true, force: true });
    }
  }

  const [small, large] = runs as [Run, Run];
  const flatness = large.result.peakRss / small.result.peakRss;
  const aboveIdle = (large.result.peakRss - idle.peakRss) / Math.max(1, small.result.peakRss - idle.peakRss);
  return {
    title:
      'Upload memory: planUpload → tarStream → copyTarToPod (tar x over exec), peak RSS of the uploading process',
    lines: [
      table(
        [
          'upload',
          'files',
          'MB',
          'plan s',
          'upload s',
          'MB/s',
          'RSS connected',
          'RSS planned',
          'peak RSS MB',
          'heap MB',
          'buffers MB',
        ],
        [
          ['idle child (modules loaded)', '', '', '', '', '', '', '', mb(idle.peakRss), '', ''],
          ...runs.map((r) => [
            r.name,
            String(r.files),
            mb(r.bytes, 0),
            secs(r.result.planMs),
            secs(r.result.uploadMs),
            mbps(r.bytes, r.result.uploadMs),
            mb(r.result.connectedRss),
            mb(r.result.plannedRss),
            mb(r.result.peakRss),
            mb(r.result.peaks.heapUsed),
            mb(r.result.peaks.arrayBuffers),
          ]),
        ],
      ),
      '',
      `peak RSS, large: ${mb(large.result.peakRss)} MB  (target < ${mb(TARGET_PEAK, 0)} MB: ${verdict(large.result.peakRss < TARGET_PEAK)})`,
      `peak RSS large / small: ${flatness.toFixed(2)}  (10× the data; target <= ${TARGET_FLATNESS}: ${verdict(flatness <= TARGET_FLATNESS)})`,
      `above the idle child, large / small: ${aboveIdle.toFixed(2)} (for information)`,
      'RSS connected / planned: after the first API request (client-node, TLS) / after the plan; heap MB / buffers MB: peaks of',
      'process.memoryUsage() heapUsed / arrayBuffers, sampled every 100 ms',
      'every upload checked in the pod: file count and total bytes',
    ],
  };
}

/** The files really arrived: count and total size inside the pod, read back through exec. */
async function verifyInPod(env: BenchEnv, dir: string, files: number, bytes: number): Promise<void> {
  const out = await env.sh('find "$0" -type f | wc -l; find "$0" -type f -exec cat {} + | wc -c', dir);
  const [count, total] = out.trim().split(/\s+/).map(Number);
  if (count !== files || total !== bytes)
    throw new Error(
      `in the pod, ${dir} has ${count} files and ${total} bytes; expected ${files} and ${bytes}`,
    );
}
