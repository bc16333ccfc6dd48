/**
 * Cold start of the action's bundle against `node -e 0`: a fork PR's run without a kubeconfig, the action's
 * earliest exit (it prints one notice and writes the job summary), so the time is loading the bundle and
 * little else. Also the time to the action's first line of output in the same runs, and its peak RSS: the
 * memory of the loaded bundle, before any work. Alternated, 7 runs each.
 */

import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { runAction } from './lib/action-run.js';
import { mb, median, secs, table } from './lib/format.js';
import { progress, type Section } from './lib/section.js';

const RUNS = 7;

/** `node -e 0`: wall time and peak RSS, polled as runAction polls the action. */
function bareNode(): Promise<{ ms: number; peakRss: number }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
    let peakRss = 0;
    const poll = setInterval(() => {
      try {
        const m = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
        if (m) peakRss = Math.max(peakRss, Number(m[1]) * 1024);
      } catch {
        // gone
      }
    }, 10);
    child.on('error', reject);
    child.on('close', (code) => {
      clearInterval(poll);
      if (code !== 0) reject(new Error(`node -e 0 exited ${code}`));
      else resolve({ ms: performance.now() - started, peakRss });
    });
  });
}

export async function coldStartBench(tmp: string): Promise<Section> {
  const workspace = path.join(tmp, 'cold');
  await mkdir(workspace, { recursive: true });
  const node: Array<{ ms: number; peakRss: number }> = [];
  const action: Array<{ ms: number; firstLineMs: number; peakRss: number }> = [];
  // One of each first, not counted: the files are then in the page cache for every measured run.
  await bareNode();
  const fork = {
    action: 'opened',
    number: 7,
    headSha: 'e'.repeat(40),
    headRepository: 'someone/shop',
  } as const;
  await runAction({ inputs: {}, workspace, event: fork });
  for (let i = 0; i < RUNS; i++) {
    node.push(await bareNode());
    const r = await runAction({ inputs: {}, workspace, event: fork });
    if (r.code !== 0 || !/comes from a fork/.test(r.tail))
      throw new Error(`the fork PR's run did not end as expected (exit ${r.code}):\n${r.tail}`);
    action.push(r);
  }
  const n = median(node.map((x) => x.ms));
  const a = median(action.map((x) => x.ms));
  progress(`node -e 0 ${secs(n)} s, the action's early exit ${secs(a)} s`);
  return {
    title: `Cold start: the action's bundle on its earliest exit (a fork PR without the kubeconfig), median of ${RUNS}`,
    lines: [
      table(
        ['process', 'to exit s', 'to first line s', 'peak RSS MB', 'runs s'],
        [
          [
            'node -e 0',
            secs(n),
            '',
            mb(median(node.map((x) => x.peakRss))),
            node.map((x) => secs(x.ms)).join(' '),
          ],
          [
            'the action (fork PR, early exit)',
            secs(a),
            secs(median(action.map((x) => x.firstLineMs))),
            mb(median(action.map((x) => x.peakRss))),
            action.map((x) => secs(x.ms)).join(' '),
          ],
        ],
      ),
      '',
      `action / node -e 0, time to exit: ${(a / n).toFixed(1)}  (for information)`,
    ],
  };
}
