import type { GitHubApi } from './api.js';
import { commentMarker } from './comment-text.js';

export interface CommentTarget {
  owner: string;
  repo: string;
  issueNumber: number;
  envId: string;
}

interface CommentUser {
  login?: string;
  type?: string;
}

/**
 * Who the token is: a user token's login. The Actions token and app tokens cannot call GET /user (403), and
 * their comments are the app's bot: then only bot comments count as ours.
 */
const identities = new WeakMap<GitHubApi, Promise<string | undefined>>();

function tokenIdentity(api: GitHubApi): Promise<string | undefined> {
  let identity = identities.get(api);
  if (!identity) {
    identity = api.rest.users.getAuthenticated().then(
      ({ data }) => data.login,
      () => undefined,
    );
    identities.set(api, identity);
  }
  return identity;
}

function isOurs(user: CommentUser | null | undefined, identity: string | undefined): boolean {
  if (!user) return false;
  return identity ? user.login === identity : user.type === 'Bot';
}

/**
 * Updates the environment's comment in place, or creates it: one comment per environment, ever. With
 * `create: false` a missing comment stays missing (a down of an environment that never existed posts nothing).
 */
export async function upsertComment(
  api: GitHubApi,
  target: CommentTarget,
  body: string,
  opts: { create?: boolean } = {},
): Promise<{ id?: number; action: 'created' | 'updated' | 'unchanged' | 'absent' }> {
  const marker = commentMarker(target.envId);
  const identity = await tokenIdentity(api);
  const { owner, repo } = target;
  for await (const page of api.paginate.iterator(api.rest.issues.listComments, {
    owner,
    repo,
    issue_number: target.issueNumber,
    per_page: 100,
  })) {
    const found = page.data.find((c) => c.body?.includes(marker) && isOurs(c.user, identity));
    if (found) {
      if (found.body === body) return { id: found.id, action: 'unchanged' };
      await api.rest.issues.updateComment({ owner, repo, comment_id: found.id, body });
      return { id: found.id, action: 'updated' };
    }
  }
  if (opts.create === false) return { action: 'absent' };
  const { data } = await api.rest.issues.createComment({
    owner,
    repo,
    issue_number: target.issueNumber,
    body,
  });
  return { id: data.id, action: 'created' };
}
