import { chmodSync, cpSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { bookkeeping, describeWithDocker, envObjects, NAMESPACE } from '../integration/harness.js';
import {
  ACTION_ROOT,
  OWNER,
  type PullRequestEvent,
  REPO,
  runAction,
  useDockerSimAndGitHub,
} from './support.js';

const FULL = 'ghs_full_permissions_token_0001';
const NO_WRITE = 'ghs_read_only_token_00000000002';
const sha = (c: string) => c.repeat(40);

/**
 * dist/index.js, started as the runner starts it, against both simulators: the Kubernetes one (docker-host
 * pods backed by real Docker engines, an ingress controller) and the GitHub one (the REST routes the action
 * uses, checked against GitHub's OpenAPI description).
 */
describeWithDocker('the action on a PR', () => {
  const sims = useDockerSimAndGitHub(FULL, { network: { defaultCertificateHosts: ['*.preview.test'] } });
  let workspace: string;
  beforeAll(() => {
    sims.gh.addToken(NO_WRITE, {
      login: 'github-actions[bot]',
      kind: 'installation',
      permissions: { contents: 'read' },
    });
    workspace = mkdtempSync(path.join(tmpdir(), 'gh-e2e-'));
    cpSync(path.join(ACTION_ROOT, 'examples/compose-app'), workspace, { recursive: true });
  });

  const run = (event: PullRequestEvent, over: Record<string, string> = {}, token = FULL) =>
    runIn({ event, over, token });
  /** A run with its own workspace (a job without the checkout) or environment (a Dependabot run, a cloud login). */
  const runIn = ({
    event,
    over = {},
    token = FULL,
    workspace: ws = workspace,
    env = {},
  }: {
    event: PullRequestEvent;
    over?: Record<string, string>;
    token?: string;
    workspace?: string;
    env?: Record<string, string>;
  }) => {
    sims.gh.addPullRequest({
      owner: OWNER,
      repo: REPO,
      number: event.number,
      headSha: event.headSha,
      state: event.action === 'closed' ? 'closed' : 'open',
    });
    return runAction({
      inputs: {
        kubeconfig: sims.sim.kubeconfig(),
        namespace: NAMESPACE,
        'ready-timeout': '2m',
        domain: 'preview.test',
        'github-token': token,
        ...over,
      },
      workspace: ws,
      event,
      env: { GITHUB_API_URL: sims.gh.url, ...env },
    });
  };
  const comments = (n: number) =>
    sims.gh.comments(OWNER, REPO, n) as Array<{ id: number; body: string; user: { login: string } }>;
  const urlsOf = (outputs: Record<string, string>) =>
    JSON.parse(outputs['urls-json'] ?? '[]') as Array<{ service: string; port: number; url: string }>;

  it('opened, synchronize, closed: one comment through every state, deployments, live URLs, nothing left', async () => {
    sims.gh.addPullRequest({ owner: OWNER, repo: REPO, number: 61, headSha: sha('a') });
    // A person's comment quoting the marker is never taken for ours.
    sims.gh.addComment({
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
    expect((await sims.network.fetch(`${urls[1]!.url}/greeting.txt`)).body).toBe(
      'Hello from the api service\n',
    );

    const ours = () => comments(61).filter((c) => c.user.login === 'github-actions[bot]');
    expect(ours()).toHaveLength(1);
    const ready = ours()[0]!.body;
    expect(ready).toContain('The preview environment is ready');
    expect(ready).toContain(`\`${sha('a').slice(0, 12)}\``);
    expect(ready).toContain(`| web | 80 | [${urls[1]!.url}](${urls[1]!.url}) |`);
    expect(ready).toMatch(/Build and start the services \d/);
    expect(comments(61).find((c) => c.user.login === 'alice')!.body).toMatch(/^LGTM/);
    expect(opened.summary).toContain('The preview environment is ready');

    let deployments = sims.gh.deployments(OWNER, REPO, { environment: 'pr-61' });
    expect(deployments).toHaveLength(1);
    expect(deployments[0]!.sha).toBe(sha('a'));
    expect(deployments[0]!.statuses.map((s) => s.state)).toEqual(['success', 'in_progress']);
    expect(deployments[0]!.statuses[0]!.environment_url).toBe(urls[0]!.url);

    const page = path.join(workspace, 'web/index.html');
    writeFileSync(page, readFileSync(page, 'utf8').replace('Hello', 'Hello again'));
    const synced = await run({ action: 'synchronize', number: 61, headSha: sha('b') });
    expect(synced.code).toBe(0);
    expect((await sims.network.fetch(`${urls[1]!.url}/index.html`)).body).toContain('Hello again');
    expect(ours()).toHaveLength(1);
    expect(ours()[0]!.body).toContain(`\`${sha('b').slice(0, 12)}\``);
    deployments = sims.gh.deployments(OWNER, REPO, { environment: 'pr-61' });
    expect(deployments.map((d) => d.sha)).toEqual([sha('b'), sha('a')]);
    // Only the newest deployment stays active.
    expect(deployments.map((d) => d.statuses[0]!.state)).toEqual(['success', 'inactive']);

    const closed = await run({ action: 'closed', number: 61, headSha: sha('b') });
    expect(closed.code).toBe(0);
    expect(ours()).toHaveLength(1);
    expect(ours()[0]!.body).toContain('was deleted');
    for (const d of sims.gh.deployments(OWNER, REPO, { environment: 'pr-61' })) {
      expect(d.statuses[0]!.state).toBe('inactive');
    }
    expect([...envObjects(sims.sim, 'shop-pr-61').keys()]).toEqual([]);

    // Every write of the comment, in order: one comment went through each state, with the right commit.
    const written = sims.gh.audit
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
    expect(sims.gh.violations).toEqual([]);
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
    expect((await sims.network.fetch(`${web63}/greeting.txt`)).body).toBe('Hello from the api service\n');
    expect(comments(63)[0]!.body).toContain('is ready');
    expect([...envObjects(sims.sim, 'shop-pr-62').keys()]).toEqual([]);
    await run({ action: 'closed', number: 63, headSha: sha('d') });
    expect(sims.gh.violations).toEqual([]);
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
    expect((await sims.network.fetch(`${web}/greeting.txt`)).status).toBe(200);
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
    expect([...envObjects(sims.sim, 'shop-pr-65').keys()]).toEqual([]);
  });

  it("a Dependabot PR's run without secrets ends neutral on up and on down, and changes nothing", async () => {
    const dependabot = { GITHUB_ACTOR: 'dependabot[bot]' };
    for (const action of ['opened', 'closed'] as const) {
      const r = await runIn({
        event: { action, number: 67, headSha: sha('7'), headRef: 'dependabot/npm_and_yarn/left-pad-1.3.0' },
        over: { kubeconfig: '' },
        env: dependabot,
      });
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/::notice::PR #67's run was triggered by Dependabot/);
      expect(r.stdout).not.toMatch(/::error::/);
      expect(r.summary).toMatch(/triggered by Dependabot/);
    }
    expect([...envObjects(sims.sim, 'shop-pr-67').keys()]).toEqual([]);
    expect(bookkeeping(sims.sim, 'shop-pr-67')).toEqual({ lease: undefined, tombstone: undefined });
    expect(comments(67)).toEqual([]);
  });

  it('a down of a PR that never had an environment changes nothing and posts nothing', async () => {
    const writes = () => sims.gh.audit.filter((e) => e.method !== 'GET').length;
    const before = writes();
    const closed = await run({ action: 'closed', number: 68, headSha: sha('8') });
    expect(closed.code).toBe(0);
    expect(closed.stdout).not.toMatch(/::(error|warning)::/);
    expect(closed.summary).toMatch(/shop-pr-68 has no objects .*nothing was changed/);
    expect(bookkeeping(sims.sim, 'shop-pr-68')).toEqual({ lease: undefined, tombstone: undefined });
    expect(comments(68)).toEqual([]);
    expect(sims.gh.deployments(OWNER, REPO, { environment: 'pr-68' })).toEqual([]);
    expect(writes()).toBe(before);
  });

  it('a down runs without the checkout: the template and comment template are read by up only', async () => {
    const own = mkdtempSync(path.join(tmpdir(), 'gh-e2e-own-'));
    cpSync(path.join(ACTION_ROOT, 'examples/compose-app'), own, { recursive: true });
    cpSync(path.join(ACTION_ROOT, 'templates'), path.join(own, '.preview'), { recursive: true });
    cpSync(path.join(own, '.preview/default.yaml.njk'), path.join(own, '.preview/env.yaml.njk'));
    writeFileSync(path.join(own, '.preview/comment.njk'), 'Custom: {{ state }} {{ envId }}\n');
    const over = { template: '.preview/env.yaml.njk', 'comment-template': '.preview/comment.njk' };
    const opened = await runIn({
      event: { action: 'opened', number: 69, headSha: sha('9') },
      over,
      workspace: own,
    });
    expect(opened.code).toBe(0);
    expect(comments(69)[0]!.body).toContain('Custom: ready shop-pr-69');

    // The closed job has no checkout step: an empty workspace.
    const empty = mkdtempSync(path.join(tmpdir(), 'gh-e2e-empty-'));
    const closed = await runIn({
      event: { action: 'closed', number: 69, headSha: sha('9') },
      over,
      workspace: empty,
    });
    expect(closed.stdout).not.toMatch(/::error::/);
    expect(closed.code).toBe(0);
    expect([...envObjects(sims.sim, 'shop-pr-69').keys()]).toEqual([]);
    expect(comments(69)).toHaveLength(1);
    expect(comments(69)[0]!.body).toContain('was deleted');
  });

  it('a failed up still sets the outputs it knows: id, env-id, namespace', async () => {
    const broken = mkdtempSync(path.join(tmpdir(), 'gh-e2e-broken-'));
    writeFileSync(path.join(broken, 'Dockerfile'), 'FROM busybox:local\nRUN exit 3\n');
    writeFileSync(path.join(broken, 'compose.yaml'), 'services:\n  app:\n    build: .\n');
    const failed = await runIn({
      event: { action: 'opened', number: 70, headSha: sha('0') },
      workspace: broken,
    });
    expect(failed.code).toBe(1);
    expect(failed.stdout).toMatch(/::error::docker compose build failed/);
    expect(failed.outputs['env-id']).toBe('shop-pr-70');
    expect(failed.outputs.namespace).toBe(NAMESPACE);
    const host = [...envObjects(sims.sim, 'shop-pr-70').values()].find((o) => o.kind === 'Deployment');
    expect(failed.outputs.id).toBe(host?.metadata.labels?.['preevy.dev/instance']);
    expect(failed.outputs.id).toMatch(/\S/);
    await run({ action: 'closed', number: 70, headSha: sha('0') });
  });

  it("with an empty kubeconfig input, the job's own kubeconfig is used, exec plugin included", async () => {
    // What a cloud login step leaves: a kubeconfig in $KUBECONFIG whose user gets a token from a program.
    const dir = mkdtempSync(path.join(tmpdir(), 'gh-e2e-cloud-'));
    const admin = parse(sims.sim.kubeconfig()) as { users: Array<{ user: Record<string, unknown> }> };
    const token = String(admin.users[0]!.user.token);
    const plugin = path.join(dir, 'get-token');
    const ran = path.join(dir, 'ran');
    writeFileSync(
      plugin,
      `#!/bin/sh\ntouch ${ran}\necho '{"apiVersion":"client.authentication.k8s.io/v1beta1","kind":"ExecCredential","status":{"token":"${token}"}}'\n`,
    );
    chmodSync(plugin, 0o755);
    admin.users[0]!.user = {
      exec: { apiVersion: 'client.authentication.k8s.io/v1beta1', command: plugin, interactiveMode: 'Never' },
    };
    writeFileSync(path.join(dir, 'config'), stringify(admin));
    const opened = await runIn({
      event: { action: 'opened', number: 71, headSha: sha('1') },
      over: { kubeconfig: '' },
      env: { KUBECONFIG: `${path.join(dir, 'missing')}:${path.join(dir, 'config')}` },
    });
    expect(opened.stdout).not.toMatch(/::error::/);
    expect(opened.code).toBe(0);
    expect(opened.stdout).toContain(`using the job's kubeconfig (${path.join(dir, 'config')})`);
    expect(existsSync(ran)).toBe(true);
    expect(opened.stdout).not.toContain(token);
    expect(urlsOf(opened.outputs).length).toBeGreaterThan(0);
    await run({ action: 'closed', number: 71, headSha: sha('1') });
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
    expect([...envObjects(sims.sim, 'shop-pr-66').keys()]).toEqual([]);
    expect(comments(66)).toEqual([]);
  });
});
