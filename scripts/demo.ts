/**
 * The demo: the bundled action (dist/index.js), started as the runner starts it, deploys a PR's preview
 * environment onto the local Kubernetes API simulator, updates it on a push, and removes it on close, while
 * it posts its comment and deployments to the local GitHub API simulator.
 * Run it with `npm run demo` (after `bash scripts/setup.sh` on a fresh machine).
 */
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ACTION_ROOT, type PullRequestEvent, runAction } from '../test/e2e/support.js';
import { bookkeeping, NAMESPACE, startDockerSim } from '../test/integration/harness.js';
import { startGitHubSim } from '../test/sim/github/index.js';
import type { SimObject } from '../test/sim/kube/types.js';
import { dockerUnavailable } from '../test/sim/kubelet/docker/support.js';

const bold = (s: string) => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);

if (!existsSync(path.join(ACTION_ROOT, 'dist/index.js'))) {
  console.error('dist/index.js is missing: run `npm run build` first.');
  process.exit(1);
}

const missing = dockerUnavailable();
if (missing) {
  console.error(
    `The demo runs a real Docker engine per environment: ${missing}. Run \`bash scripts/setup.sh\` as root.`,
  );
  process.exit(1);
}
// Each docker-host pod of the simulator is a real Docker engine in its own network namespace; the simulated
// ingress controller serves *.preview.test with a certificate from the simulator's CA.
const DOMAIN = 'preview.test';
const { sim, network, close } = await startDockerSim({ defaultCertificateHosts: [`*.${DOMAIN}`] });
console.log(bold(`Kubernetes API simulator listening on ${sim.url}, namespace "${NAMESPACE}"`));
const gh = await startGitHubSim();
const TOKEN = 'ghs_demo_token_of_github_actions_bot';
gh.addRepository({ owner: 'acme', repo: 'shop' });
gh.addToken(TOKEN, {
  login: 'github-actions[bot]',
  kind: 'installation',
  permissions: { contents: 'read', 'pull-requests': 'write', deployments: 'write' },
});
console.log(bold(`GitHub API simulator listening on ${gh.url}, repository acme/shop`));

/** What the PR page would show: the action's comment, and the deployments of the PR's environment. */
function showPr(): void {
  for (const c of gh.comments('acme', 'shop', 42) as Array<{ body: string; user: { login: string } }>) {
    console.log(bold(`PR #42 comment by ${c.user.login}:`));
    console.log(`  ${c.body.trim().split('\n').join('\n  ')}`);
  }
  for (const d of gh.deployments('acme', 'shop', { environment: 'pr-42' })) {
    const s = d.statuses.map((x) => `${x.state}${x.environment_url ? ` ${x.environment_url}` : ''}`);
    console.log(bold(`deployment ${d.id} of ${String(d.sha).slice(0, 7)}:`), s.reverse().join(' → '));
  }
}

/** Every URL the action reported, fetched through the cluster's ingress, as a reviewer's browser would. */
async function fetchServices(outputs: Record<string, string>): Promise<void> {
  const urls = JSON.parse(outputs['urls-json'] ?? '[]') as Array<{ service: string; url: string }>;
  if (urls.length === 0) throw new Error('the action reported no URLs');
  for (const { url } of urls) {
    for (const file of ['/index.html', '/greeting.txt']) {
      const res = await network.fetch(`${url}${file}`);
      if (res.status === 404) continue;
      console.log(`  GET ${url}${file} -> ${res.status} ${res.body.replace(/<[^>]*>/g, '').trim()}`);
    }
  }
}

function objectsOf(envId: string): string[] {
  const out: string[] = [];
  for (const t of sim.store.types) {
    if (!t.namespaced || !t.verbs.includes('list') || t.resource.includes('/')) continue;
    // The lock's Lease and a deleted environment's tombstone are the action's bookkeeping, shown apart.
    for (const o of sim.store.list(t.group, t.resource, {
      namespace: NAMESPACE,
      labelSelector: `preevy.dev/env-id=${envId},!preevy.dev/lock,!preevy.dev/tombstone`,
    }) as SimObject[]) {
      const status = o.kind === 'Pod' ? ` (${o.status?.phase ?? 'Pending'})` : '';
      out.push(`${o.kind}/${o.metadata.name}${status}`);
    }
  }
  return out.sort();
}

// The PR's checkout: a copy of the example, so that the push below changes the copy, never the repository.
const workspace = mkdtempSync(path.join(tmpdir(), 'preevy-demo-'));
cpSync(path.join(ACTION_ROOT, 'examples/compose-app'), path.join(workspace, 'examples/compose-app'), {
  recursive: true,
});

async function step(title: string, event: PullRequestEvent): Promise<Record<string, string>> {
  console.log(`\n${bold(`== ${title}`)}`);
  gh.addPullRequest({
    owner: 'acme',
    repo: 'shop',
    number: event.number,
    headSha: event.headSha,
    state: event.action === 'closed' ? 'closed' : 'open',
  });
  const run = await runAction({
    inputs: {
      kubeconfig: sim.kubeconfig(),
      namespace: NAMESPACE,
      'ready-timeout': '2m',
      'working-directory': 'examples/compose-app',
      domain: DOMAIN,
      'github-token': TOKEN,
      'primary-service': 'web',
    },
    workspace,
    event,
    env: { GITHUB_API_URL: gh.url },
    echo: (s) => process.stdout.write(s.replace(/^::(add-mask|debug)::.*\n/gm, '')),
  });
  if (run.code !== 0) throw new Error(`the action failed (exit ${run.code})`);
  showPr();
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
  console.log(bold('the services answer:'));
  await fetchServices(opened);
  const page = path.join(workspace, 'examples/compose-app/web/index.html');
  writeFileSync(page, readFileSync(page, 'utf8').replace('Hello', 'Hello again, after a push,'));
  const synced = await step('pull_request synchronize (a new push changed web/index.html)', {
    action: 'synchronize',
    number: 42,
    headSha: 'b2'.repeat(20),
  });
  await fetchServices(synced);
  await step('pull_request closed', { action: 'closed', number: 42, headSha: 'b2'.repeat(20) });
  const left = objectsOf(envId);
  console.log(bold(`objects of ${envId} after close:`), left.length === 0 ? 'none' : left.join(', '));
  if (left.length > 0) process.exitCode = 1;
  const { tombstone } = bookkeeping(sim, envId);
  if (!tombstone) throw new Error(`no tombstone of ${envId} after close`);
  console.log(
    bold('kept:'),
    `ConfigMap/${tombstone.metadata.name}, the tombstone a late up of the closed PR respects (README: Concurrency)`,
  );
} catch (err) {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
} finally {
  if (gh.violations.length > 0) {
    console.error("GitHub API requests that do not match GitHub's description:", gh.violations);
    process.exitCode = 1;
  }
  await gh.close();
  await close();
  rmSync(workspace, { recursive: true, force: true });
}
