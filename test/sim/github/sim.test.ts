import * as github from '@actions/github';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { countRequests, type GitHubSim, randomSha, startGitHubSim } from './index.js';

const OWNER = 'acme';
const REPO = 'shop';
const HEAD = randomSha();
const ACTIONS = 'ghs_actions_write';
const READONLY = 'ghs_actions_readonly';
const PAT = 'ghp_octocat';
const FINE = 'github_pat_limited';

let sim: GitHubSim;

beforeAll(async () => {
  sim = await startGitHubSim({ secondaryRateLimit: false });
  sim.addJobToken(ACTIONS, {
    permissions: { 'pull-requests': 'write', issues: 'write', deployments: 'write', contents: 'read' },
  });
  sim.addJobToken(READONLY, { permissions: { contents: 'read' } });
  sim.addToken(PAT, { login: 'octocat', kind: 'user' });
  sim.addToken(FINE, { login: 'hubot', kind: 'user', permissions: { contents: 'read' } });
  sim.addPullRequest({
    owner: OWNER,
    repo: REPO,
    number: 42,
    headSha: HEAD,
    labels: ['preview'],
    user: 'octocat',
  });
});

afterAll(async () => {
  await sim.close();
});

beforeEach(() => {
  sim.violations.length = 0;
  sim.faults.clear();
});

const client = (token: string) => github.getOctokit(token, { baseUrl: sim.url });

/** The RequestError of a call that must fail. */
async function failure(p: Promise<unknown>): Promise<{
  status: number;
  message: string;
  response: { data: Record<string, unknown>; headers: Record<string, string | undefined> };
}> {
  try {
    await p;
  } catch (e) {
    return e as Awaited<ReturnType<typeof failure>>;
  }
  throw new Error('the call succeeded');
}

describe('issue comments', () => {
  it('creates, reads, updates and deletes, with GitHub shapes and a Location header', async () => {
    const api = client(ACTIONS);
    const created = await api.rest.issues.createComment({
      owner: OWNER,
      repo: REPO,
      issue_number: 42,
      body: 'hi',
    });
    expect(created.status).toBe(201);
    expect(created.headers.location).toBe(
      `${sim.url}/repos/${OWNER}/${REPO}/issues/comments/${created.data.id}`,
    );
    expect(created.data).toMatchObject({
      body: 'hi',
      user: { login: 'github-actions[bot]', type: 'Bot', id: 41898282 },
      author_association: 'NONE',
      html_url: `https://github.com/${OWNER}/${REPO}/pull/42#issuecomment-${created.data.id}`,
      issue_url: `${sim.url}/repos/${OWNER}/${REPO}/issues/42`,
    });
    expect(created.data.id).toBeGreaterThan(2 ** 31);

    const got = await api.rest.issues.getComment({ owner: OWNER, repo: REPO, comment_id: created.data.id });
    expect(got.data.body).toBe('hi');

    const updated = await api.rest.issues.updateComment({
      owner: OWNER,
      repo: REPO,
      comment_id: created.data.id,
      body: 'hello',
    });
    expect(updated.data).toMatchObject({
      id: created.data.id,
      body: 'hello',
      created_at: created.data.created_at,
    });

    const blank = await failure(
      api.rest.issues.createComment({ owner: OWNER, repo: REPO, issue_number: 42, body: '  ' }),
    );
    expect(blank.status).toBe(422);
    expect(blank.response.data).toEqual({
      message: 'Validation Failed',
      errors: [
        { resource: 'IssueComment', code: 'unprocessable', field: 'data', message: 'Body cannot be blank' },
      ],
      documentation_url: 'https://docs.github.com/rest/issues/comments#create-an-issue-comment',
      status: '422',
    });
    const tooLong = await failure(
      api.rest.issues.createComment({
        owner: OWNER,
        repo: REPO,
        issue_number: 42,
        body: 'a'.repeat(262_145),
      }),
    );
    expect(tooLong.response.data.errors).toEqual([
      expect.objectContaining({ message: 'Body is too long (maximum is 65536 characters)' }),
    ]);

    const deleted = await api.rest.issues.deleteComment({
      owner: OWNER,
      repo: REPO,
      comment_id: created.data.id,
    });
    expect(deleted.status).toBe(204);
    const gone = await failure(
      api.rest.issues.getComment({ owner: OWNER, repo: REPO, comment_id: created.data.id }),
    );
    expect(gone.status).toBe(404);
    expect(gone.response.data).toEqual({
      message: 'Not Found',
      documentation_url: 'https://docs.github.com/rest/issues/comments#get-an-issue-comment',
      status: '404',
    });
    expect(sim.violations).toEqual([]);
  });

  it('paginates across 3 pages with Link headers that name the repository by id', async () => {
    sim.addIssue({ owner: OWNER, repo: REPO, number: 7, title: 'many comments' });
    for (let i = 0; i < 65; i++) {
      sim.addComment({ owner: OWNER, repo: REPO, issueNumber: 7, body: `comment ${i}`, user: 'octocat' });
    }
    const api = client(ACTIONS);
    const first = await api.rest.issues.listComments({ owner: OWNER, repo: REPO, issue_number: 7 });
    expect(first.data).toHaveLength(30);
    const repoId = sim.state.repo(OWNER, REPO)?.id;
    const base = `${sim.url}/repositories/${repoId}/issues/7/comments`;
    expect(first.headers.link).toBe(`<${base}?page=2>; rel="next", <${base}?page=3>; rel="last"`);
    const second = await api.rest.issues.listComments({ owner: OWNER, repo: REPO, issue_number: 7, page: 2 });
    expect(second.headers.link).toBe(
      `<${base}?page=1>; rel="prev", <${base}?page=3>; rel="next", <${base}?page=3>; rel="last", <${base}?page=1>; rel="first"`,
    );

    const before = sim.audit.length;
    const all = await api.paginate(api.rest.issues.listComments, {
      owner: OWNER,
      repo: REPO,
      issue_number: 7,
    });
    expect(all.map((c) => c.body)).toEqual(Array.from({ length: 65 }, (_, i) => `comment ${i}`));
    const pages = sim.audit.slice(before);
    expect(pages.map((e) => `${e.path}?${new URLSearchParams(e.query as Record<string, string>)}`)).toEqual([
      `/repos/${OWNER}/${REPO}/issues/7/comments?`,
      `/repositories/${repoId}/issues/7/comments?page=2`,
      `/repositories/${repoId}/issues/7/comments?page=3`,
    ]);
    expect(pages.every((e) => e.status === 200 && e.operationId === 'issues/list-comments')).toBe(true);

    const big = await api.rest.issues.listComments({
      owner: OWNER,
      repo: REPO,
      issue_number: 7,
      per_page: 500,
    });
    expect(big.data).toHaveLength(65);
    expect(big.headers.link).toBeUndefined();
    expect(sim.violations).toEqual([]);
  });
});

describe('authentication and permissions', () => {
  it('GET /user is 403 for an installation token and 200 for a user token', async () => {
    const denied = await failure(client(ACTIONS).rest.users.getAuthenticated());
    expect(denied.status).toBe(403);
    expect(denied.response.data).toEqual({
      message: 'Resource not accessible by integration',
      documentation_url: 'https://docs.github.com/rest/users/users#get-the-authenticated-user',
      status: '403',
    });
    const me = await client(PAT).rest.users.getAuthenticated();
    expect(me.data).toMatchObject({ login: 'octocat', type: 'User', user_view_type: 'private' });
    expect(sim.violations).toEqual([]);
  });

  it('a missing permission is 403 with GitHub message, documentation URL and accepted permissions', async () => {
    const e = await failure(
      client(READONLY).rest.issues.createComment({ owner: OWNER, repo: REPO, issue_number: 42, body: 'x' }),
    );
    expect(e.status).toBe(403);
    expect(e.response.data).toEqual({
      message: 'Resource not accessible by integration',
      documentation_url: 'https://docs.github.com/rest/issues/comments#create-an-issue-comment',
      status: '403',
    });
    expect(e.response.headers['x-accepted-github-permissions']).toBe('issues=write; pull_requests=write');

    const dep = await failure(
      client(READONLY).rest.repos.createDeployment({
        owner: OWNER,
        repo: REPO,
        ref: HEAD,
        required_contexts: [],
      }),
    );
    expect(dep.response.data.message).toBe('Resource not accessible by integration');
    expect(dep.response.data.documentation_url).toBe(
      'https://docs.github.com/rest/deployments/deployments#create-a-deployment',
    );

    const pat = await failure(
      client(FINE).rest.issues.createComment({ owner: OWNER, repo: REPO, issue_number: 42, body: 'x' }),
    );
    expect(pat.response.data.message).toBe('Resource not accessible by personal access token');
    expect(sim.violations).toEqual([]);
  });

  it('comments on a pull request need issues or pull-requests write; on an issue, issues', async () => {
    sim.addJobToken('ghs_pr_only', { permissions: { 'pull-requests': 'write' } });
    sim.addJobToken('ghs_issues_only', { permissions: { issues: 'write' } });
    sim.addIssue({ owner: OWNER, repo: REPO, number: 8 });
    const target = { owner: OWNER, repo: REPO, body: 'x' };
    await client('ghs_pr_only').rest.issues.createComment({ ...target, issue_number: 42 });
    await client('ghs_issues_only').rest.issues.createComment({ ...target, issue_number: 42 });
    await client('ghs_issues_only').rest.issues.createComment({ ...target, issue_number: 8 });
    const e = await failure(client('ghs_pr_only').rest.issues.createComment({ ...target, issue_number: 8 }));
    expect(e.status).toBe(403);
    expect(sim.violations).toEqual([]);
  });

  it('an unknown token is 401 Bad credentials, no token 401 Requires authentication', async () => {
    const bad = await failure(client('nope').rest.pulls.get({ owner: OWNER, repo: REPO, pull_number: 42 }));
    expect(bad.status).toBe(401);
    expect(bad.response.data).toEqual({
      message: 'Bad credentials',
      documentation_url: 'https://docs.github.com/rest',
      status: '401',
    });
    const res = await fetch(`${sim.url}/user`);
    expect(res.status).toBe(401);
    expect(((await res.json()) as { message: string }).message).toBe('Requires authentication');
  });

  it('a repository outside the token is 404, as GitHub hides it', async () => {
    sim.addJobToken('ghs_other_repo', { repositories: ['acme/other'] });
    const e = await failure(
      client('ghs_other_repo').rest.pulls.get({ owner: OWNER, repo: REPO, pull_number: 42 }),
    );
    expect(e.status).toBe(404);
  });
});

describe('pull requests', () => {
  it('returns state, head SHA, labels in the full pull-request shape', async () => {
    const { data, headers } = await client(ACTIONS).rest.pulls.get({
      owner: OWNER,
      repo: REPO,
      pull_number: 42,
    });
    expect(data).toMatchObject({
      number: 42,
      state: 'open',
      merged: false,
      head: { sha: HEAD, ref: 'pr-42', repo: { full_name: `${OWNER}/${REPO}` } },
      base: { ref: 'main' },
      labels: [{ name: 'preview' }],
      user: { login: 'octocat' },
    });
    expect(headers['content-type']).toBe('application/json; charset=utf-8');
    expect(headers['x-github-api-version-selected']).toBe('2022-11-28');
    expect(headers['x-github-request-id']).toMatch(/^[0-9A-F]+(:[0-9A-F]+){4}$/);

    const newer = randomSha();
    sim.addPullRequest({
      owner: OWNER,
      repo: 'forked',
      number: 3,
      headSha: newer,
      headRepo: 'someone/forked',
    });
    sim.addPullRequest({ owner: OWNER, repo: 'forked', number: 3, state: 'closed', merged: true });
    const closed = await client(PAT).rest.pulls.get({ owner: OWNER, repo: 'forked', pull_number: 3 });
    expect(closed.data).toMatchObject({
      state: 'closed',
      merged: true,
      head: { sha: newer, repo: { full_name: 'someone/forked', fork: true } },
    });
    const missing = await failure(
      client(ACTIONS).rest.pulls.get({ owner: OWNER, repo: REPO, pull_number: 8 }),
    );
    expect(missing.status).toBe(404);
    expect(sim.violations).toEqual([]);
  });
});

describe('deployments', () => {
  it('creates, adds statuses, lists by environment and applies the documented auto_inactive', async () => {
    const api = client(ACTIONS);
    const target = { owner: OWNER, repo: REPO };
    const deploy = async (environment: string, extra: Record<string, unknown> = {}) => {
      const { data, status } = await api.rest.repos.createDeployment({
        ...target,
        ref: HEAD,
        environment,
        auto_merge: false,
        required_contexts: [],
        ...extra,
      });
      expect(status).toBe(201);
      if (!('id' in data)) throw new Error('no deployment');
      await api.rest.repos.createDeploymentStatus({
        ...target,
        deployment_id: data.id,
        state: 'success',
        environment_url: `https://${environment}.example.com`,
        log_url: 'https://ci.example.com/run/1',
      });
      return data;
    };
    const first = await deploy('staging');
    expect(first).toMatchObject({
      sha: HEAD,
      ref: HEAD,
      environment: 'staging',
      original_environment: 'staging',
      task: 'deploy',
      payload: {},
      transient_environment: false,
      production_environment: false,
      creator: { login: 'github-actions[bot]' },
    });
    const second = await deploy('staging');
    const preview1 = await deploy('pr-1', { transient_environment: true });
    const preview2 = await deploy('pr-1', { transient_environment: true });

    const statuses = async (id: number) =>
      (await api.rest.repos.listDeploymentStatuses({ ...target, deployment_id: id })).data.map(
        (s) => s.state,
      );
    // A new success makes the earlier non-transient, non-production deployment inactive...
    expect(await statuses(first.id)).toEqual(['inactive', 'success']);
    expect(await statuses(second.id)).toEqual(['success']);
    // ...but transient deployments are exempt, as documented.
    expect(await statuses(preview1.id)).toEqual(['success']);
    expect(await statuses(preview2.id)).toEqual(['success']);

    const listed = await api.rest.repos.listDeployments({ ...target, environment: 'pr-1' });
    expect(listed.data.map((d) => d.id)).toEqual([preview2.id, preview1.id]);
    const latest = (await api.rest.repos.listDeploymentStatuses({ ...target, deployment_id: second.id }))
      .data[0];
    expect(latest).toMatchObject({
      state: 'success',
      environment: 'staging',
      environment_url: 'https://staging.example.com',
      log_url: 'https://ci.example.com/run/1',
      target_url: 'https://ci.example.com/run/1',
      description: '',
    });

    await api.rest.repos.createDeploymentStatus({ ...target, deployment_id: preview1.id, state: 'inactive' });
    expect(await statuses(preview1.id)).toEqual(['inactive', 'success']);
    expect(sim.state.environments.map((e) => e.name)).toEqual(expect.arrayContaining(['staging', 'pr-1']));

    const noRef = await failure(
      api.rest.repos.createDeployment({ ...target, ref: 'nope', required_contexts: [], auto_merge: false }),
    );
    expect(noRef.status).toBe(422);
    expect(noRef.response.data).toEqual({
      message: 'No ref found for: nope',
      documentation_url: 'https://docs.github.com/rest/deployments/deployments#create-a-deployment',
      status: '422',
    });
    const byBranch = await api.rest.repos.createDeployment({
      ...target,
      ref: 'pr-42',
      required_contexts: [],
    });
    expect('sha' in byBranch.data && byBranch.data.sha).toBe(HEAD);
    expect(sim.violations).toEqual([]);
  });

  it('refuses a description over 140 characters', async () => {
    const api = client(ACTIONS);
    const { data } = await api.rest.repos.createDeployment({
      owner: OWNER,
      repo: REPO,
      ref: HEAD,
      required_contexts: [],
    });
    if (!('id' in data)) throw new Error('no deployment');
    const e = await failure(
      api.rest.repos.createDeploymentStatus({
        owner: OWNER,
        repo: REPO,
        deployment_id: data.id,
        state: 'failure',
        description: 'x'.repeat(141),
      }),
    );
    expect(e.status).toBe(422);
    expect(e.response.data.message).toBe('Validation Failed');
    expect(sim.violations).toEqual([]);
  });
});

describe('the OpenAPI contract', () => {
  it('an invalid body is a 422 in GitHub words and a recorded violation', async () => {
    const { data } = await client(ACTIONS).rest.repos.createDeployment({
      owner: OWNER,
      repo: REPO,
      ref: HEAD,
      required_contexts: [],
    });
    if (!('id' in data)) throw new Error('no deployment');
    // Untyped routes: Octokit's types would refuse these at compile time; plain JS or a cast would not.
    const untyped = (route: string, params: Record<string, unknown>) =>
      client(ACTIONS).request(route, params);
    const e = await failure(
      untyped('POST /repos/{owner}/{repo}/deployments/{deployment_id}/statuses', {
        owner: OWNER,
        repo: REPO,
        deployment_id: data.id,
        state: 'done',
      }),
    );
    expect(e.status).toBe(422);
    expect(e.response.data).toEqual({
      message:
        'Invalid request.\n\ndone is not a member of ["error", "failure", "inactive", "in_progress", "queued", "pending", "success"].',
      documentation_url: 'https://docs.github.com/rest/deployments/statuses#create-a-deployment-status',
      status: '422',
    });
    const missing = await failure(
      untyped('POST /repos/{owner}/{repo}/issues/{issue_number}/comments', {
        owner: OWNER,
        repo: REPO,
        issue_number: 42,
        bodyy: 'typo',
      }),
    );
    expect(missing.response.data.message).toBe('Invalid request.\n\n"body" wasn\'t supplied.');
    expect(sim.violations).toEqual([
      expect.objectContaining({
        kind: 'request',
        status: 422,
        operationId: 'repos/create-deployment-status',
        errors: [expect.stringContaining('done is not a member of')],
      }),
      expect.objectContaining({ kind: 'request', status: 422, operationId: 'issues/create-comment' }),
    ]);
  });

  it('an unknown route is a 404 and a violation; an unemulated route a 501 and a violation', async () => {
    const e = await failure(
      client(ACTIONS).request('GET /repos/{owner}/{repo}/no-such-thing', { owner: OWNER, repo: REPO }),
    );
    expect(e.status).toBe(404);
    expect(e.response.data).toEqual({
      message: 'Not Found',
      documentation_url: 'https://docs.github.com/rest',
      status: '404',
    });
    const u = await failure(client(ACTIONS).rest.repos.listBranches({ owner: OWNER, repo: REPO }));
    expect(u.status).toBe(501);
    expect(sim.violations.map((v) => [v.kind, v.status, v.path])).toEqual([
      ['route', 404, `/repos/${OWNER}/${REPO}/no-such-thing`],
      ['unemulated', 501, `/repos/${OWNER}/${REPO}/branches`],
    ]);
  });

  it('an answer of the simulator that breaks the response schema is a violation', async () => {
    // State writes skip validation; what goes over the wire does not.
    const c = sim.addComment({ owner: OWNER, repo: REPO, issueNumber: 42, body: 'x', user: 'octocat' });
    (c as { body: unknown }).body = 12;
    await client(ACTIONS).rest.issues.getComment({ owner: OWNER, repo: REPO, comment_id: c.id });
    expect(sim.violations).toEqual([
      expect.objectContaining({
        kind: 'response',
        status: 200,
        operationId: 'issues/get-comment',
        errors: [expect.stringMatching(/^\/body must be string/)],
      }),
    ]);
    sim.state.comments.splice(sim.state.comments.indexOf(c), 1);
  });

  it('parameters GitHub would ignore are reported without failing the call', async () => {
    await client(ACTIONS).request('GET /repos/{owner}/{repo}/deployments', {
      owner: OWNER,
      repo: REPO,
      enviroment: 'typo',
    });
    expect(sim.violations).toEqual([
      expect.objectContaining({
        kind: 'request',
        status: 0,
        errors: ['unknown query parameter "enviroment", ignored by GitHub'],
      }),
    ]);
  });
});

describe('rate limits and faults', () => {
  it('x-ratelimit headers count down per token; a spent window is 403 with remaining 0', async () => {
    sim.addJobToken('ghs_small', { rateLimit: 3 });
    const api = client('ghs_small');
    const seen: Array<string | undefined> = [];
    for (let i = 0; i < 3; i++) {
      const r = await api.rest.pulls.get({ owner: OWNER, repo: REPO, pull_number: 42 });
      seen.push(r.headers['x-ratelimit-remaining']);
      expect(r.headers['x-ratelimit-limit']).toBe('3');
      expect(r.headers['x-ratelimit-resource']).toBe('core');
      expect(Number(r.headers['x-ratelimit-reset'])).toBeGreaterThan(Date.now() / 1000);
    }
    expect(seen).toEqual(['2', '1', '0']);
    const e = await failure(api.rest.pulls.get({ owner: OWNER, repo: REPO, pull_number: 42 }));
    expect(e.status).toBe(403);
    expect(e.response.headers['x-ratelimit-remaining']).toBe('0');
    expect(e.response.headers['x-ratelimit-used']).toBe('3');
    expect(e.response.data.message).toMatch(/^API rate limit exceeded for installation ID \d+\./);
    expect(sim.rateLimit('ghs_small')).toMatchObject({ limit: 3, used: 3 });
    // Another token has its own window.
    const other = await client(ACTIONS).rest.pulls.get({ owner: OWNER, repo: REPO, pull_number: 42 });
    expect(Number(other.headers['x-ratelimit-remaining'])).toBeGreaterThan(900);
  });

  it('faults fire: 5xx, secondary and primary rate limits, latency, dropped connection', async () => {
    const api = client(ACTIONS);
    const pr = () => api.rest.pulls.get({ owner: OWNER, repo: REPO, pull_number: 42 });
    sim.faults.next(1, { method: 'GET', path: /\/pulls\/42$/ }, { type: 'status', code: 502 });
    expect((await failure(pr())).status).toBe(502);
    expect((await pr()).status).toBe(200);

    sim.faults.next(1, { path: /pulls/ }, { type: 'secondary-rate-limit', retryAfterSeconds: 30 });
    const secondary = await failure(pr());
    expect(secondary.status).toBe(403);
    expect(secondary.response.headers['retry-after']).toBe('30');
    expect(secondary.response.data.message).toMatch(/^You have exceeded a secondary rate limit\./);

    sim.faults.next(1, { path: /pulls/ }, { type: 'primary-rate-limit', status: 429, resetInSeconds: 60 });
    const primary = await failure(pr());
    expect(primary.status).toBe(429);
    expect(primary.response.headers['x-ratelimit-remaining']).toBe('0');
    expect(Number(primary.response.headers['x-ratelimit-reset'])).toBeLessThanOrEqual(Date.now() / 1000 + 61);

    sim.faults.next(1, { path: /pulls/ }, { type: 'latency', ms: 150 });
    const t0 = Date.now();
    await pr();
    expect(Date.now() - t0).toBeGreaterThanOrEqual(140);

    sim.faults.next(1, { path: /pulls/ }, { type: 'drop' });
    await expect(pr()).rejects.toThrow();
    expect(sim.audit.at(-1)).toMatchObject({ status: 0, fault: 'drop' });
    expect((await pr()).status).toBe(200);
    expect(sim.faults.active).toBe(0);
    expect(countRequests(sim.audit, { method: 'GET', path: /\/pulls\/42$/ })).toBeGreaterThan(6);
    expect(sim.violations).toEqual([]);
  });

  it('the secondary limit on content creation answers 403 with retry-after', async () => {
    const small = await startGitHubSim({ secondaryRateLimit: { perMinute: 2 } });
    try {
      small.addJobToken('t');
      small.addPullRequest({ owner: OWNER, repo: REPO, number: 1 });
      const api = github.getOctokit('t', { baseUrl: small.url });
      const post = () =>
        api.rest.issues.createComment({ owner: OWNER, repo: REPO, issue_number: 1, body: 'x' });
      await post();
      await post();
      const e = await failure(post());
      expect(e.status).toBe(403);
      expect(e.response.headers['retry-after']).toBe('60');
      expect(small.comments(OWNER, REPO, 1)).toHaveLength(2);
      expect(small.violations).toEqual([]);
    } finally {
      await small.close();
    }
  });
});
