/**
 * The simulator's records in GitHub's response shapes (components/schemas of the OpenAPI description: simple-user,
 * private-user, repository, pull-request, issue-comment, deployment, deployment-status). URLs point at the
 * simulator, so a client following `url` or `statuses_url` stays on it; web URLs use `urls.html`.
 */
import type {
  GitHubState,
  SimComment,
  SimDeployment,
  SimDeploymentStatus,
  SimIssue,
  SimPullRequest,
  SimRepo,
  SimUser,
} from './state.js';

export type Json = Record<string, unknown>;

export interface Urls {
  /** The API base, e.g. http://127.0.0.1:40123 (no trailing slash). */
  api: string;
  /** The web base, https://github.com by default. */
  html: string;
}

/** GitHub's legacy global node id: base64 of "<len>:<Type><id>" (github-actions[bot] is MDM6Qm90NDE4OTgyODI=). */
export function nodeId(type: string, id: number): string {
  return Buffer.from(`${String(type.length).padStart(2, '0')}:${type}${id}`).toString('base64');
}

function webHost(urls: Urls): string {
  return new URL(urls.html).host;
}

export function simpleUser(u: SimUser, urls: Urls): Json {
  const api = `${urls.api}/users/${encodeURIComponent(u.login)}`;
  const isBot = u.type === 'Bot';
  return {
    login: u.login,
    id: u.id,
    node_id: nodeId(isBot ? 'Bot' : u.type === 'Organization' ? 'Organization' : 'User', u.id),
    avatar_url:
      u.login === 'github-actions[bot]'
        ? 'https://avatars.githubusercontent.com/in/15368?v=4'
        : `https://avatars.githubusercontent.com/u/${u.id}?v=4`,
    gravatar_id: '',
    url: api,
    html_url: isBot ? `${urls.html}/apps/${u.login.replace(/\[bot\]$/, '')}` : `${urls.html}/${u.login}`,
    followers_url: `${api}/followers`,
    following_url: `${api}/following{/other_user}`,
    gists_url: `${api}/gists{/gist_id}`,
    starred_url: `${api}/starred{/owner}{/repo}`,
    subscriptions_url: `${api}/subscriptions`,
    organizations_url: `${api}/orgs`,
    repos_url: `${api}/repos`,
    events_url: `${api}/events{/privacy}`,
    received_events_url: `${api}/received_events`,
    type: u.type,
    user_view_type: 'public',
    site_admin: false,
  };
}

/** GET /user for the token's own account (the private view). */
export function privateUser(u: SimUser, urls: Urls): Json {
  return {
    ...simpleUser(u, urls),
    user_view_type: 'private',
    name: u.name,
    company: null,
    blog: '',
    location: null,
    email: null,
    hireable: null,
    bio: null,
    twitter_username: null,
    notification_email: null,
    public_repos: 0,
    public_gists: 0,
    followers: 0,
    following: 0,
    created_at: u.createdAt,
    updated_at: u.createdAt,
    private_gists: 0,
    total_private_repos: 0,
    owned_private_repos: 0,
    disk_usage: 0,
    collaborators: 0,
    two_factor_authentication: true,
    plan: { name: 'free', space: 976562499, collaborators: 0, private_repos: 10000 },
  };
}

export function repository(r: SimRepo, state: GitHubState, urls: Urls): Json {
  const full = `${r.owner}/${r.name}`;
  const api = `${urls.api}/repos/${full}`;
  const web = `${urls.html}/${full}`;
  const host = webHost(urls);
  const open = [...state.issues.values()].filter(
    (i) => i.owner === r.owner && i.repo === r.name && i.state === 'open',
  ).length;
  return {
    id: r.id,
    node_id: nodeId('Repository', r.id),
    name: r.name,
    full_name: full,
    private: r.private,
    owner: simpleUser(state.user(r.owner), urls),
    html_url: web,
    description: null,
    fork: r.forkOf !== undefined,
    url: api,
    forks_url: `${api}/forks`,
    keys_url: `${api}/keys{/key_id}`,
    collaborators_url: `${api}/collaborators{/collaborator}`,
    teams_url: `${api}/teams`,
    hooks_url: `${api}/hooks`,
    issue_events_url: `${api}/issues/events{/number}`,
    events_url: `${api}/events`,
    assignees_url: `${api}/assignees{/user}`,
    branches_url: `${api}/branches{/branch}`,
    tags_url: `${api}/tags`,
    blobs_url: `${api}/git/blobs{/sha}`,
    git_tags_url: `${api}/git/tags{/sha}`,
    git_refs_url: `${api}/git/refs{/sha}`,
    trees_url: `${api}/git/trees{/sha}`,
    statuses_url: `${api}/statuses/{sha}`,
    languages_url: `${api}/languages`,
    stargazers_url: `${api}/stargazers`,
    contributors_url: `${api}/contributors`,
    subscribers_url: `${api}/subscribers`,
    subscription_url: `${api}/subscription`,
    commits_url: `${api}/commits{/sha}`,
    git_commits_url: `${api}/git/commits{/sha}`,
    comments_url: `${api}/comments{/number}`,
    issue_comment_url: `${api}/issues/comments{/number}`,
    contents_url: `${api}/contents/{+path}`,
    compare_url: `${api}/compare/{base}...{head}`,
    merges_url: `${api}/merges`,
    archive_url: `${api}/{archive_format}{/ref}`,
    downloads_url: `${api}/downloads`,
    issues_url: `${api}/issues{/number}`,
    pulls_url: `${api}/pulls{/number}`,
    milestones_url: `${api}/milestones{/number}`,
    notifications_url: `${api}/notifications{?since,all,participating}`,
    labels_url: `${api}/labels{/name}`,
    releases_url: `${api}/releases{/id}`,
    deployments_url: `${api}/deployments`,
    created_at: r.createdAt,
    updated_at: r.pushedAt,
    pushed_at: r.pushedAt,
    git_url: `git://${host}/${full}.git`,
    ssh_url: `git@${host}:${full}.git`,
    clone_url: `${web}.git`,
    svn_url: web,
    homepage: null,
    size: 0,
    stargazers_count: 0,
    watchers_count: 0,
    language: null,
    has_issues: true,
    has_projects: true,
    has_downloads: true,
    has_wiki: true,
    has_pages: false,
    has_discussions: false,
    forks_count: 0,
    mirror_url: null,
    archived: false,
    disabled: false,
    open_issues_count: open,
    license: null,
    allow_forking: true,
    is_template: false,
    web_commit_signoff_required: false,
    topics: [],
    visibility: r.private ? 'private' : 'public',
    forks: 0,
    open_issues: open,
    watchers: 0,
    default_branch: r.defaultBranch,
  };
}

/** How a login relates to a repository, in the words of `author_association`. */
export function association(login: string, r: { owner: string }, state: GitHubState): string {
  if (login.toLowerCase() === r.owner.toLowerCase()) return 'OWNER';
  if (state.user(login).type === 'Bot') return 'NONE';
  return 'COLLABORATOR';
}

export function label(name: string, r: SimRepo, urls: Urls): Json {
  // A stable id per name, so repeated calls agree.
  let h = 0;
  for (const ch of `${r.id}/${name}`) h = (Math.imul(h, 31) + ch.charCodeAt(0)) >>> 0;
  const id = 1_000_000_000 + (h % 1_000_000_000);
  return {
    id,
    node_id: nodeId('Label', id),
    url: `${urls.api}/repos/${r.owner}/${r.name}/labels/${encodeURIComponent(name)}`,
    name,
    color: 'ededed',
    default: false,
    description: null,
  };
}

export function issueComment(c: SimComment, state: GitHubState, urls: Urls): Json {
  const issue = state.issue(c.owner, c.repo, c.issueNumber);
  const api = `${urls.api}/repos/${c.owner}/${c.repo}`;
  const kind = issue?.pull ? 'pull' : 'issues';
  return {
    url: `${api}/issues/comments/${c.id}`,
    html_url: `${urls.html}/${c.owner}/${c.repo}/${kind}/${c.issueNumber}#issuecomment-${c.id}`,
    issue_url: `${api}/issues/${c.issueNumber}`,
    id: c.id,
    node_id: nodeId('IssueComment', c.id),
    user: simpleUser(state.user(c.user), urls),
    created_at: c.createdAt,
    updated_at: c.updatedAt,
    body: c.body,
    author_association: association(c.user, c, state),
    pin: null,
    minimized: null,
    reactions: {
      url: `${api}/issues/comments/${c.id}/reactions`,
      total_count: 0,
      '+1': 0,
      '-1': 0,
      laugh: 0,
      hooray: 0,
      confused: 0,
      heart: 0,
      rocket: 0,
      eyes: 0,
    },
    performed_via_github_app: null,
  };
}

function branchEnd(repoName: string, ref: string, sha: string, state: GitHubState, urls: Urls): Json {
  const [owner = '', name = ''] = repoName.split('/');
  const r = state.repo(owner, name);
  return {
    label: `${owner}:${ref}`,
    ref,
    sha,
    user: simpleUser(state.user(owner), urls),
    repo: r ? repository(r, state, urls) : null,
  };
}

export function pullRequest(
  issue: SimIssue & { pull: SimPullRequest },
  state: GitHubState,
  urls: Urls,
): Json {
  const p = issue.pull;
  const r = state.repo(issue.owner, issue.repo) as SimRepo;
  const api = `${urls.api}/repos/${r.owner}/${r.name}`;
  const web = `${urls.html}/${r.owner}/${r.name}/pull/${issue.number}`;
  const comments = state.comments.filter(
    (c) => c.owner === issue.owner && c.repo === issue.repo && c.issueNumber === issue.number,
  ).length;
  const link = (href: string) => ({ href });
  return {
    url: `${api}/pulls/${issue.number}`,
    id: p.id,
    node_id: nodeId('PullRequest', p.id),
    html_url: web,
    diff_url: `${web}.diff`,
    patch_url: `${web}.patch`,
    issue_url: `${api}/issues/${issue.number}`,
    number: issue.number,
    state: issue.state,
    locked: issue.locked,
    title: issue.title,
    user: simpleUser(state.user(issue.user), urls),
    body: issue.body,
    created_at: issue.createdAt,
    updated_at: issue.updatedAt,
    closed_at: issue.closedAt,
    merged_at: p.mergedAt,
    merge_commit_sha: p.mergeCommitSha,
    assignee: null,
    assignees: [],
    requested_reviewers: [],
    requested_teams: [],
    labels: issue.labels.map((l) => label(l, r, urls)),
    milestone: null,
    draft: p.draft,
    commits_url: `${api}/pulls/${issue.number}/commits`,
    review_comments_url: `${api}/pulls/${issue.number}/comments`,
    review_comment_url: `${api}/pulls/comments{/number}`,
    comments_url: `${api}/issues/${issue.number}/comments`,
    statuses_url: `${api}/statuses/${p.headSha}`,
    head: branchEnd(p.headRepo, p.headRef, p.headSha, state, urls),
    base: branchEnd(`${r.owner}/${r.name}`, p.baseRef, p.baseSha, state, urls),
    _links: {
      self: link(`${api}/pulls/${issue.number}`),
      html: link(web),
      issue: link(`${api}/issues/${issue.number}`),
      comments: link(`${api}/issues/${issue.number}/comments`),
      review_comments: link(`${api}/pulls/${issue.number}/comments`),
      review_comment: link(`${api}/pulls/comments{/number}`),
      commits: link(`${api}/pulls/${issue.number}/commits`),
      statuses: link(`${api}/statuses/${p.headSha}`),
    },
    author_association: association(issue.user, r, state),
    auto_merge: null,
    active_lock_reason: null,
    merged: p.merged,
    mergeable: issue.state === 'open' ? true : null,
    rebaseable: issue.state === 'open' ? true : null,
    mergeable_state: issue.state === 'open' ? 'clean' : 'unknown',
    merged_by: p.mergedBy ? simpleUser(state.user(p.mergedBy), urls) : null,
    comments,
    review_comments: 0,
    maintainer_can_modify: false,
    commits: 1,
    additions: 0,
    deletions: 0,
    changed_files: 0,
  };
}

export function deployment(d: SimDeployment, state: GitHubState, urls: Urls): Json {
  const api = `${urls.api}/repos/${d.owner}/${d.repo}`;
  return {
    url: `${api}/deployments/${d.id}`,
    id: d.id,
    node_id: nodeId('Deployment', d.id),
    task: d.task,
    original_environment: d.originalEnvironment,
    environment: d.environment,
    description: d.description,
    created_at: d.createdAt,
    updated_at: d.updatedAt,
    statuses_url: `${api}/deployments/${d.id}/statuses`,
    repository_url: api,
    creator: simpleUser(state.user(d.creator), urls),
    sha: d.sha,
    ref: d.ref,
    payload: d.payload,
    transient_environment: d.transientEnvironment,
    production_environment: d.productionEnvironment,
    performed_via_github_app: null,
  };
}

export function deploymentStatus(
  s: SimDeploymentStatus,
  d: SimDeployment,
  state: GitHubState,
  urls: Urls,
): Json {
  const api = `${urls.api}/repos/${d.owner}/${d.repo}`;
  return {
    url: `${api}/deployments/${d.id}/statuses/${s.id}`,
    id: s.id,
    node_id: nodeId('DeploymentStatus', s.id),
    state: s.state,
    creator: simpleUser(state.user(s.creator), urls),
    description: s.description,
    environment: s.environment,
    target_url: s.targetUrl,
    created_at: s.createdAt,
    updated_at: s.updatedAt,
    deployment_url: `${api}/deployments/${d.id}`,
    repository_url: api,
    environment_url: s.environmentUrl,
    log_url: s.logUrl,
    performed_via_github_app: null,
  };
}
