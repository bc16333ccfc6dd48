/**
 * `npm run bench`: the benchmarks against the Kubernetes API simulator with a real Docker engine behind the
 * docker-host pod. Figures are ratios against a baseline measured in the same run; a missed target prints
 * MISSED and does not fail the run, only errors do.
 */
// First: it sets how the simulator's heap grows before anything else is evaluated.
import './lib/sim-gc.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { dockerUnavailable } from '../test/sim/docker/support.js';
import { buildMemoryBench } from './build-memory.js';
import { coldStartBench } from './cold-start.js';
import { deployBench } from './deploy.js';
import { downBench } from './down.js';
import { type ChildRuntime, killRunningChildren, prepareChildren } from './lib/child.js';
import { type BenchEnv, startBenchEnv } from './lib/env.js';
import { machine } from './lib/machine.js';
import type { Section } from './lib/section.js';
import { tunnelBench } from './tunnel.js';
import { uploadMemoryBench } from './upload-memory.js';

interface Bench {
  /** For --only. */
  id: string;
  name: string;
  /** Runs the whole action (needs its bundle). */
  action: boolean;
  run: (env: BenchEnv, tmp: string) => Promise<Section>;
}

const BENCHES: Bench[] = [
  { id: 'tunnel', name: 'tunnel throughput', action: false, run: tunnelBench },
  { id: 'deploy', name: 'deploy times', action: true, run: deployBench },
  { id: 'upload', name: 'upload memory', action: false, run: uploadMemoryBench },
  { id: 'build', name: 'build context memory', action: false, run: buildMemoryBench },
  { id: 'down', name: 'down', action: true, run: downBench },
  { id: 'cold', name: 'cold start', action: true, run: (_env, tmp) => coldStartBench(tmp) },
];

const only = process.argv
  .find((a) => a.startsWith('--only='))
  ?.slice('--only='.length)
  .split(',')
  .filter(Boolean);
const unknown = only?.filter((id) => !BENCHES.some((b) => b.id === id));
if (unknown?.length) {
  console.error(
    `--only: unknown benchmark ${unknown.join(', ')}; known: ${BENCHES.map((b) => b.id).join(', ')}`,
  );
  process.exit(2);
}
const selected = BENCHES.filter((b) => !only || only.includes(b.id));

const missing = dockerUnavailable();
if (missing) {
  console.error(`The benchmarks run a real Docker engine behind the simulated pod: ${missing}.`);
  process.exit(1);
}

let env: BenchEnv | undefined;
let tmp: string | undefined;
let cleaning: Promise<void> | undefined;
const cleanup = () => {
  cleaning ??= (async () => {
    killRunningChildren();
    await env?.close().catch((err: unknown) => console.error(`closing the simulator: ${String(err)}`));
    if (tmp) await rm(tmp, { recursive: true, force: true });
  })();
  return cleaning;
};
// The engines' own exit hook does not run on a signal: clean up here, then leave.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    console.error(`\n${signal}: cleaning up`);
    void cleanup().finally(() => process.exit(130));
  });
}

const runtime: ChildRuntime = process.argv.includes('--tsx') ? 'tsx' : 'bundle';
const started = Date.now();
const sections: Section[] = [];
let failed = false;
try {
  tmp = await mkdtemp(path.join(tmpdir(), 'preevy-bench-'));
  console.log(machine());
  console.log(runtime === 'bundle' ? 'Bundling the action with ncc (~40 s)' : 'Action side under tsx');
  const how = await prepareChildren(runtime, path.join(tmp, 'bundle'), {
    needAction: selected.some((b) => b.action),
    committedDist: process.argv.includes('--dist'),
  });
  console.log(`  bench child: ${how.child}\n  action: ${how.action}`);
  console.log('Starting the Kubernetes API simulator and a docker-host pod (a real Docker engine)');
  env = await startBenchEnv();
  console.log(`  pod ${env.pod.name}, engine ${env.engine.ip}`);
  for (const bench of selected) {
    console.log(`\n== ${bench.name}`);
    try {
      sections.push(await bench.run(env, tmp));
    } catch (err) {
      failed = true;
      console.error(
        `${bench.name} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`,
      );
    }
  }
} catch (err) {
  failed = true;
  console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
} finally {
  await cleanup();
}

console.log(`\n${'='.repeat(100)}`);
console.log(
  `Results (${new Date().toISOString().slice(0, 10)}, ${((Date.now() - started) / 1000).toFixed(0)} s)\n${machine()}`,
);
for (const s of sections) console.log(`\n${s.title}\n\n${s.lines.join('\n')}`);
if (failed) {
  console.log('\nFAILED: see the errors above');
  process.exitCode = 1;
}
