/**
 * Deploy times on a cluster: the action's first and second `up` of the example project, against the same
 * `docker compose up --build --detach --wait` sent to the same pod by the ways a user has without the action
 * (kubectl port-forward, the pod IP), measured in the same round.
 *
 * Each round: the action's first up (pull_request opened: a new docker host), its second up with nothing
 * changed; then on that pod, for each way this machine has, the engine is emptied (containers, volumes,
 * images, build cache, as a fresh docker host is) and compose builds and starts the project through it; then
 * the action's down. The baseline of a way is the time the action itself waited for its docker host in that
 * round plus compose's time through the way: the work without the action, as in the simulator's deploy bench.
 */
import path from 'node:path';
import type { ActionRunResult } from './lib/action-run.js';
import type { ClusterSizes } from './lib/args.js';
import {
  baselineWays,
  type ClusterEnv,
  clusterProject,
  controlTunnel,
  podOfEnv,
  resetEngine,
  runActionOn,
} from './lib/cluster-env.js';
import { docker } from './lib/docker.js';
import { mb, median, secs, table, verdict } from './lib/format.js';
import { progress, type Section } from './lib/section.js';
import type { Way } from './lib/ways.js';

const TARGET_FIRST = 1.3;
const TARGET_SECOND = 0.3;
const WAIT_PHASE = 'Wait for the Docker host';
/** The action's work through its tunnel: what the baselines' compose run does through theirs. */
const TUNNEL_PHASES = ['Connect to Docker', 'Upload the files', 'Build and start the services'];

export type Name = 'kubectl' | 'direct';

export interface Round {
  first: ActionRunResult;
  second: ActionRunResult;
  compose: Partial<Record<Name, number>>;
}

const phaseMs = (run: ActionRunResult, names: string[]) =>
  run.phases.filter((p) => names.includes(p.name)).reduce((sum, p) => sum + p.ms, 0);

async function round(env: ClusterEnv, tmp: string, r: number, skipped: Map<Name, string>): Promise<Round> {
  const workspace = path.join(tmp, 'cluster-deploy', String(r));
  const app = await clusterProject(workspace);
  const number = 810 + r;
  const event = (action: 'opened' | 'synchronize' | 'closed', sha: string) => ({
    action,
    number,
    headSha: sha.repeat(40),
  });
  const closers: Array<() => unknown> = [];
  try {
    const first = await runActionOn(env, workspace, event('opened', 'a'), 'first up');
    progress(
      `round ${r + 1} action first up ${secs(first.ms)} s (${first.phases.map((p) => `${p.name} ${secs(p.ms)}`).join(', ')})`,
    );
    const second = await runActionOn(env, workspace, event('synchronize', 'b'), 'second up, nothing changed');
    progress(`round ${r + 1} action second up, no change ${secs(second.ms)} s`);

    const envId = first.outputs['env-id'];
    if (!envId) throw new Error('the action reported no env-id');
    const pod = await podOfEnv(env, envId);
    progress(`round ${r + 1} environment ${envId}: pod ${pod.name}, IP ${pod.ip ?? '(none)'}`);
    const control = await controlTunnel(env, pod.name);
    closers.push(() => control.close());
    const ways: Record<Name, Way> = {
      ...(await baselineWays(env, pod)),
    };
    const names: Name[] = [];
    for (const n of ['kubectl', 'direct'] as const) {
      const w = ways[n];
      if (w.ok) {
        closers.push(w.close);
        names.push(n);
      } else {
        skipped.set(n, w.reason);
        progress(`round ${r + 1} ${n}: SKIPPED: ${w.reason}`);
      }
    }
    const compose: Round['compose'] = {};
    // Alternate which way goes first, so that neither always meets the engine right after the action's runs.
    for (const n of r % 2 === 0 ? names : [...names].reverse()) {
      const w = ways[n];
      if (!w.ok) continue;
      await resetEngine(control);
      compose[n] = await docker(
        w.url,
        ['compose', '-p', 'bench-baseline', 'up', '--build', '--detach', '--wait'],
        {
          cwd: app,
        },
      );
      progress(`round ${r + 1} ${n.padEnd(7)} docker compose up --build ${secs(compose[n])} s`);
    }
    return { first, second, compose };
  } finally {
    for (const close of closers.reverse()) await Promise.resolve(close()).catch(() => {});
    // Always: a failed first up may have left objects on the user's cluster.
    await runActionOn(env, workspace, event('closed', 'b'), 'down').catch((err: unknown) =>
      console.error(`  removing the environment of PR ${number}: ${String(err)}`),
    );
  }
}

export async function clusterDeployBench(
  env: ClusterEnv,
  tmp: string,
  sizes: ClusterSizes,
): Promise<Section> {
  const rounds: Round[] = [];
  const skipped = new Map<Name, string>();
  for (let r = 0; r < sizes.rounds; r++) rounds.push(await round(env, tmp, r, skipped));
  return {
    title: `Deploy on the cluster: examples/compose-app (built FROM scratch), the action's bundle as the runner starts it; median of ${sizes.rounds} rounds, each on a new docker host`,
    lines: deploySummary(rounds, skipped),
  };
}

/** The table and the ratios, from the rounds; `skipped`: the ways that did not run, with why. */
export function deploySummary(rounds: readonly Round[], skipped: ReadonlyMap<Name, string>): string[] {
  const firsts = rounds.map((x) => x.first);
  const first = median(firsts.map((x) => x.ms));
  const second = median(rounds.map((x) => x.second.ms));
  const wait = median(firsts.map((x) => phaseMs(x, [WAIT_PHASE])));
  const tunnelPart = median(firsts.map((x) => phaseMs(x, TUNNEL_PHASES)));
  const list = (xs: number[]) => xs.map(secs).join(' ');
  const rows: string[][] = [
    [
      'action: first up',
      secs(first),
      list(firsts.map((x) => x.ms)),
      mb(median(firsts.map((x) => x.peakRss))),
    ],
    [
      '  of which waiting for the docker host',
      secs(wait),
      list(firsts.map((x) => phaseMs(x, [WAIT_PHASE]))),
      '',
    ],
    [
      `  of which through its tunnel (${TUNNEL_PHASES.join(', ')})`,
      secs(tunnelPart),
      list(firsts.map((x) => phaseMs(x, TUNNEL_PHASES))),
      '',
    ],
    [
      'action: second up, nothing changed',
      secs(second),
      list(rounds.map((x) => x.second.ms)),
      mb(median(rounds.map((x) => x.second.peakRss))),
    ],
  ];
  const ratios: string[] = [];
  for (const n of ['kubectl', 'direct'] as const) {
    const done = rounds.filter((x) => x.compose[n] !== undefined);
    if (done.length === 0) continue;
    const label = n === 'kubectl' ? 'kubectl port-forward' : 'direct (pod IP:2375)';
    const composeMs = done.map((x) => x.compose[n]!);
    const base = done.map((x) => phaseMs(x.first, [WAIT_PHASE]) + x.compose[n]!);
    rows.push([
      `baseline: docker compose up --build, ${label}`,
      secs(median(composeMs)),
      list(composeMs),
      '',
    ]);
    const ratio = median(done.map((x) => x.first.ms)) / median(base);
    ratios.push(
      `first up / (its wait for the docker host + docker compose up --build through ${label}): ${ratio.toFixed(2)}  (target <= ${TARGET_FIRST}: ${verdict(ratio <= TARGET_FIRST)})`,
      `the action's tunnel part / docker compose up --build through ${label}: ${(median(done.map((x) => phaseMs(x.first, TUNNEL_PHASES))) / median(composeMs)).toFixed(2)}  (for information)`,
    );
    if (done.length < rounds.length) ratios.push(`  (${label}: ${done.length} of ${rounds.length} rounds)`);
  }
  const ratioSecond = second / first;
  ratios.push(
    `second up, nothing changed / first up: ${ratioSecond.toFixed(2)}  (target <= ${TARGET_SECOND}: ${verdict(ratioSecond <= TARGET_SECOND)})`,
  );
  for (const [n, reason] of skipped) ratios.push(`skipped, ${n}: ${reason}`);
  return [table(['run', 'median s', 'rounds s', 'peak RSS MB'], rows), '', ...ratios];
}
