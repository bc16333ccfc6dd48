/**
 * Deploy times of the example project (examples/compose-app): the whole action (its bundle, started as the
 * runner starts it) against what the same work costs without it, on the same kind of engine.
 *
 * - action, first `up` (pull_request opened): render, apply, wait for the docker host's pod, tunnel, upload,
 *   `compose up --build --wait` through the tunnel;
 * - baseline: a fresh docker host started the same way (a docker-host Deployment, until its pod is Ready), then
 *   a plain `docker compose up --build --detach --wait` straight at its engine (DOCKER_HOST=tcp://<ip>:2375);
 * - action, second `up` with nothing changed (pull_request synchronize), and a third after one source file
 *   of the web image changed.
 *
 * Every round starts from a fresh engine and a fresh copy of the project. Rounds alternate the order of the
 * action and the baseline (ABBA), so a drift in the machine's load favours neither.
 */
import { cp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { NAMESPACE } from '../test/integration/harness.js';
import { dockerJson } from '../test/sim/kubelet/docker/api.js';
import type { Engine } from '../test/sim/kubelet/docker/engines.js';
import { tcp } from '../test/sim/kubelet/docker/support.js';
import { type ActionRunResult, mustRunAction } from './lib/action-run.js';
import { docker } from './lib/docker.js';
import { type BenchEnv, dockerHostDeployment, podsOf, waitForEnginesGone, waitForPod } from './lib/env.js';
import { mb, median, secs, table, verdict } from './lib/format.js';
import { progress, type Section } from './lib/section.js';

const EXAMPLE = fileURLToPath(new URL('../examples/compose-app', import.meta.url));
const ROUNDS = 5;
const TARGET_FIRST = 1.3;
const TARGET_SECOND = 0.3;
const MARK = 'changed by the deploy benchmark';

interface ActionRound {
  first: ActionRunResult;
  second: ActionRunResult;
  changed: ActionRunResult;
  down: ActionRunResult;
}

interface BaselineRound {
  readyMs: number;
  composeMs: number;
}

async function project(dir: string): Promise<string> {
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const app = path.join(dir, 'app');
  await cp(EXAMPLE, app, { recursive: true });
  return app;
}

/** What a reviewer would see: the web service's page, read straight from the engine's published port. */
async function webPage(engine: Engine): Promise<string> {
  const ip = engine.ip;
  const containers = await dockerJson<
    Array<{
      Labels: Record<string, string>;
      State: string;
      Ports: Array<{ PrivatePort: number; PublicPort?: number }>;
    }>
  >(tcp(engine), 'GET', '/containers/json');
  const web = containers.find(
    (c) => c.Labels['com.docker.compose.service'] === 'web' && c.State === 'running',
  );
  const port = web?.Ports.find((p) => p.PrivatePort === 80 && p.PublicPort)?.PublicPort;
  if (!port) throw new Error(`no running web container with a published port 80 on ${ip}`);
  return new Promise((resolve, reject) => {
    http
      .get({ host: ip, port, path: '/index.html', agent: false, timeout: 10_000 }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          body += c;
        });
        res.on('end', () => resolve(body));
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

async function actionRound(env: BenchEnv, dir: string, round: number): Promise<ActionRound> {
  const workspace = dir;
  const app = await project(dir);
  const inputs = {
    kubeconfig: env.actionKubeconfig,
    namespace: NAMESPACE,
    'working-directory': 'app',
    'ready-timeout': '3m',
  };
  const number = 300 + round;
  const run = (action: 'opened' | 'synchronize' | 'closed', sha: string, what: string) =>
    mustRunAction({ inputs, workspace, event: { action, number, headSha: sha.repeat(40) } }, what);

  const first = await run('opened', 'a', 'first up');
  const envId = first.outputs['env-id'];
  if (!envId) throw new Error('the action reported no env-id');
  const pods = await podsOf(env, envId);
  const engine = pods.map((p) => env.backend.engineFor(`${NAMESPACE}/${p}`)).find((e) => e);
  if (!engine) throw new Error(`no engine for the pods of ${envId}: ${pods.join(', ')}`);
  if (!(await webPage(engine)).includes('Hello')) throw new Error('the web service does not serve its page');
  progress(
    `round ${round + 1} action   first up ${secs(first.ms)} s (${first.phases.map((p) => `${p.name} ${secs(p.ms)}`).join(', ')})`,
  );

  const second = await run('synchronize', 'b', 'second up, nothing changed');
  progress(`round ${round + 1} action   second up, no change ${secs(second.ms)} s`);

  const page = path.join(app, 'web/index.html');
  await writeFile(page, `${await readFile(page, 'utf8')}<p>${MARK} (round ${round + 1})</p>\n`);
  const changed = await run('synchronize', 'c', 'up after a change');
  if (!(await webPage(engine)).includes(MARK)) throw new Error('the changed page was not deployed');
  progress(`round ${round + 1} action   up after web/index.html changed ${secs(changed.ms)} s`);

  const down = await run('closed', 'c', 'down');
  await waitForEnginesGone(env, pods);
  return { first, second, changed, down };
}

async function baselineRound(env: BenchEnv, dir: string, round: number): Promise<BaselineRound> {
  const app = await project(dir);
  const name = `base-${round}`;
  const started = performance.now();
  await env.client.request({
    method: 'POST',
    path: `/apis/apps/v1/namespaces/${NAMESPACE}/deployments`,
    body: dockerHostDeployment(name, name),
  });
  const pod = await waitForPod(env.client, name, 50);
  const readyMs = performance.now() - started;
  try {
    const engine = env.backend.engineFor(`${NAMESPACE}/${pod.name}`);
    if (!engine) throw new Error(`pod ${pod.name} has no engine`);
    const composeMs = await docker(
      `tcp://${engine.ip}:${engine.tcpPort}`,
      ['compose', '-p', name, 'up', '--build', '--detach', '--wait'],
      { cwd: app },
    );
    if (!(await webPage(engine)).includes('Hello'))
      throw new Error('the web service does not serve its page');
    progress(
      `round ${round + 1} baseline pod Ready ${secs(readyMs)} s + docker compose up --build ${secs(composeMs)} s = ${secs(readyMs + composeMs)} s`,
    );
    return { readyMs, composeMs };
  } finally {
    await env.client.request({
      method: 'DELETE',
      path: `/apis/apps/v1/namespaces/${NAMESPACE}/deployments/${name}`,
    });
    await waitForEnginesGone(env, [pod.name]);
  }
}

/** Median duration of each log group, in the order of the first run. */
function phaseMedians(runs: ActionRunResult[]): Array<[string, number]> {
  const names = runs[0]?.phases.map((p) => p.name) ?? [];
  return names.map((n) => [n, median(runs.map((r) => r.phases.find((p) => p.name === n)?.ms ?? 0))]);
}

export async function deployBench(env: BenchEnv, tmp: string): Promise<Section> {
  const actions: ActionRound[] = [];
  const baselines: BaselineRound[] = [];
  try {
    for (let r = 0; r < ROUNDS; r++) {
      const order = r % 2 === 0 ? (['action', 'baseline'] as const) : (['baseline', 'action'] as const);
      for (const way of order) {
        const dir = path.join(tmp, 'deploy', `${way}-${r}`);
        if (way === 'action') actions.push(await actionRound(env, dir, r));
        else baselines.push(await baselineRound(env, dir, r));
      }
    }
  } finally {
    await rm(path.join(tmp, 'deploy'), { recursive: true, force: true });
  }

  const base = median(baselines.map((b) => b.readyMs + b.composeMs));
  const first = median(actions.map((a) => a.first.ms));
  const second = median(actions.map((a) => a.second.ms));
  const changed = median(actions.map((a) => a.changed.ms));
  const rounds = (xs: number[]) => xs.map(secs).join(' ');
  const ratioFirst = first / base;
  const ratioSecond = second / first;
  const ratioChanged = changed / first;
  const phaseRows = (label: string, runs: ActionRunResult[]) =>
    `${label}: ${phaseMedians(runs)
      .map(([n, ms]) => `${n} ${secs(ms)}`)
      .join(' · ')}`;
  return {
    title: `Deploy: examples/compose-app, the action's bundle as the runner starts it; median of ${ROUNDS} rounds, each on a fresh engine`,
    lines: [
      table(
        ['run', 'median s', 'rounds s', 'peak RSS MB'],
        [
          [
            'baseline: pod Ready + docker compose up --build (direct)',
            secs(base),
            rounds(baselines.map((b) => b.readyMs + b.composeMs)),
            '',
          ],
          [
            '  of which pod Ready',
            secs(median(baselines.map((b) => b.readyMs))),
            rounds(baselines.map((b) => b.readyMs)),
            '',
          ],
          [
            '  of which docker compose up --build',
            secs(median(baselines.map((b) => b.composeMs))),
            rounds(baselines.map((b) => b.composeMs)),
            '',
          ],
          [
            'action: first up',
            secs(first),
            rounds(actions.map((a) => a.first.ms)),
            mb(median(actions.map((a) => a.first.peakRss))),
          ],
          [
            'action: second up, nothing changed',
            secs(second),
            rounds(actions.map((a) => a.second.ms)),
            mb(median(actions.map((a) => a.second.peakRss))),
          ],
          [
            'action: up after one source file changed',
            secs(changed),
            rounds(actions.map((a) => a.changed.ms)),
            mb(median(actions.map((a) => a.changed.peakRss))),
          ],
          [
            'action: down (for information)',
            secs(median(actions.map((a) => a.down.ms))),
            rounds(actions.map((a) => a.down.ms)),
            mb(median(actions.map((a) => a.down.peakRss))),
          ],
        ],
      ),
      '',
      `first up / baseline: ${ratioFirst.toFixed(2)}  (target <= ${TARGET_FIRST}: ${verdict(ratioFirst <= TARGET_FIRST)})`,
      `second up, nothing changed / first up: ${ratioSecond.toFixed(2)}  (target <= ${TARGET_SECOND}: ${verdict(ratioSecond <= TARGET_SECOND)})`,
      `up after one source file changed / first up: ${ratioChanged.toFixed(2)}  (for information)`,
      `the action's first line of output, median: ${secs(median(actions.flatMap((a) => [a.first.firstLineMs, a.second.firstLineMs, a.changed.firstLineMs])))} s after its start`,
      'phases (log groups), medians in s:',
      `  ${phaseRows(
        'first up',
        actions.map((a) => a.first),
      )}`,
      `  ${phaseRows(
        'second up',
        actions.map((a) => a.second),
      )}`,
      `  ${phaseRows(
        'after a change',
        actions.map((a) => a.changed),
      )}`,
      '  (outside the groups: loading the bundle, reading inputs and event, the job summary)',
    ],
  };
}
