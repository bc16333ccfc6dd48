import * as core from '@actions/core';
import * as github from '@actions/github';
import { retry } from '@octokit/plugin-retry';
import { throttling } from '@octokit/plugin-throttling';

/** The REST client; `GITHUB_API_URL` (GHES, the tests' simulator) is honoured by getOctokit. */
export type GitHubApi = ReturnType<typeof github.getOctokit>;

/**
 * How the REST client rides out GitHub's bad moments. Everything it posts is best-effort, so a call gives up
 * after some 30 s of waiting at most rather than hold the run: 5xx and dropped connections are retried 3 times,
 * after 0.5, 2 and 4.5 s (`@octokit/plugin-retry`, which waits (n+1)² times the base); rate limits
 * (`@octokit/plugin-throttling`: a secondary limit's 403/429 with retry-after, a primary limit whose reset is
 * near) are waited for at most twice per call, while the waits asked for fit in 15 s. A limit that asks for
 * longer is given up at once, and the caller warns.
 */
export interface GitHubRetryPolicy {
  /** Retries of a 5xx or a dropped connection. */
  retries: number;
  /** The retries wait 1, 4, 9 times this. */
  retryBaseMs: number;
  /** Waits for rate limits per call, at most. */
  rateLimitRetries: number;
  /** Rate-limit waits per call, in total, at most. */
  rateLimitBudgetMs: number;
}

export const GITHUB_RETRY_POLICY: GitHubRetryPolicy = {
  retries: 3,
  retryBaseMs: 500,
  rateLimitRetries: 2,
  rateLimitBudgetMs: 15_000,
};

/**
 * The throttling plugin also spaces writes 1 s apart (3 s for those that notify, such as a new comment), as
 * GitHub advises clients that make many. A run makes fewer than ten, and spacing inside one process does not
 * pace the concurrent jobs whose sum could reach a limit: it would only add seconds to every run. The limits
 * that do come are waited for. This stands in for the Bottleneck groups the plugin spaces requests with, in
 * the one way it uses them (`group.key(id).schedule(options, fn)`).
 */
const UNSPACED = { key: () => ({ schedule: (_options: unknown, fn: () => Promise<unknown>) => fn() }) };

interface LimitedRequest {
  method?: string;
  url?: string;
}

export function gitHubApi(
  token: string,
  opts: { policy?: Partial<GitHubRetryPolicy>; log?: (message: string) => void } = {},
): GitHubApi {
  const policy = { ...GITHUB_RETRY_POLICY, ...opts.policy };
  const log = opts.log ?? ((m: string) => core.info(m));
  // Per call (the request options stay the same object through every retry of one call): seconds waited.
  const waited = new WeakMap<object, number>();
  const onLimit =
    (kind: string) =>
    (retryAfter: number, options: LimitedRequest, _octokit: unknown, retryCount: number): boolean => {
      const what = `${options.method ?? ''} ${options.url ?? ''}`.trim();
      const spent = waited.get(options) ?? 0;
      const ms = retryAfter * 1000;
      if (retryCount < policy.rateLimitRetries && spent + ms <= policy.rateLimitBudgetMs) {
        waited.set(options, spent + ms);
        log(`GitHub's ${kind} on ${what}: retrying in ${retryAfter} s.`);
        return true;
      }
      log(`GitHub's ${kind} on ${what} asks to wait ${retryAfter} s: not waiting for it.`);
      return false;
    };
  // @actions/github reads GITHUB_API_URL once, at import; reading it here honours a value set later.
  return github.getOctokit(
    token,
    {
      baseUrl: process.env.GITHUB_API_URL || 'https://api.github.com',
      retry: {
        retries: policy.retries,
        retryAfterBaseValue: policy.retryBaseMs,
        // Rate limits (403, 429) are the throttling plugin's; the rest of 4xx does not change on a retry.
        doNotRetry: [400, 401, 403, 404, 410, 422, 429, 451],
      },
      throttle: {
        write: UNSPACED as never,
        notifications: UNSPACED as never,
        onSecondaryRateLimit: onLimit('secondary rate limit'),
        onRateLimit: onLimit('rate limit'),
      },
    },
    retry,
    throttling,
  );
}

interface RequestErrorLike {
  status?: number;
  message?: string;
  response?: { headers?: Record<string, string | undefined> };
}

/**
 * What a failed call needs from the user, in words. GitHub answers a token without the permission with 403
 * "Resource not accessible by integration" (404 for a private repository the token cannot see).
 */
export function describeGitHubError(err: unknown, permission: string): string {
  const e = err as RequestErrorLike;
  const message = e?.message ?? String(err);
  if (e?.status === 403 && /not accessible by integration/i.test(message)) {
    return `the token lacks the "${permission}" permission (add \`permissions: ${permission}\` to the job)`;
  }
  if (e?.status === 403 || e?.status === 429) {
    const remaining = e.response?.headers?.['x-ratelimit-remaining'];
    if (remaining === '0' || e.status === 429 || /rate limit/i.test(message)) {
      return `GitHub's API rate limit was hit (${message})`;
    }
  }
  if (e?.status === 401) return 'the token is not valid (input github-token)';
  return e?.status ? `GitHub answered ${e.status}: ${message}` : message;
}
