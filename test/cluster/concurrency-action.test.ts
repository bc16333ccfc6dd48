import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PullRequestEvent, runAction } from '../e2e/support.js';
import { startJobGitHub } from '../integration/harness.js';
import type { GitHubSim } from '../sim/github/index.js';
import { useCluster } from './fixture.js';

const OWNER = 'acme';
const REPO = 'shop';
const TOKEN = 'ghs_e2e_concurrency_token_00001';
const sha = (c: string) => c.repeat(40);

/**
 * dist/index.js, started as the runner starts it, twice at once and after its PR closed: the environment's
 * lock, the tombstone and the PR check end to end. No compose project, so no engines are needed.
 */
describe('dist/index.js: runs of one PR at once, and after it closed', () => {
  const c = useCluster({ suite: 'concurrency-action' });
  let gh: GitHubSim;
  let workspace: string;
  beforeAll(async () => {
    gh = await startJobGitHub({ owner: OWNER, repo: REPO }, TOKEN, { secondaryRateLimit: false });
    workspace = mkdtempSync(path.join(tmpdir(), 'concurrency-e2e-'));
  });
  afterAll(async () => {
    await gh?.close();
  });

  const run = (event: PullRequestEvent) =>
    runAction({
      inputs: {
        kubeconfig: c.kubeconfig,
        namespace: c.namespace,
        'ready-timeout': '5m',
        'github-token': TOKEN,
      },
      workspace,
      event,
      env: { GITHUB_API_URL: gh.url },
    });
  const ours = () =>
    (gh.comments(OWNER, REPO, 71) as Array<{ body: string; user: { login: string } }>).filter(
      (c) => c.user.login === 'github-actions[bot]',
    );

  it('two opened runs at once make one environment and one comment; after the close a late push makes nothing; reopened deploys', async () => {
    gh.addPullRequest({ owner: OWNER, repo: REPO, number: 71, headSha: sha('a'), state: 'open' });
    const [a, b] = await Promise.all([
      run({ action: 'opened', number: 71, headSha: sha('a') }),
      run({ action: 'opened', number: 71, headSha: sha('a') }),
    ]);
    expect([a.code, b.code]).toEqual([0, 0]);
    expect(a.stdout + b.stdout).not.toMatch(/::error::/);
    expect(a.outputs.id).toMatch(/^shop-pr-71-[a-z0-9]{5}$/);
    expect(b.outputs.id).toBe(a.outputs.id);
    expect(a.stdout + b.stdout).toMatch(
      /Environment shop-pr-71 is locked by the up of https:\/\/github\.com\/acme\/shop\/actions\/runs\/4242 \(holder 4242\/1\/\d+\/[0-9a-f]{6} on /,
    );
    expect(
      [...(await c.envObjects('shop-pr-71')).values()].filter((o) => o.kind === 'Deployment'),
    ).toHaveLength(1);
    expect(ours()).toHaveLength(1);
    expect(ours()[0]!.body).toContain('The preview environment is ready');

    gh.addPullRequest({ owner: OWNER, repo: REPO, number: 71, headSha: sha('a'), state: 'closed' });
    const closed = await run({ action: 'closed', number: 71, headSha: sha('a') });
    expect(closed.code).toBe(0);
    expect((await c.envObjects('shop-pr-71')).size).toBe(0);
    expect(await c.bookkeeping('shop-pr-71')).toMatchObject({
      lease: undefined,
      tombstone: expect.anything(),
    });
    expect(ours()[0]!.body).toContain('was deleted');

    // A push's run that starts after the close: the payload says open, GitHub and the tombstone say closed.
    const late = await run({ action: 'synchronize', number: 71, headSha: sha('a') });
    expect(late.code).toBe(0);
    expect(late.stdout).toContain(
      '::notice::PR #71 is closed: environment shop-pr-71 is not deployed, and nothing was created or changed.',
    );
    expect(late.summary).toContain('PR #71 is closed');
    expect((await c.envObjects('shop-pr-71')).size).toBe(0);
    expect((await c.bookkeeping('shop-pr-71')).lease).toBeUndefined();
    expect(ours()).toHaveLength(1);
    expect(ours()[0]!.body).toContain('was deleted');

    gh.addPullRequest({ owner: OWNER, repo: REPO, number: 71, headSha: sha('b'), state: 'open' });
    const reopened = await run({ action: 'reopened', number: 71, headSha: sha('b') });
    expect(reopened.code).toBe(0);
    expect(reopened.outputs.id).toMatch(/^shop-pr-71-[a-z0-9]{5}$/);
    expect(reopened.outputs.id).not.toBe(a.outputs.id);
    expect((await c.bookkeeping('shop-pr-71')).tombstone).toBeUndefined();
    expect(ours()).toHaveLength(1);
    expect(ours()[0]!.body).toContain('The preview environment is ready');

    expect((await run({ action: 'closed', number: 71, headSha: sha('b') })).code).toBe(0);
    expect(gh.violations).toEqual([]);
  });
});
