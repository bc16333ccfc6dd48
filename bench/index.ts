/**
 * `npm run bench`: the benchmarks against the Kubernetes API simulator with a real Docker engine behind the
 * docker-host pod; with --kubeconfig FILE --namespace NS, the tunnel and deploy benchmarks against a cluster
 * (cluster.ts). Figures are ratios against a baseline measured in the same run; a missed target prints MISSED
 * and does not fail the run, only errors do.
 */
// First: it sets how the simulator's heap grows before anything else is evaluated.
import './lib/sim-gc.js';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { NAMESPACE, startDockerSim } from '../test/integration/harness.js';
import { dockerUnavailable } from '../test/sim/kubelet/docker/support.js';
import { buildMemoryBench } from './build-memory.js';
import { runClusterBenches } from './cluster.js';
import { coldStartBench } from './cold-start.js';
import { deployBench } from './deploy.js';
import { downBench } from './down.js';
import { type BenchArgs, BenchArgsError, parseBenchArgs, type SimArgs, type SimBenchId } from './lib/args.js';
import { type ChildRuntime, killRunningChildren, prepareChildren } from './lib/child.js';
import { type BenchEnv, startBenchEnv } from './lib/env.js';
import { machine } from './lib/machine.js';
import type { Section } from './lib/section.js';
import { tunnelBench } from './tunnel.js';
import { uploadMemoryBench } from './upload-memory.js';

interface Bench {
  id: SimBenchId;
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

let args: BenchArgs;
try {
  args = parseBenchArgs(process.argv.slice(2));
} catch (err) {
  if (!(err instanceof BenchArgsError)) throw err;
  console.error(`npm run bench: ${err.message}\n  ${err.hint}`);
  process.exit(2);
}
const clusterMode = args.mode === 'cluster' || args.simAsCluster;
const only = args.only as readonly string[];
const selected = clusterMode ? [] : BENCHES.filter((b) => only.includes(b.id));

// The cluster mode needs no engine of its own here, only the docker CLI; the simulator's modes need one.
const missing = args.mode === 'sim' ? dockerUnavailable() : undefined;
if (missing) {
  console.error(`The benchmarks run a real Docker engine behind the simulated pod: ${missing}.`);
  process.exit(1);
}

let env: BenchEnv | undefined;
/** --sim-as-cluster: the simulator, of which the cluster mode sees the kubeconfig file only. */
let sim: Awaited<ReturnType<typeof startDockerSim>> | undefined;
let tmp: string | undefined;
let cleaning: Promise<void> | undefined;
const cleanup = () => {
  cleaning ??= (async () => {
    killRunningChildren();
    await env?.close().catch((err: unknown) => console.error(`closing the simulator: ${String(err)}`));
    await sim?.close().catch((err: unknown) => console.error(`closing the simulator: ${String(err)}`));
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

async function runSimBenches(tmp: string, sections: Section[]): Promise<boolean> {
  let failed = false;
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
  return failed;
}

/** The cluster mode against the simulator: only the simulator's kubeconfig file and namespace are passed on. */
async function runSimAsCluster(a: SimArgs, tmp: string, sections: Section[]): Promise<boolean> {
  console.log('Starting the Kubernetes API simulator; the cluster mode gets its kubeconfig file only');
  sim = await startDockerSim();
  const kubeconfigFile = path.join(tmp, 'sim-kubeconfig.yaml');
  await writeFile(kubeconfigFile, sim.sim.kubeconfig(), { mode: 0o600 });
  const cluster = parseBenchArgs([
    '--kubeconfig',
    kubeconfigFile,
    '--namespace',
    NAMESPACE,
    `--only=${a.only.join(',')}`,
    `--size-mb=${a.cluster.bytes / 1_000_000}`,
    `--rounds=${a.cluster.rounds}`,
    ...(a.cluster.kubectl ? ['--kubectl', a.cluster.kubectl] : []),
  ]);
  if (cluster.mode !== 'cluster') throw new Error('expected the cluster mode');
  // Its pod IPs (10.244.0.0/24) are addresses of no host here: a connection to one would leave the machine.
  cluster.noDirect = "the simulator's pod IPs are not addresses of this machine";
  return (await runClusterBenches(cluster, tmp, sections)).failed;
}

const runtime: ChildRuntime = args.tsx ? 'tsx' : 'bundle';
const started = Date.now();
const sections: Section[] = [];
let failed = false;
try {
  tmp = await mkdtemp(path.join(tmpdir(), 'preevy-bench-'));
  console.log(machine());
  console.log(runtime === 'bundle' ? 'Bundling the action with ncc (~40 s)' : 'Action side under tsx');
  const how = await prepareChildren(runtime, path.join(tmp, 'bundle'), {
    needAction: clusterMode || selected.some((b) => b.action),
    committedDist: args.dist,
  });
  console.log(`  bench child: ${how.child}\n  action: ${how.action}`);
  if (args.mode === 'cluster') failed = (await runClusterBenches(args, tmp, sections)).failed;
  else if (args.simAsCluster) failed = await runSimAsCluster(args, tmp, sections);
  else failed = await runSimBenches(tmp, sections);
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
