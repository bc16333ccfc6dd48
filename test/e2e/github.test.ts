import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { envObjects, NAMESPACE, startDockerSim } from '../integration/harness.js';
import { dockerUnavailable } from '../sim/docker/support.js';
import { type GitHubSim, startGitHubSim } from '../sim/github/index.js';
import type { KubeSim } from '../sim/kube/index.js';
import type { SimNetwork } from '../sim/kube/network/index.js';
import { ACTION_ROOT, type PullRequestEvent, runAction } from './run-action.js';

const skip = dockerUnavailable();
const OWNER = 'acme';
const REPO = 'shop';
const FULL = 'ghs_full_permissions_token_0001';
const NO_WRITE = 'ghs_read_only_token_00000000002';
const sha = (c: string) => c.repeat(40);

/**
 * dist/index.js, started as the runner starts it, against both simulators: the Kubernetes one (docker-host
 * pods backed by real Docker engines, an ingress controller) and the GitHub one (the REST routes the action
 * uses, checked against GitHub's OpenAPI description).
 */
describe.skipIf(skip !== undefined)(`the action on a PR${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let sim: KubeSim;
  let network: SimNetwork;
  let gh: GitHubSim;
  let closeKube: () => Promise<void>;
  let workspace: string;
  beforeAll(async () => {
    ({
      sim,
      network,
      close: closeKube,
    } = await startDockerSim({ defaultCertificateHosts: ['*.preview.test'] }));
    gh = await startGitHubSim();
    gh.addRepository({ owner: OWNER, repo: REPO });
    gh.addToken(FULL, {
      login: 'github-actions[bot]',
      kind: 'installation',
      permissions: { contents: 'read', 'pull-requests': 'write', deployments: 'write' },
    });
    gh.addToken(NO_WRITE, {
      login: 'github-actions[bot]',
      kind: 'installation',
      permissions: { contents: 'read' },
    });
    workspace = mkdtempSync(path.join(tmpdir(), 'gh-e2e-'));
    cpSync(path.join(ACTION_ROOT, 'examples/compose-app'), workspace, { recursive: true });
  });
  afterAll(async () => {
    await gh?.close();
    await closeKube?.();
  });

  const run = (event: PullRequestEvent, over: Record<string, string> = {}, token = FULL) => {
    gh.addPullRequest({
      owner: OWNER,
      repo: REPO,
      number: event.number,
      headSha: event.headSha,
      state: event.action === 'closed' ? 'closed' : 'open',
    });
    return runAction({
      inputs: {
        kubeconfig: sim.kubeconfig(),
        namespace: NAMESPACE,
        'ready-timeout': '2m',
        domain: 'preview.test',
        'github-token': token,
        ...over,
      },
      workspace,
      event,
      env: { GITHUB_API_URL: gh.url },
    });
  };
  const comments = (n: number) =>
    gh.comments(OWNER, REPO, n) as Array<{ id: number; body: string; user: { login: string } }>;
  const urlsOf = (outputs: Record<string, string>) =>
    JSON.parse(outputs['urls-json'] ?? '[]') as Array<{ service: string; port: number; url: string }>;

  it('opened, synchronize, closed: one comment through every state, deployments, live URLs, nothing left', async () => {
    gh.addPullRequest({ owner: OWNER, repo: REPO, number: 61, headSha: sha('a') });
    // A person's comment quoting the marker is never taken for ours.
    gh.addComment({
      owner: OWNER,
      repo: REPO,
      issueNumber: 61,
      body: 'LGTM <!-- preevy-kube-action env-id="shop-pr-61" -->',
      user: 'alice',
    });
    const opened = await run({ action: 'opened', number: 61, headSha: sha('a') });
    expect(opened.stdout).not.toMatch(/::(error|warning)::/);
    expect(opened.code).toBe(0);
    const urls = urlsOf(opened.outputs);
    expect(urls.map((u) => u.url)).toEqual([
      'https://api-8080-shop-pr-61.preview.test',
      'https://web-80-shop-pr-61.preview.test',
    ]);
    expect((await network.fetch(`${urls[1]!.url}/greeting.txt`)).body).toBe('Hello from the api service\n');

    const ours = () => comments(61).filter((c) => c.user.login === 'github-actions[bot]');
    expect(ours()).toHaveLength(1);
    const ready = ours()[0]!.body;
    expect(ready).toContain('The preview environment is ready');
    expect(ready).toContain(`\`${sha('a').slice(0, 12)}\``);
    expect(ready).toContain(`| web | 80 | [${urls[1]!.url}](${urls[1]!.url}) |`);
    expect(ready).toMatch(/Build and start the services \d/);
    expect(comments(61).find((c) => c.user.login === 'alice')!.body).toMatch(/^LGTM/);
    expect(opened.summary).toContain('The preview environment is ready');

    let deployments = gh.deployments(OWNER, REPO, { environment: 'pr-61' });
    expect(deployments).toHaveLength(1);
    expect(deployments[0]!.sha).toBe(sha('a'));
    expect(deployments[0]!.statuses.map((s) => s.state)).toEqual(['success', 'in_progress']);
    expect(deployments[0]!.statuses[0]!.environment_url).toBe(urls[0]!.url);

    const page = path.join(workspace, 'web/index.html');
    writeFileSync(page, readFileSync(page, 'utf8').replace('Hello', 'Hello again'));
    const synced = await run({ action: 'synchronize', number: 61, headSha: sha('b') });
    expect(synced.code).toBe(0);
    expect((await network.fetch(`${urls[1]!.url}/index.html`)).body).toContain('Hello again');
    expect(ours()).toHaveLength(1);
    expect(ours()[0]!.body).toContain(`\`${sha('b').slice(0, 12)}\``);
    deployments = gh.deployments(OWNER, REPO, { environment: 'pr-61' });
    expect(deployments.map((d) => d.sha)).toEqual([sha('b'), sha('a')]);
    // Only the newest deployment stays active.
    expect(deployments.map((d) => d.statuses[0]!.state)).toEqual(['success', 'inactive']);

    const closed = await run({ action: 'closed', number: 61, headSha: sha('b') });
    expect(closed.code).toBe(0);
    expect(ours()).toHaveLength(1);
    expect(ours()[0]!.body).toContain('was deleted');
    for (const d of gh.deployments(OWNER, REPO, { environment: 'pr-61' })) {
      expect(d.statuses[0]!.state).toBe('inactive');
    }
    expect([...envObjects(sim, 'shop-pr-61').keys()]).toEqual([]);

    // Every write of the comment, in order: one comment went through each state, with the right commit.
    const written = gh.audit
      .filter((e) => /^issues\/(create|update)-comment$/.test(e.operationId ?? ''))
      .map((e) => String((e.body as { body: string }).body))
      .filter((b) => b.includes('env-id="shop-pr-61"') && !b.startsWith('LGTM'));
    const states = written.map((b) => /### \S+ (.*)/.exec(b)?.[1]);
    expect(states).toEqual([
      'Deploying the preview environment',
      'The preview environment is ready',
      'Deploying the preview environment',
      'The preview environment is ready',
      'The preview environment was deleted',
    ]);
    expect(written.map((b) => /commit `(\w+)`/.exec(b)?.[1])).toEqual(
      [sha('a'), sha('a'), sha('b'), sha('b'), sha('b')].map((x) => x.slice(0, 12)),
    );
    expect(gh.violations).toEqual([]);
  });

  it('two PRs at once get two environments and two comments; closing one leaves the other working', async () => {
    const [a, b] = await Promise.all([
      run({ action: 'opened', number: 62, headSha: sha('c') }),
      run({ action: 'opened', number: 63, headSha: sha('d') }),
    ]);
    expect([a.code, b.code]).toEqual([0, 0]);
    expect(comments(62)).toHaveLength(1);
    expect(comments(63)).toHaveLength(1);
    await run({ action: 'closed', number: 62, headSha: sha('c') });
    const web63 = urlsOf(b.outputs).find((u) => u.service === 'web')!.url;
    expect((await network.fetch(`${web63}/greeting.txt`)).body).toBe('Hello from the api service\n');
    expect(comments(63)[0]!.body).toContain('is ready');
    expect([...envObjects(sim, 'shop-pr-62').keys()]).toEqual([]);
    await run({ action: 'closed', number: 63, headSha: sha('d') });
    expect(gh.violations).toEqual([]);
  });

  it('without pull-requests: write the deploy succeeds, and the warning names the permission', async () => {
    const opened = await run({ action: 'opened', number: 64, headSha: sha('e') }, {}, NO_WRITE);
    expect(opened.code).toBe(0);
    expect(opened.stdout).toMatch(
      /::warning::Could not update the PR comment: the token lacks the "pull-requests: write" permission/,
    );
    expect(opened.stdout).toMatch(
      /::warning::Could not create the deployment: the token lacks the "deployments: write" permission/,
    );
    expect(comments(64)).toEqual([]);
    const web = urlsOf(opened.outputs).find((u) => u.service === 'web')!.url;
    expect((await network.fetch(`${web}/greeting.txt`)).status).toBe(200);
    expect((await run({ action: 'closed', number: 64, headSha: sha('e') }, {}, NO_WRITE)).code).toBe(0);
  });

  it('a fork PR without secrets ends neutral, with a note in the job summary', async () => {
    const fork = await run(
      { action: 'opened', number: 65, headSha: sha('f'), headRepository: 'mallory/shop' },
      { kubeconfig: '' },
    );
    expect(fork.code).toBe(0);
    expect(fork.stdout).toMatch(/::notice::PR #65 comes from a fork/);
    expect(fork.stdout).not.toMatch(/::error::/);
    expect(fork.summary).toMatch(/comes from a fork/);
    expect([...envObjects(sim, 'shop-pr-65').keys()]).toEqual([]);
  });

  it('pull_request_target is refused by default, before anything is created', async () => {
    const target = await run({
      action: 'opened',
      number: 66,
      headSha: sha('0'),
      name: 'pull_request_target',
    });
    expect(target.code).toBe(1);
    expect(target.stdout).toMatch(/::error::Input "allow-pull-request-target": is false/);
    expect([...envObjects(sim, 'shop-pr-66').keys()]).toEqual([]);
    expect(comments(66)).toEqual([]);
  });
});
