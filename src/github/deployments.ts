import type { GitHubApi } from './api.js';

export interface DeploymentTarget {
  owner: string;
  repo: string;
  /** The GitHub environment, e.g. pr-42: the PR page shows its latest deployment with "View deployment". */
  environment: string;
}

/** A deployment of one commit, marked in progress. Returns its id for the final status. */
export async function startDeployment(
  api: GitHubApi,
  t: DeploymentTarget,
  opts: { ref: string; description: string; logUrl?: string },
): Promise<number> {
  const res = await api.rest.repos.createDeployment({
    owner: t.owner,
    repo: t.repo,
    ref: opts.ref,
    environment: t.environment,
    description: opts.description,
    // Not a release: no merge of the base branch, no wait for commit statuses, and GitHub may hide it later.
    auto_merge: false,
    required_contexts: [],
    transient_environment: true,
    production_environment: false,
  });
  if (!('id' in res.data))
    throw new Error(`GitHub did not create the deployment: ${JSON.stringify(res.data)}`);
  const id = res.data.id;
  await api.rest.repos.createDeploymentStatus({
    owner: t.owner,
    repo: t.repo,
    deployment_id: id,
    state: 'in_progress',
    ...(opts.logUrl ? { log_url: opts.logUrl } : {}),
  });
  return id;
}

export async function finishDeployment(
  api: GitHubApi,
  t: DeploymentTarget,
  id: number,
  opts: {
    state: 'success' | 'failure' | 'inactive';
    environmentUrl?: string;
    logUrl?: string;
    description?: string;
  },
): Promise<void> {
  await api.rest.repos.createDeploymentStatus({
    owner: t.owner,
    repo: t.repo,
    deployment_id: id,
    state: opts.state,
    ...(opts.environmentUrl ? { environment_url: opts.environmentUrl } : {}),
    ...(opts.logUrl ? { log_url: opts.logUrl } : {}),
    // GitHub caps it at 140 characters; counted in code points, so an emoji is not cut in half.
    ...(opts.description ? { description: [...opts.description].slice(0, 140).join('') } : {}),
  });
  // GitHub's auto_inactive spares transient environments, which preview environments are: the earlier
  // deployments of the PR are retired here, so only the newest one shows as active.
  if (opts.state === 'success') await deactivateDeployments(api, t, { logUrl: opts.logUrl, except: id });
}

/**
 * On down: every deployment of the environment becomes inactive, which removes "View deployment". The
 * environment itself stays: deleting one needs an admin token, which the default GITHUB_TOKEN is not.
 */
export async function deactivateDeployments(
  api: GitHubApi,
  t: DeploymentTarget,
  opts: { logUrl?: string; except?: number },
): Promise<number> {
  let n = 0;
  for await (const page of api.paginate.iterator(api.rest.repos.listDeployments, {
    owner: t.owner,
    repo: t.repo,
    environment: t.environment,
    per_page: 100,
  })) {
    for (const d of page.data) {
      if (d.id === opts.except) continue;
      // Reads are cheap; status writes count against GitHub's content-creation limit, so write only where needed.
      const { data: latest } = await api.rest.repos.listDeploymentStatuses({
        owner: t.owner,
        repo: t.repo,
        deployment_id: d.id,
        per_page: 1,
      });
      if (latest[0]?.state === 'inactive') continue;
      await api.rest.repos.createDeploymentStatus({
        owner: t.owner,
        repo: t.repo,
        deployment_id: d.id,
        state: 'inactive',
        ...(opts.logUrl ? { log_url: opts.logUrl } : {}),
      });
      n++;
    }
  }
  return n;
}
