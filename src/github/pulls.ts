import type { GitHubApi } from './api.js';

/** What the concurrency guard needs to know about a PR now, as opposed to when its event fired. */
export interface PrState {
  number: number;
  state: 'open' | 'closed';
  merged: boolean;
  headSha: string;
}

/** GET /repos/{owner}/{repo}/pulls/{number}: the PR's current state and head commit. */
export async function getPullRequest(
  api: GitHubApi,
  target: { repository: string; number: number },
): Promise<PrState> {
  const [owner = '', repo = ''] = target.repository.split('/');
  const { data } = await api.rest.pulls.get({ owner, repo, pull_number: target.number });
  return {
    number: data.number,
    state: data.state === 'closed' ? 'closed' : 'open',
    merged: Boolean(data.merged),
    headSha: data.head.sha,
  };
}

/** A reader for one PR, for RunContext.pullRequest; undefined when there is no token or no PR. */
export function pullRequestReader(
  api: GitHubApi | undefined,
  repository: string,
  prNumber: number | undefined,
): (() => Promise<PrState>) | undefined {
  if (!api || !prNumber || !repository.includes('/')) return undefined;
  return () => getPullRequest(api, { repository, number: prNumber });
}
