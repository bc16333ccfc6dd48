/**
 * The action's own GitHub modules against the simulator: every route they call must exist, every request must
 * match GitHub's description (sim.violations stays empty), and the results must be what reviewers would see.
 */
import * as github from '@actions/github';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { GitHubApi } from '../../../src/github/api.js';
import { upsertComment } from '../../../src/github/comment.js';
import { commentMarker } from '../../../src/github/comment-text.js';
import { deactivateDeployments, finishDeployment, startDeployment } from '../../../src/github/deployments.js';
import { type GitHubSim, randomSha, startGitHubSim, writes } from './index.js';

const OWNER = 'acme';
const REPO = 'shop';
const HEAD = randomSha();

let sim: GitHubSim;

beforeAll(async () => {
  sim = await startGitHubSim();
  // What a workflow with `permissions: { pull-requests: write, deployments: write }` hands the action.
  sim.addJobToken('ghs_job', {
    permissions: { 'pull-requests': 'write', deployments: 'write', contents: 'read' },
  });
  sim.addToken('ghp_maintainer', { login: 'maintainer', kind: 'user' });
  sim.addPullRequest({ owner: OWNER, repo: REPO, number: 42, headSha: HEAD });
});

afterAll(async () => {
  await sim.close();
});

beforeEach(() => {
  sim.violations.length = 0;
});

const api = (token: string): GitHubApi => github.getOctokit(token, { baseUrl: sim.url });

describe('src/github/comment.ts upsertComment', () => {
  it('creates the comment once and updates it in place (installation token)', async () => {
    // Two pages of noise to page past, and a human quoting the marker: with an installation token only Bot
    // comments count as ours, so that one must be left alone.
    for (let i = 0; i < 120; i++) {
      sim.addComment({ owner: OWNER, repo: REPO, issueNumber: 42, body: `chatter ${i}`, user: 'someone' });
    }
    sim.addComment({
      owner: OWNER,
      repo: REPO,
      issueNumber: 42,
      body: `${commentMarker('pr-42')}\nquoted by a human`,
      user: 'someone',
    });
    const target = { owner: OWNER, repo: REPO, issueNumber: 42, envId: 'pr-42' };
    const before = sim.audit.length;
    const first = await upsertComment(api('ghs_job'), target, `${commentMarker('pr-42')}\nDeploying`);
    expect(first.action).toBe('created');
    const second = await upsertComment(api('ghs_job'), target, `${commentMarker('pr-42')}\nReady`);
    expect(second).toEqual({ id: first.id, action: 'updated' });
    const third = await upsertComment(api('ghs_job'), target, `${commentMarker('pr-42')}\nReady`);
    expect(third).toEqual({ id: first.id, action: 'unchanged' });

    const ours = sim
      .comments(OWNER, REPO, 42)
      .filter(
        (c) => String(c.body).includes(commentMarker('pr-42')) && (c.user as { type: string }).type === 'Bot',
      );
    expect(ours).toHaveLength(1);
    expect(ours[0]).toMatchObject({ id: first.id, body: `${commentMarker('pr-42')}\nReady` });
    expect(writes(sim.audit.slice(before)).map((e) => `${e.method} ${e.operationId} ${e.status}`)).toEqual([
      'POST issues/create-comment 201',
      'PATCH issues/update-comment 200',
    ]);
    expect(sim.violations).toEqual([]);
  });

  it('with a user token, finds its own comment by login', async () => {
    const target = { owner: OWNER, repo: REPO, issueNumber: 42, envId: 'pr-42-user' };
    const first = await upsertComment(api('ghp_maintainer'), target, `${commentMarker('pr-42-user')}\none`);
    const second = await upsertComment(api('ghp_maintainer'), target, `${commentMarker('pr-42-user')}\ntwo`);
    expect([first.action, second.action]).toEqual(['created', 'updated']);
    expect(second.id).toBe(first.id);
    expect(sim.violations).toEqual([]);
  });
});

describe('src/github/deployments.ts', () => {
  it('start → finish twice, then deactivate: statuses as GitHub records them', async () => {
    const t = { owner: OWNER, repo: REPO, environment: 'pr-42' };
    const runUrl = 'https://github.com/acme/shop/actions/runs/1';
    const ids: number[] = [];
    for (const url of ['https://a.preview.example.com', 'https://b.preview.example.com']) {
      const id = await startDeployment(api('ghs_job'), t, {
        ref: HEAD,
        description: 'Preview pr-42',
        logUrl: runUrl,
      });
      await finishDeployment(api('ghs_job'), t, id, {
        state: 'success',
        environmentUrl: url,
        logUrl: runUrl,
      });
      ids.push(id);
    }
    const listed = sim.deployments(OWNER, REPO, { environment: 'pr-42' });
    expect(listed.map((d) => d.id)).toEqual([...ids].reverse());
    expect(listed[0]).toMatchObject({
      sha: HEAD,
      transient_environment: true,
      production_environment: false,
      description: 'Preview pr-42',
    });
    expect(listed[0]?.statuses.map((s) => s.state)).toEqual(['success', 'in_progress']);
    // The second success retired the first deployment (GitHub's auto_inactive spares transient ones).
    expect(listed[1]?.statuses[0]?.state).toBe('inactive');
    expect(listed[0]?.statuses[0]).toMatchObject({
      environment_url: 'https://b.preview.example.com',
      log_url: runUrl,
    });

    const n = await deactivateDeployments(api('ghs_job'), t, { logUrl: runUrl });
    expect(n).toBe(1); // the one still active
    const after = sim.deployments(OWNER, REPO, { environment: 'pr-42' });
    expect(after.every((d) => d.statuses[0]?.state === 'inactive')).toBe(true);
    expect(sim.state.environments.filter((e) => e.name === 'pr-42')).toHaveLength(1);
    expect(sim.violations).toEqual([]);
  });

  it('without deployments: write the calls fail with 403 "Resource not accessible by integration"', async () => {
    sim.addJobToken('ghs_no_deploy', { permissions: { 'pull-requests': 'write' } });
    await expect(
      startDeployment(
        api('ghs_no_deploy'),
        { owner: OWNER, repo: REPO, environment: 'pr-42' },
        {
          ref: HEAD,
          description: 'x',
        },
      ),
    ).rejects.toMatchObject({
      status: 403,
      message: expect.stringContaining('Resource not accessible by integration'),
    });
    expect(sim.violations).toEqual([]);
  });
});
