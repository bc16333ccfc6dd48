/**
 * The operations the simulator emulates, by operationId of GitHub's description. Each names the permission
 * sets that allow it (any one suffices, as `x-accepted-github-permissions` lists them) and produces the answer;
 * the server has already authenticated, counted the rate limit, matched the route and checked the request.
 */
import type { Operation } from './openapi.js';
import {
  deployment,
  deploymentStatus,
  issueComment,
  type Json,
  privateUser,
  pullRequest,
  type Urls,
} from './render.js';
import type {
  DeploymentState,
  GitHubState,
  PermissionName,
  SimComment,
  SimDeployment,
  SimIssue,
  SimRepo,
  SimToken,
  SimUser,
} from './state.js';

export interface Ctx {
  state: GitHubState;
  urls: Urls;
  op: Operation;
  /** Path and query parameters, typed. */
  params: Record<string, unknown>;
  /** The request body; `{}` when there was none. */
  body: Json;
  token: SimToken;
  user: SimUser;
  /** The repository of a `/repos/{owner}/{repo}/...` route, resolved and visible to the token. */
  repo: SimRepo;
  /** The request's URL, for Link headers. */
  url: URL;
}

export interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

/** An error answer: GitHub's `{message, documentation_url, status}`, plus `errors` for Validation Failed. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly errors?: Json[],
  ) {
    super(message);
  }
}

export type Need = [PermissionName, 'read' | 'write'];

export interface Handler {
  /** Whether the route lives under /repos/{owner}/{repo} (resolved before permissions). */
  repoScoped: boolean;
  /** Alternative permission sets; evaluated after the repository is resolved. Absent: none needed. */
  permissions?: (ctx: Ctx) => Need[][];
  /** Writes count against the secondary (content creation) limit. */
  createsContent?: boolean;
  run(ctx: Ctx): Reply;
}

const notFound = () => new ApiError(404, 'Not Found');

function int(v: unknown): number {
  return typeof v === 'number' ? v : Number(v);
}

function issueOf(ctx: Ctx): SimIssue | undefined {
  return ctx.state.issue(ctx.repo.owner, ctx.repo.name, int(ctx.params.issue_number));
}

function commentOf(ctx: Ctx): SimComment | undefined {
  return ctx.state.comment(ctx.repo.owner, ctx.repo.name, int(ctx.params.comment_id));
}

/** A route on the comment `comment_id` (404 when there is none); a write counts against the content limit. */
function onComment(level: 'read' | 'write', run: (ctx: Ctx, c: SimComment) => Reply): Handler {
  return {
    repoScoped: true,
    ...(level === 'write' ? { createsContent: true } : {}),
    permissions: commentNeeds(level),
    run(ctx) {
      const c = commentOf(ctx);
      if (!c) throw notFound();
      return run(ctx, c);
    },
  };
}

/**
 * Comments on a pull request are allowed by either `issues` or `pull-requests`, as GitHub documents for the
 * issue comment endpoints; on a plain issue only by `issues`.
 */
function issueNeeds(issue: SimIssue | undefined, level: 'read' | 'write'): Need[][] {
  return issue?.pull ? [[['issues', level]], [['pull-requests', level]]] : [[['issues', level]]];
}

function commentNeeds(level: 'read' | 'write') {
  return (ctx: Ctx): Need[][] => {
    const c = commentOf(ctx);
    return issueNeeds(c ? ctx.state.issue(c.owner, c.repo, c.issueNumber) : undefined, level);
  };
}

/**
 * Issue comment bodies: GitHub refuses a blank one, and one over 262,144 bytes of UTF-8 with a message that
 * says 65536 characters (observed on github.com: 65,536 four-byte emoji pass, one more byte does not).
 */
function checkCommentBody(body: unknown): string {
  const text = String(body ?? '');
  const invalid = (message: string) =>
    new ApiError(422, 'Validation Failed', [
      { resource: 'IssueComment', code: 'unprocessable', field: 'data', message },
    ]);
  if (text.trim() === '') throw invalid('Body cannot be blank');
  if (Buffer.byteLength(text, 'utf8') > 262_144)
    throw invalid('Body is too long (maximum is 65536 characters)');
  return text;
}

/** One page of a list, with GitHub's Link header (per_page default 30, at most 100). */
export function page<T>(ctx: Ctx, items: T[], render: (t: T) => unknown): Reply {
  const requested = int(ctx.params.per_page ?? 30);
  const perPage = Number.isFinite(requested) && requested >= 1 ? Math.min(100, Math.floor(requested)) : 30;
  const requestedPage = int(ctx.params.page ?? 1);
  const n = Number.isFinite(requestedPage) && requestedPage >= 1 ? Math.floor(requestedPage) : 1;
  const last = Math.max(1, Math.ceil(items.length / perPage));
  const body = items.slice((n - 1) * perPage, n * perPage).map(render);
  const headers: Record<string, string> = {};
  if (items.length > perPage || n > 1) {
    // GitHub's links name the repository by id: /repositories/<id>/..., whatever path the request used.
    const path = ctx.url.pathname.replace(/^\/repos\/[^/]+\/[^/]+/, `/repositories/${ctx.repo.id}`);
    const href = (p: number) => {
      const q = new URLSearchParams(ctx.url.search);
      q.set('page', String(p));
      return `<${ctx.urls.api}${path}?${q.toString()}>`;
    };
    const rels: string[] = [];
    if (n > 1) rels.push(`${href(Math.min(n - 1, last))}; rel="prev"`);
    if (n < last) rels.push(`${href(n + 1)}; rel="next"`, `${href(last)}; rel="last"`);
    if (n > 1) rels.push(`${href(1)}; rel="first"`);
    headers.link = rels.join(', ');
  }
  return { status: 200, body, headers };
}

function created(body: Json): Reply {
  return { status: 201, body, headers: { location: String(body.url) } };
}

function autoInactivate(ctx: Ctx, d: SimDeployment): void {
  // Documented: "Adds a new inactive status to all prior non-transient, non-production environment
  // deployments with the same repository and environment name ... only added to deployments that had a
  // success state." Transient deployments keep their status: they are left alone.
  for (const prior of ctx.state.deployments) {
    if (prior.id >= d.id || prior.owner !== d.owner || prior.repo !== d.repo) continue;
    if (prior.environment !== d.environment || prior.transientEnvironment || prior.productionEnvironment)
      continue;
    if (prior.statuses.at(-1)?.state !== 'success') continue;
    addStatus(ctx, prior, { state: 'inactive', automatic: true });
  }
}

function addStatus(
  ctx: Ctx,
  d: SimDeployment,
  o: {
    state: DeploymentState;
    description?: string;
    environment?: string;
    environmentUrl?: string;
    logUrl?: string;
    automatic?: boolean;
  },
) {
  const now = ctx.state.timestamp();
  if (o.environment && o.environment !== d.environment) {
    d.environment = o.environment;
    ctx.state.environment(d.owner, d.repo, o.environment);
  }
  const previous = d.statuses.at(-1);
  const s = {
    id: ctx.state.nextId('status'),
    deploymentId: d.id,
    state: o.state,
    description: o.description ?? '',
    environment: o.environment ?? previous?.environment ?? d.environment,
    environmentUrl: o.environmentUrl ?? '',
    logUrl: o.logUrl ?? '',
    targetUrl: o.logUrl ?? '',
    creator: ctx.user.login,
    createdAt: now,
    updatedAt: now,
    automatic: o.automatic ?? false,
  };
  d.statuses.push(s);
  d.updatedAt = now;
  return s;
}

function deploymentOf(ctx: Ctx): SimDeployment {
  const d = ctx.state.deployment(ctx.repo.owner, ctx.repo.name, int(ctx.params.deployment_id));
  if (!d) throw notFound();
  return d;
}

const deploymentsRead = (): Need[][] => [[['deployments', 'read']]];
const deploymentsWrite = (): Need[][] => [[['deployments', 'write']]];

export const handlers: Record<string, Handler> = {
  'users/get-authenticated': {
    repoScoped: false,
    run(ctx) {
      // An installation token is not a user: GitHub refuses it on this endpoint whatever its permissions.
      if (ctx.token.kind === 'installation')
        throw new ApiError(403, 'Resource not accessible by integration');
      return { status: 200, body: privateUser(ctx.user, ctx.urls) };
    },
  },

  'issues/list-comments': {
    repoScoped: true,
    permissions: (ctx) => issueNeeds(issueOf(ctx), 'read'),
    run(ctx) {
      const issue = issueOf(ctx);
      if (!issue) throw notFound();
      const since = typeof ctx.params.since === 'string' ? Date.parse(ctx.params.since) : Number.NaN;
      const list = ctx.state.comments
        .filter((c) => c.owner === issue.owner && c.repo === issue.repo && c.issueNumber === issue.number)
        .filter((c) => Number.isNaN(since) || Date.parse(c.updatedAt) >= since)
        .sort((a, b) => a.id - b.id);
      return page(ctx, list, (c) => issueComment(c, ctx.state, ctx.urls));
    },
  },

  'issues/create-comment': {
    repoScoped: true,
    createsContent: true,
    permissions: (ctx) => issueNeeds(issueOf(ctx), 'write'),
    run(ctx) {
      const issue = issueOf(ctx);
      if (!issue) throw notFound();
      const body = checkCommentBody(ctx.body.body);
      const c = ctx.state.addComment({
        owner: issue.owner,
        repo: issue.repo,
        issueNumber: issue.number,
        body,
        user: ctx.user.login,
      });
      return created(issueComment(c, ctx.state, ctx.urls));
    },
  },

  'issues/get-comment': onComment('read', (ctx, c) => ({
    status: 200,
    body: issueComment(c, ctx.state, ctx.urls),
  })),

  'issues/update-comment': onComment('write', (ctx, c) => {
    c.body = checkCommentBody(ctx.body.body);
    c.updatedAt = ctx.state.timestamp();
    return { status: 200, body: issueComment(c, ctx.state, ctx.urls) };
  }),

  'issues/delete-comment': onComment('write', (ctx, c) => {
    ctx.state.comments.splice(ctx.state.comments.indexOf(c), 1);
    return { status: 204 };
  }),

  'pulls/get': {
    repoScoped: true,
    permissions: () => [[['pull-requests', 'read']]],
    run(ctx) {
      const issue = ctx.state.issue(ctx.repo.owner, ctx.repo.name, int(ctx.params.pull_number));
      if (!issue?.pull) throw notFound();
      return {
        status: 200,
        body: pullRequest(issue as SimIssue & { pull: NonNullable<SimIssue['pull']> }, ctx.state, ctx.urls),
      };
    },
  },

  'repos/create-deployment': {
    repoScoped: true,
    createsContent: true,
    permissions: deploymentsWrite,
    run(ctx) {
      const b = ctx.body;
      const ref = String(b.ref);
      const sha = ctx.state.resolveRef(ctx.repo, ref);
      if (!sha) throw new ApiError(422, `No ref found for: ${ref}`);
      const environment = typeof b.environment === 'string' ? b.environment : 'production';
      let payload: Json | string = {};
      if (typeof b.payload === 'string') {
        // A JSON text payload is stored as the object it encodes; anything else stays the string it was.
        try {
          const parsed: unknown = JSON.parse(b.payload);
          payload =
            parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Json) : b.payload;
        } catch {
          payload = b.payload === '' ? {} : b.payload;
        }
      } else if (b.payload && typeof b.payload === 'object') payload = b.payload as Json;
      const now = ctx.state.timestamp();
      const d: SimDeployment = {
        id: ctx.state.nextId('deployment'),
        owner: ctx.repo.owner,
        repo: ctx.repo.name,
        sha,
        ref,
        task: typeof b.task === 'string' ? b.task : 'deploy',
        payload,
        environment,
        originalEnvironment: environment,
        description: b.description === null ? null : typeof b.description === 'string' ? b.description : '',
        creator: ctx.user.login,
        transientEnvironment: b.transient_environment === true,
        productionEnvironment:
          typeof b.production_environment === 'boolean'
            ? b.production_environment
            : environment === 'production',
        createdAt: now,
        updatedAt: now,
        statuses: [],
      };
      ctx.state.deployments.push(d);
      ctx.state.environment(d.owner, d.repo, environment);
      return created(deployment(d, ctx.state, ctx.urls));
    },
  },

  'repos/list-deployments': {
    repoScoped: true,
    permissions: deploymentsRead,
    run(ctx) {
      const q = ctx.params;
      const list = ctx.state.deployments
        .filter((d) => d.owner === ctx.repo.owner && d.repo === ctx.repo.name)
        .filter((d) => q.sha === undefined || d.sha === q.sha)
        .filter((d) => q.ref === undefined || d.ref === q.ref)
        .filter((d) => q.task === undefined || d.task === q.task)
        .filter((d) => q.environment === undefined || d.environment === q.environment)
        .sort((a, b) => b.id - a.id);
      return page(ctx, list, (d) => deployment(d, ctx.state, ctx.urls));
    },
  },

  'repos/get-deployment': {
    repoScoped: true,
    permissions: deploymentsRead,
    run(ctx) {
      return { status: 200, body: deployment(deploymentOf(ctx), ctx.state, ctx.urls) };
    },
  },

  'repos/create-deployment-status': {
    repoScoped: true,
    createsContent: true,
    permissions: deploymentsWrite,
    run(ctx) {
      const d = deploymentOf(ctx);
      const b = ctx.body;
      const description = typeof b.description === 'string' ? b.description : undefined;
      if (description !== undefined && [...description].length > 140) {
        // Worded as GitHub's commit status API refuses an over-long description.
        throw new ApiError(422, 'Validation Failed', [
          {
            resource: 'DeploymentStatus',
            code: 'custom',
            field: 'description',
            message: 'description is too long (maximum is 140 characters)',
          },
        ]);
      }
      const logUrl =
        typeof b.log_url === 'string'
          ? b.log_url
          : typeof b.target_url === 'string'
            ? b.target_url
            : undefined;
      const s = addStatus(ctx, d, {
        state: b.state as DeploymentState,
        ...(description !== undefined ? { description } : {}),
        ...(typeof b.environment === 'string' ? { environment: b.environment } : {}),
        ...(typeof b.environment_url === 'string' ? { environmentUrl: b.environment_url } : {}),
        ...(logUrl !== undefined ? { logUrl } : {}),
      });
      if (s.state === 'success' && b.auto_inactive !== false) autoInactivate(ctx, d);
      return created(deploymentStatus(s, d, ctx.state, ctx.urls));
    },
  },

  'repos/list-deployment-statuses': {
    repoScoped: true,
    permissions: deploymentsRead,
    run(ctx) {
      const d = deploymentOf(ctx);
      const list = [...d.statuses].sort((a, b) => b.id - a.id);
      return page(ctx, list, (s) => deploymentStatus(s, d, ctx.state, ctx.urls));
    },
  },

  'repos/get-deployment-status': {
    repoScoped: true,
    permissions: deploymentsRead,
    run(ctx) {
      const d = deploymentOf(ctx);
      const s = d.statuses.find((x) => x.id === int(ctx.params.status_id));
      if (!s) throw notFound();
      return { status: 200, body: deploymentStatus(s, d, ctx.state, ctx.urls) };
    },
  },
};
