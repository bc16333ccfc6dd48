/**
 * The demo: the bundled action (dist/index.js), started as the runner starts it, deploys a PR's preview
 * environment onto the local Kubernetes API simulator, updates it on a push, and removes it on close.
 * Run it with `npm run demo` (after `bash scripts/setup.sh` on a fresh machine).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { ACTION_ROOT, type PullRequestEvent, runAction } from '../test/e2e/run-action.js';
import { startKubeSim } from '../test/sim/kube/index.js';
import type { SimObject } from '../test/sim/kube/types.js';

const NAMESPACE = 'previews';
const bold = (s: string) => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);

if (!existsSync(path.join(ACTION_ROOT, 'dist/index.js'))) {
  console.error('dist/index.js is missing: run `npm run build` first.');
  process.exit(1);
}

const sim = await startKubeSim({ namespaces: [NAMESPACE] });
console.log(bold(`Kubernetes API simulator listening on ${sim.url}, namespace "${NAMESPACE}"`));

function objectsOf(envId: string): string[] {
  const out: string[] = [];
  for (const t of sim.store.types) {
    if (!t.namespaced || !t.verbs.includes('list') || t.resource.includes('/')) continue;
    for (const o of sim.store.list(t.group, t.resource, {
      namespace: NAMESPACE,
      labelSelector: `preevy.dev/env-id=${envId}`,
    }) as SimObject[]) {
      const status = o.kind === 'Pod' ? ` (${o.status?.phase ?? 'Pending'})` : '';
      out.push(`${o.kind}/${o.metadata.name}${status}`);
    }
  }
  return out.sort();
}

async function step(title: string, event: PullRequestEvent): Promise<Record<string, string>> {
  console.log(`\n${bold(`== ${title}`)}`);
  const run = await runAction({
    inputs: { kubeconfig: sim.kubeconfig(), namespace: NAMESPACE, 'ready-timeout': '2m' },
    event,
    echo: (s) => process.stdout.write(s.replace(/^::(add-mask|debug)::.*\n/gm, '')),
  });
  if (run.code !== 0) throw new Error(`the action failed (exit ${run.code})`);
  console.log(bold('outputs:'), JSON.stringify(run.outputs));
  return run.outputs;
}

try {
  const opened = await step('pull_request opened (PR #42)', {
    action: 'opened',
    number: 42,
    headSha: 'a1'.repeat(20),
  });
  const envId = opened['env-id']!;
  console.log(bold(`objects of ${envId}:`), `\n  ${objectsOf(envId).join('\n  ')}`);
  await step('pull_request synchronize (a new push)', {
    action: 'synchronize',
    number: 42,
    headSha: 'b2'.repeat(20),
  });
  await step('pull_request closed', { action: 'closed', number: 42, headSha: 'b2'.repeat(20) });
  const left = objectsOf(envId);
  console.log(bold(`objects of ${envId} after close:`), left.length === 0 ? 'none' : left.join(', '));
  if (left.length > 0) process.exitCode = 1;
} catch (err) {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
} finally {
  await sim.close();
}
