/**
 * `down` of an environment of 20 objects (ConfigMaps, Secrets, Services and the docker host) against one of a
 * single object (the docker host alone): the whole action, as the runner starts it, on a pull_request closed
 * event. Both environments are first brought up by the action (no compose project: objects only), and
 * rounds alternate the two (ABBA). For information: no target.
 */
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { NAMESPACE } from '../test/integration/harness.js';
import { type ActionRunResult, mustRunAction } from './lib/action-run.js';
import { type BenchEnv, podsOf, waitForEnginesGone } from './lib/env.js';
import { median, secs, table } from './lib/format.js';
import { progress, type Section } from './lib/section.js';

const ROUNDS = 3;
const TEMPLATES = {
  20: fileURLToPath(new URL('./templates/twenty-objects.yaml.njk', import.meta.url)),
  1: fileURLToPath(new URL('./templates/one-object.yaml.njk', import.meta.url)),
} as const;

type Size = keyof typeof TEMPLATES;

export async function downBench(env: BenchEnv, tmp: string): Promise<Section> {
  const workspace = path.join(tmp, 'down');
  // No compose file in it: the action provisions the objects and deploys no services.
  await mkdir(path.join(workspace, 'empty'), { recursive: true });
  const runs: Record<Size, { up: ActionRunResult[]; down: ActionRunResult[] }> = {
    20: { up: [], down: [] },
    1: { up: [], down: [] },
  };
  try {
    let number = 400;
    for (let r = 0; r < ROUNDS; r++) {
      const order: Size[] = r % 2 === 0 ? [20, 1] : [1, 20];
      for (const size of order) {
        const inputs = {
          kubeconfig: env.actionKubeconfig,
          namespace: NAMESPACE,
          template: TEMPLATES[size],
          'working-directory': 'empty',
          'ready-timeout': '3m',
        };
        const event = { number: number++, headSha: 'd'.repeat(40) };
        const up = await mustRunAction(
          { inputs, workspace, event: { ...event, action: 'opened' } },
          `up of ${size} objects`,
        );
        const envId = up.outputs['env-id'] ?? '';
        const pods = await podsOf(env, envId);
        const down = await mustRunAction(
          { inputs, workspace, event: { ...event, action: 'closed' } },
          `down of ${size} objects`,
        );
        const deleted = /Deleted (\d+) objects/.exec(down.tail)?.[1];
        if (deleted !== String(size))
          throw new Error(`down of ${size} objects deleted ${deleted ?? 'no'} objects:\n${down.tail}`);
        await waitForEnginesGone(env, pods);
        progress(
          `round ${r + 1}: ${String(size).padStart(2)} objects: up ${secs(up.ms)} s, down ${secs(down.ms)} s`,
        );
        runs[size].up.push(up);
        runs[size].down.push(down);
      }
    }
  } finally {
    await rm(workspace, { recursive: true, force: true });
  }
  const row = (size: Size) => {
    const d = runs[size].down.map((x) => x.ms);
    return [
      `${size} object${size === 1 ? '' : 's'}`,
      secs(median(d)),
      d.map(secs).join(' '),
      secs(median(runs[size].up.map((x) => x.ms))),
    ];
  };
  const ratio = median(runs[20].down.map((x) => x.ms)) / median(runs[1].down.map((x) => x.ms));
  return {
    title: `Down: the action on pull_request closed, median of ${ROUNDS} rounds`,
    lines: [
      table(['environment', 'down median s', 'rounds s', 'up median s'], [row(20), row(1)]),
      '',
      `down of 20 objects / down of 1 object: ${ratio.toFixed(2)}  (for information)`,
    ],
  };
}
