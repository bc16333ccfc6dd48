import * as github from '@actions/github';

/** The REST client; `GITHUB_API_URL` (GHES, the tests' simulator) is honoured by getOctokit. */
export type GitHubApi = ReturnType<typeof github.getOctokit>;

export function gitHubApi(token: string): GitHubApi {
  // @actions/github reads GITHUB_API_URL once, at import; reading it here honours a value set later.
  return github.getOctokit(token, { baseUrl: process.env.GITHUB_API_URL || 'https://api.github.com' });
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
