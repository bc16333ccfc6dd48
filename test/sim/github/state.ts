/**
 * What the GitHub simulator knows: users, tokens, repositories with their branches and commits, pull requests,
 * issues, issue comments, deployments with their statuses, and the environments deployments create. Plain
 * records, so a test can seed and inspect them; the server renders them into GitHub's response shapes.
 */
import { randomBytes } from 'node:crypto';

export type PermissionLevel = 'read' | 'write' | 'none';

/** Repository permissions, named as in a workflow's `permissions:` block. */
export type PermissionName =
  | 'actions'
  | 'checks'
  | 'contents'
  | 'deployments'
  | 'environments'
  | 'issues'
  | 'metadata'
  | 'pull-requests'
  | 'statuses';

export type TokenPermissions = Partial<Record<PermissionName, PermissionLevel>>;

export interface TokenOptions {
  login: string;
  /** Default: `Bot` for an installation token, `User` otherwise. */
  type?: 'User' | 'Bot';
  /**
   * `installation`: a GitHub App installation token such as the Actions `GITHUB_TOKEN` (403 on GET /user,
   * "not accessible by integration"); `user`: a personal access token. Default `user`.
   */
  kind?: 'installation' | 'user';
  /** Absent: everything (a classic PAT, or a permissive GITHUB_TOKEN). `metadata: read` is always granted. */
  permissions?: TokenPermissions;
  /** `owner/name` the token may see; absent: every repository. Others answer 404, as GitHub hides them. */
  repositories?: string[];
  /** Requests per hour. Default 1000 for `github-actions[bot]` (GITHUB_TOKEN's documented limit), else 5000. */
  rateLimit?: number;
}

export interface SimUser {
  id: number;
  login: string;
  type: 'User' | 'Bot' | 'Organization';
  name: string | null;
  createdAt: string;
}

export interface SimToken {
  token: string;
  login: string;
  kind: 'installation' | 'user';
  permissions?: TokenPermissions;
  repositories?: string[];
  rateLimit: number;
  /** Installation id in rate-limit messages ("API rate limit exceeded for installation ID ..."). */
  installationId: number;
}

export interface SimRepo {
  id: number;
  owner: string;
  name: string;
  private: boolean;
  defaultBranch: string;
  /** Branch name → head SHA. */
  branches: Map<string, string>;
  /** Tag name → SHA. */
  tags: Map<string, string>;
  /** Every commit SHA the repository knows (deployable refs). */
  shas: Set<string>;
  /** `owner/name` of the repository this is a fork of. */
  forkOf?: string;
  createdAt: string;
  pushedAt: string;
}

export interface SimIssue {
  owner: string;
  repo: string;
  number: number;
  id: number;
  title: string;
  body: string | null;
  user: string;
  state: 'open' | 'closed';
  labels: string[];
  locked: boolean;
  createdAt: string;
  updatedAt: string;
  closedAt: string | null;
  /** Set when the issue is a pull request. */
  pull?: SimPullRequest;
}

export interface SimPullRequest {
  id: number;
  headRef: string;
  headSha: string;
  /** `owner/name`; differs from the base repository for a fork's pull request. */
  headRepo: string;
  baseRef: string;
  baseSha: string;
  draft: boolean;
  merged: boolean;
  mergedAt: string | null;
  mergedBy: string | null;
  mergeCommitSha: string | null;
}

export interface RepositorySeed {
  owner: string;
  repo: string;
  /** Default true: reads need the token's permission (public repositories answer reads without one). */
  private?: boolean;
  /** Default `main`. */
  defaultBranch?: string;
  /** Branch → SHA; the default branch gets a random SHA unless given. */
  branches?: Record<string, string>;
  tags?: Record<string, string>;
  ownerType?: 'User' | 'Organization';
}

export interface IssueSeed {
  owner: string;
  repo: string;
  number?: number;
  title?: string;
  body?: string | null;
  user?: string;
  state?: 'open' | 'closed';
  labels?: string[];
}

export interface CommentSeed {
  owner: string;
  repo: string;
  issueNumber: number;
  body: string;
  user: string;
}

export interface PullRequestSeed {
  owner: string;
  repo: string;
  number: number;
  headSha?: string;
  /** Default `pr-<number>`. */
  headRef?: string;
  /** `owner/name` of a fork the branch lives in. */
  headRepo?: string;
  /** Default: the repository's default branch. */
  baseRef?: string;
  baseSha?: string;
  state?: 'open' | 'closed';
  merged?: boolean;
  draft?: boolean;
  labels?: string[];
  title?: string;
  body?: string | null;
  /** Author login. Default `octocat`. */
  user?: string;
}

export interface SimComment {
  id: number;
  owner: string;
  repo: string;
  issueNumber: number;
  body: string;
  user: string;
  createdAt: string;
  updatedAt: string;
}

export type DeploymentState =
  | 'error'
  | 'failure'
  | 'inactive'
  | 'in_progress'
  | 'queued'
  | 'pending'
  | 'success';

export interface SimDeploymentStatus {
  id: number;
  deploymentId: number;
  state: DeploymentState;
  description: string;
  environment: string;
  environmentUrl: string;
  logUrl: string;
  targetUrl: string;
  creator: string;
  createdAt: string;
  updatedAt: string;
  /** Added by GitHub's auto_inactive rule, not by a request. */
  automatic: boolean;
}

export interface SimDeployment {
  id: number;
  owner: string;
  repo: string;
  sha: string;
  ref: string;
  task: string;
  payload: Record<string, unknown> | string;
  environment: string;
  originalEnvironment: string;
  description: string | null;
  creator: string;
  transientEnvironment: boolean;
  productionEnvironment: boolean;
  createdAt: string;
  updatedAt: string;
  /** Oldest first. */
  statuses: SimDeploymentStatus[];
}

export interface SimEnvironment {
  id: number;
  owner: string;
  repo: string;
  name: string;
  createdAt: string;
  updatedAt: string;
}

/** A GitHub-looking 40-hex SHA. */
export function randomSha(): string {
  return randomBytes(20).toString('hex');
}

/** Second precision, as GitHub's timestamps. */
export function isoSeconds(d: Date): string {
  return `${d.toISOString().slice(0, 19)}Z`;
}

const lc = (s: string) => s.toLowerCase();

export class GitHubState {
  readonly users = new Map<string, SimUser>();
  readonly tokens = new Map<string, SimToken>();
  readonly repos = new Map<string, SimRepo>();
  /** Keyed `owner/repo#number` (lower-cased repository). */
  readonly issues = new Map<string, SimIssue>();
  readonly comments: SimComment[] = [];
  readonly deployments: SimDeployment[] = [];
  readonly environments: SimEnvironment[] = [];
  // Large starting ids, as on github.com today: clients that squeeze ids into 32 bits break here too.
  private ids = {
    user: 100_000,
    repo: 700_000_000,
    issue: 2_400_000_000,
    pull: 1_900_000_000,
    comment: 2_600_000_000,
    deployment: 2_200_000_000,
    status: 21_000_000_000,
    environment: 5_100_000_000,
    installation: 50_000_000,
  };

  constructor(readonly now: () => Date) {}

  timestamp(): string {
    return isoSeconds(this.now());
  }

  nextId(kind: keyof GitHubState['ids']): number {
    this.ids[kind] += 1;
    return this.ids[kind];
  }

  user(login: string, type?: SimUser['type']): SimUser {
    let u = this.users.get(lc(login));
    if (!u) {
      // github-actions[bot]'s real id, so fixtures that compare it keep working.
      const id = login === 'github-actions[bot]' ? 41898282 : this.nextId('user');
      u = {
        id,
        login,
        type: type ?? (login.endsWith('[bot]') ? 'Bot' : 'User'),
        name: null,
        createdAt: '2020-01-01T00:00:00Z',
      };
      this.users.set(lc(login), u);
    } else if (type) u.type = type;
    return u;
  }

  addToken(token: string, o: TokenOptions): SimToken {
    const kind = o.kind ?? 'user';
    this.user(o.login, o.type ?? (kind === 'installation' ? 'Bot' : 'User'));
    const t: SimToken = {
      token,
      login: o.login,
      kind,
      rateLimit: o.rateLimit ?? (o.login === 'github-actions[bot]' ? 1000 : 5000),
      installationId: this.nextId('installation'),
      ...(o.permissions ? { permissions: { ...o.permissions } } : {}),
      ...(o.repositories ? { repositories: o.repositories.map(lc) } : {}),
    };
    this.tokens.set(token, t);
    return t;
  }

  repo(owner: string, name: string): SimRepo | undefined {
    return this.repos.get(lc(`${owner}/${name}`));
  }

  addRepository(o: RepositorySeed & Pick<SimRepo, 'forkOf'>): SimRepo {
    this.user(o.owner, o.ownerType);
    const existing = this.repo(o.owner, o.repo);
    const r: SimRepo = existing ?? {
      id: this.nextId('repo'),
      owner: o.owner,
      name: o.repo,
      private: o.private ?? true,
      defaultBranch: o.defaultBranch ?? 'main',
      branches: new Map(),
      tags: new Map(),
      shas: new Set(),
      createdAt: this.timestamp(),
      pushedAt: this.timestamp(),
    };
    if (existing) {
      if (o.private !== undefined) r.private = o.private;
      if (o.defaultBranch) r.defaultBranch = o.defaultBranch;
    }
    if (o.forkOf) r.forkOf = o.forkOf;
    for (const [b, sha] of Object.entries(o.branches ?? {})) this.push(r, b, sha);
    for (const [t, sha] of Object.entries(o.tags ?? {})) {
      r.tags.set(t, sha);
      r.shas.add(sha);
    }
    if (!r.branches.has(r.defaultBranch)) this.push(r, r.defaultBranch, randomSha());
    this.repos.set(lc(`${r.owner}/${r.name}`), r);
    return r;
  }

  /** Moves a branch to a commit (a push). */
  push(r: SimRepo, branch: string, sha: string): void {
    r.branches.set(branch, sha);
    r.shas.add(sha);
    r.pushedAt = this.timestamp();
  }

  /**
   * The SHA a deployment `ref` names: a branch, a tag, a full SHA or an unambiguous prefix of at least 7
   * characters. Undefined: GitHub's `No ref found for: <ref>`.
   */
  resolveRef(r: SimRepo, ref: string): string | undefined {
    const name = ref.replace(/^refs\/(heads|tags)\//, '');
    const branch = r.branches.get(name) ?? r.tags.get(name);
    if (branch) return branch;
    const lower = ref.toLowerCase();
    if (/^[0-9a-f]{40}$/.test(lower)) return r.shas.has(lower) ? lower : undefined;
    if (/^[0-9a-f]{7,39}$/.test(lower)) {
      const hits = [...r.shas].filter((s) => s.startsWith(lower));
      return hits.length === 1 ? hits[0] : undefined;
    }
    return undefined;
  }

  issue(owner: string, repo: string, number: number): SimIssue | undefined {
    return this.issues.get(`${lc(`${owner}/${repo}`)}#${number}`);
  }

  nextIssueNumber(owner: string, repo: string): number {
    const prefix = `${lc(`${owner}/${repo}`)}#`;
    let max = 0;
    for (const k of this.issues.keys())
      if (k.startsWith(prefix)) max = Math.max(max, Number(k.slice(prefix.length)));
    return max + 1;
  }

  addIssue(o: IssueSeed): SimIssue {
    const r = this.repo(o.owner, o.repo) ?? this.addRepository({ owner: o.owner, repo: o.repo });
    const number = o.number ?? this.nextIssueNumber(r.owner, r.name);
    const now = this.timestamp();
    const existing = this.issue(r.owner, r.name, number);
    const issue: SimIssue = existing ?? {
      owner: r.owner,
      repo: r.name,
      number,
      id: this.nextId('issue'),
      title: o.title ?? `Issue ${number}`,
      body: null,
      user: o.user ?? 'octocat',
      state: 'open',
      labels: [],
      locked: false,
      createdAt: now,
      updatedAt: now,
      closedAt: null,
    };
    if (o.title !== undefined) issue.title = o.title;
    if (o.body !== undefined) issue.body = o.body;
    if (o.user !== undefined) issue.user = o.user;
    if (o.labels) issue.labels = [...o.labels];
    if (o.state && o.state !== issue.state) {
      issue.state = o.state;
      issue.closedAt = o.state === 'closed' ? now : null;
    }
    this.user(issue.user);
    issue.updatedAt = now;
    this.issues.set(`${lc(`${r.owner}/${r.name}`)}#${number}`, issue);
    return issue;
  }

  /** Creates or updates a pull request; its head branch (in the head repository) points at `headSha`. */
  addPullRequest(o: PullRequestSeed): SimIssue & { pull: SimPullRequest } {
    const base = this.repo(o.owner, o.repo) ?? this.addRepository({ owner: o.owner, repo: o.repo });
    const prev = this.issue(base.owner, base.name, o.number);
    if (prev && !prev.pull)
      throw new Error(`${base.owner}/${base.name}#${o.number} is an issue, not a pull request`);
    const issue = this.addIssue({
      owner: base.owner,
      repo: base.name,
      number: o.number,
      title: o.title ?? (prev ? undefined : `Pull request ${o.number}`),
      body: o.body,
      user: o.user,
      labels: o.labels,
      state: o.state ?? (o.merged ? 'closed' : undefined),
    });
    const headRepoName = o.headRepo ?? prev?.pull?.headRepo ?? `${base.owner}/${base.name}`;
    const [hOwner = base.owner, hName = base.name] = headRepoName.split('/');
    const headRepo =
      this.repo(hOwner, hName) ??
      this.addRepository({
        owner: hOwner,
        repo: hName,
        private: base.private,
        forkOf: `${base.owner}/${base.name}`,
      });
    const pull: SimPullRequest = prev?.pull ?? {
      id: this.nextId('pull'),
      headRef: o.headRef ?? `pr-${o.number}`,
      headSha: '',
      headRepo: `${headRepo.owner}/${headRepo.name}`,
      baseRef: o.baseRef ?? base.defaultBranch,
      baseSha: '',
      draft: false,
      merged: false,
      mergedAt: null,
      mergedBy: null,
      mergeCommitSha: null,
    };
    if (o.headRef) pull.headRef = o.headRef;
    if (o.baseRef) pull.baseRef = o.baseRef;
    if (o.draft !== undefined) pull.draft = o.draft;
    pull.headSha = (o.headSha ?? (pull.headSha || randomSha())).toLowerCase();
    this.push(headRepo, pull.headRef, pull.headSha);
    // The base repository knows a fork's head commit through refs/pull/<n>/head.
    base.shas.add(pull.headSha);
    if (!base.branches.has(pull.baseRef)) this.push(base, pull.baseRef, o.baseSha ?? randomSha());
    pull.baseSha = o.baseSha ?? base.branches.get(pull.baseRef) ?? randomSha();
    base.shas.add(pull.baseSha);
    if (o.merged && !pull.merged) {
      pull.merged = true;
      pull.mergedAt = issue.closedAt ?? this.timestamp();
      pull.mergedBy = base.owner;
      pull.mergeCommitSha = randomSha();
      this.push(base, pull.baseRef, pull.mergeCommitSha);
    } else if (!pull.merged && pull.mergeCommitSha === null) {
      // Open pull requests carry the SHA of GitHub's test merge commit (refs/pull/<n>/merge), deployable too.
      pull.mergeCommitSha = randomSha();
      base.shas.add(pull.mergeCommitSha);
    }
    issue.pull = pull;
    return issue as SimIssue & { pull: SimPullRequest };
  }

  addComment(o: CommentSeed): SimComment {
    const issue = this.issue(o.owner, o.repo, o.issueNumber);
    if (!issue) throw new Error(`no issue or pull request ${o.owner}/${o.repo}#${o.issueNumber}`);
    this.user(o.user);
    const now = this.timestamp();
    const c: SimComment = {
      id: this.nextId('comment'),
      owner: issue.owner,
      repo: issue.repo,
      issueNumber: issue.number,
      body: o.body,
      user: o.user,
      createdAt: now,
      updatedAt: now,
    };
    this.comments.push(c);
    return c;
  }

  comment(owner: string, repo: string, id: number): SimComment | undefined {
    return this.comments.find((c) => c.id === id && lc(`${c.owner}/${c.repo}`) === lc(`${owner}/${repo}`));
  }

  deployment(owner: string, repo: string, id: number): SimDeployment | undefined {
    return this.deployments.find((d) => d.id === id && lc(`${d.owner}/${d.repo}`) === lc(`${owner}/${repo}`));
  }

  /** GitHub creates an environment the first time a deployment names it. */
  environment(owner: string, repo: string, name: string): SimEnvironment {
    let env = this.environments.find(
      (e) =>
        lc(`${e.owner}/${e.repo}`) === lc(`${owner}/${repo}`) && e.name.toLowerCase() === name.toLowerCase(),
    );
    if (!env) {
      const now = this.timestamp();
      env = { id: this.nextId('environment'), owner, repo, name, createdAt: now, updatedAt: now };
      this.environments.push(env);
    }
    return env;
  }
}
