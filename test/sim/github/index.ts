/**
 * The GitHub REST API simulator: an HTTP server on 127.0.0.1 that answers the routes the action uses the way
 * api.github.com does (shapes, headers, pagination, permissions, rate limits, error wording), checks every
 * request and every answer against GitHub's published OpenAPI description, and records mismatches in
 * `violations`. Point `@actions/github`'s getOctokit at it with `{ baseUrl: sim.url }` or `GITHUB_API_URL`.
 */
import { type AuditEntry, Faults } from './faults.js';
import { OpenApi } from './openapi.js';
import { RateLimits, type RateWindow, type SecondaryLimits } from './ratelimit.js';
import { deployment, deploymentStatus, issueComment, type Json, type Urls } from './render.js';
import { GitHubServer, type Violation } from './server.js';
import {
  type CommentSeed,
  GitHubState,
  type IssueSeed,
  type PullRequestSeed,
  type RepositorySeed,
  type SimComment,
  type SimIssue,
  type SimPullRequest,
  type SimRepo,
  type SimToken,
  type TokenOptions,
} from './state.js';

export type { AuditEntry, FaultAction, FaultMatch, FaultRule } from './faults.js';
export { countRequests, Faults, writes } from './faults.js';
export type { RateWindow, SecondaryLimits } from './ratelimit.js';
export type { Json } from './render.js';
export type { Violation } from './server.js';
export type {
  CommentSeed,
  DeploymentState,
  IssueSeed,
  PermissionLevel,
  PermissionName,
  PullRequestSeed,
  RepositorySeed,
  SimComment,
  SimDeployment,
  SimDeploymentStatus,
  SimEnvironment,
  SimIssue,
  SimPullRequest,
  SimRepo,
  SimToken,
  SimUser,
  TokenOptions,
  TokenPermissions,
} from './state.js';
export { GitHubState, randomSha } from './state.js';

export interface GitHubSimOptions {
  /** Default 0 (ephemeral). */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Seed of the fault-injection PRNG. */
  seed?: number;
  /** Clock for timestamps and rate-limit windows. */
  now?: () => Date;
  /** Base of web URLs (`html_url`). Default https://github.com. */
  htmlUrl?: string;
  /** The secondary limit on content creation; `false` turns it off. Default 80 per minute, 500 per hour. */
  secondaryRateLimit?: Partial<SecondaryLimits> | false;
}

export interface GitHubSim {
  /** http://127.0.0.1:<port>: the API base URL (GITHUB_API_URL). */
  url: string;
  /** Direct access for tests: seed and inspect records. Writes here skip HTTP, auth and validation. */
  state: GitHubState;
  faults: Faults;
  /** Every request, in arrival order. */
  audit: AuditEntry[];
  /** Requests and answers that do not match GitHub's description: a test asserts `toEqual([])`. */
  violations: Violation[];
  addToken(token: string, opts: TokenOptions): SimToken;
  /** The GITHUB_TOKEN of a workflow job: github-actions[bot]'s installation token, with the job's `permissions:`. */
  addJobToken(token: string, opts?: Omit<TokenOptions, 'login' | 'kind'>): SimToken;
  addRepository(seed: RepositorySeed): SimRepo;
  /** Creates or updates a pull request (also its repositories and head branch). */
  addPullRequest(seed: PullRequestSeed): SimIssue & { pull: SimPullRequest };
  addIssue(seed: IssueSeed): SimIssue;
  /** Seeds a comment as `user` wrote it (no token needed). */
  addComment(seed: CommentSeed): SimComment;
  /** The comments of an issue or pull request as GET .../comments returns them, oldest first. */
  comments(owner: string, repo: string, issueNumber: number): Json[];
  /** Deployments as GET .../deployments returns them (newest first), each with its statuses (newest first). */
  deployments(
    owner: string,
    repo: string,
    filter?: { environment?: string },
  ): Array<Json & { statuses: Json[] }>;
  /** The token's current primary rate-limit window (mutable: set `used` to bring the limit close). */
  rateLimit(token: string): RateWindow;
  /** Closes the server and its sockets; the process can exit afterwards. */
  close(): Promise<void>;
}

export async function startGitHubSim(opts: GitHubSimOptions = {}): Promise<GitHubSim> {
  const now = opts.now ?? (() => new Date());
  const state = new GitHubState(now);
  const openapi = OpenApi.get();
  const faults = new Faults(opts.seed ?? 1);
  const limits = new RateLimits(
    () => now().getTime(),
    opts.secondaryRateLimit === false
      ? false
      : { perMinute: 80, perHour: 500, ...(opts.secondaryRateLimit ?? {}) },
  );
  const audit: AuditEntry[] = [];
  const violations: Violation[] = [];
  const urls: Urls = { api: '', html: (opts.htmlUrl ?? 'https://github.com').replace(/\/$/, '') };
  const server = new GitHubServer({ state, openapi, faults, limits, audit, violations, urls });
  const host = opts.host ?? '127.0.0.1';
  const port = await server.listen(opts.port ?? 0, host);
  const urlHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  urls.api = `http://${urlHost}:${port}`;

  let closing: Promise<void> | undefined;
  return {
    url: urls.api,
    state,
    faults,
    audit,
    violations,
    addToken: (token, o) => state.addToken(token, o),
    addJobToken: (token, o) =>
      state.addToken(token, { login: 'github-actions[bot]', kind: 'installation', ...o }),
    addRepository: (seed) => state.addRepository(seed),
    addPullRequest: (seed) => state.addPullRequest(seed),
    addIssue: (seed) => state.addIssue(seed),
    addComment: (seed) => state.addComment(seed),
    comments: (owner, repo, issueNumber) =>
      state.comments
        .filter(
          (c) =>
            c.owner.toLowerCase() === owner.toLowerCase() &&
            c.repo.toLowerCase() === repo.toLowerCase() &&
            c.issueNumber === issueNumber,
        )
        .sort((a, b) => a.id - b.id)
        .map((c) => issueComment(c, state, urls)),
    deployments: (owner, repo, filter = {}) =>
      state.deployments
        .filter(
          (d) =>
            d.owner.toLowerCase() === owner.toLowerCase() &&
            d.repo.toLowerCase() === repo.toLowerCase() &&
            (filter.environment === undefined || d.environment === filter.environment),
        )
        .sort((a, b) => b.id - a.id)
        .map((d) => ({
          ...deployment(d, state, urls),
          statuses: [...d.statuses].reverse().map((s) => deploymentStatus(s, d, state, urls)),
        })),
    rateLimit: (token) => {
      const t = state.tokens.get(token);
      if (!t) throw new Error('unknown token');
      return limits.window(t.token, t.rateLimit);
    },
    close: () => {
      closing ??= server.close();
      return closing;
    },
  };
}
