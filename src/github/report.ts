import { existsSync } from 'node:fs';
import type { ServiceUrl } from '../compose/urls.js';
import { describeGitHubError, type GitHubApi } from './api.js';
import { upsertComment } from './comment.js';
import { commentBody, customCommentBody, type EnvReport, type PhaseTiming } from './comment-text.js';
import { deactivateDeployments, finishDeployment, startDeployment } from './deployments.js';

export interface ReporterOptions {
  /** Absent without a token: nothing is posted. */
  api?: GitHubApi;
  /** `owner/name`. */
  repository: string;
  prNumber?: number;
  envId: string;
  namespace: string;
  sha?: string;
  runUrl?: string;
  /** Post and update the sticky comment (input `comment`). */
  comment: boolean;
  commentTemplate?: string;
  /** GitHub environment of the deployments (input `github-environment`); absent: no deployments. */
  environment?: string;
  /** The service whose URL is the deployment's (input `primary-service`); default: the first URL. */
  primaryService?: string;
  warn: (message: string) => void;
  info: (message: string) => void;
  now?: () => Date;
}

/**
 * What reviewers see on the PR: the sticky comment and the deployment. All of it is best-effort: a missing
 * permission or a GitHub outage costs a warning, never the preview environment.
 */
export class PrReporter {
  private deploymentId?: number;
  private readonly warned = new Set<string>();

  constructor(private readonly o: ReporterOptions) {}

  primaryUrl(urls: ServiceUrl[]): string | undefined {
    const primary = this.o.primaryService;
    return (primary ? urls.find((u) => u.service === primary) : undefined)?.url ?? urls[0]?.url;
  }

  async deploying(): Promise<void> {
    await this.comment({ state: 'deploying', urls: [], phases: [] });
    const { api, environment, sha } = this.o;
    if (!api || !environment || !sha) return;
    await this.bestEffort('create the deployment', 'deployments: write', async () => {
      this.deploymentId = await startDeployment(
        api,
        { ...this.repo(), environment },
        {
          ref: sha,
          description: `Preview environment ${this.o.envId}`,
          logUrl: this.o.runUrl,
        },
      );
    });
  }

  async ready(urls: ServiceUrl[], phases: PhaseTiming[]): Promise<void> {
    await this.comment({ state: 'ready', urls, phases });
    await this.finish('success', this.primaryUrl(urls));
  }

  async failed(error: string, logs: string | undefined, phases: PhaseTiming[]): Promise<void> {
    await this.comment({ state: 'failed', urls: [], phases, error, logs });
    await this.finish('failure', undefined, error.split('\n')[0]);
  }

  /** Deployed, but the PR's head moved on meanwhile: not ready, and this commit's deployment is retired. */
  async superseded(newerSha: string, phases: PhaseTiming[]): Promise<void> {
    await this.comment({ state: 'superseded', urls: [], phases, newerSha });
    await this.finish('inactive', undefined, `Superseded by ${newerSha.slice(0, 12)}`);
  }

  /**
   * The environment is gone. `existed: false` (a down found nothing): an existing comment says so, and none is
   * created, since the PR never had an environment to report on.
   */
  async deleted(opts: { existed?: boolean } = {}): Promise<void> {
    await this.comment({ state: 'deleted', urls: [], phases: [] }, { create: opts.existed !== false });
    const { api, environment } = this.o;
    if (!api || !environment) return;
    await this.bestEffort('mark the deployments inactive', 'deployments: write', async () => {
      const n = await deactivateDeployments(api, { ...this.repo(), environment }, { logUrl: this.o.runUrl });
      this.o.info(`GitHub environment ${environment}: ${n} deployment(s) marked inactive.`);
    });
  }

  /** The report as the job summary shows it (the same body as the comment, without the marker). */
  report(r: Omit<EnvReport, 'envId' | 'namespace' | 'prNumber' | 'sha' | 'runUrl' | 'at'>): EnvReport {
    return {
      ...r,
      envId: this.o.envId,
      namespace: this.o.namespace,
      prNumber: this.o.prNumber,
      sha: this.o.sha,
      runUrl: this.o.runUrl,
      at: this.o.now?.() ?? new Date(),
    };
  }

  private repo(): { owner: string; repo: string } {
    const [owner = '', repo = ''] = this.o.repository.split('/');
    return { owner, repo };
  }

  private async comment(
    r: Parameters<PrReporter['report']>[0],
    opts: { create?: boolean } = {},
  ): Promise<void> {
    const { api, prNumber } = this.o;
    if (!api || !prNumber || !this.o.comment) return;
    const body = this.body(this.report(r));
    await this.bestEffort('update the PR comment', 'pull-requests: write', async () => {
      const res = await upsertComment(
        api,
        { ...this.repo(), issueNumber: prNumber, envId: this.o.envId },
        body,
        opts,
      );
      if (res.action === 'absent') this.o.info(`No PR comment to update (${r.state}): none was posted.`);
      else this.o.info(`PR comment ${res.id}: ${res.action} (${r.state}).`);
    });
  }

  /**
   * The comment template is in the checkout, which a `down` does not need: without it, the bundled comment. An up
   * checked it before it started (requireUpFiles), so there a template that is there and fails still fails the run.
   */
  private body(report: EnvReport): string {
    const file = this.o.commentTemplate;
    if (file && existsSync(file)) return customCommentBody(file, report);
    if (file && !this.warned.has(file)) {
      this.warned.add(file);
      this.o.info(`The comment template ${file} is not there (no checkout?): the bundled comment is used.`);
    }
    return commentBody(report);
  }

  private async finish(
    state: 'success' | 'failure' | 'inactive',
    environmentUrl?: string,
    description?: string,
  ): Promise<void> {
    const { api, environment } = this.o;
    if (!api || !environment || this.deploymentId === undefined) return;
    const id = this.deploymentId;
    await this.bestEffort('set the deployment status', 'deployments: write', () =>
      finishDeployment(api, { ...this.repo(), environment }, id, {
        state,
        environmentUrl,
        logUrl: this.o.runUrl,
        description,
      }),
    );
  }

  private async bestEffort(what: string, permission: string, fn: () => Promise<unknown>): Promise<void> {
    try {
      await fn();
    } catch (err) {
      const why = describeGitHubError(err, permission);
      // One warning per cause: four calls without the permission are one problem.
      if (this.warned.has(why)) return;
      this.warned.add(why);
      this.o.warn(`Could not ${what}: ${why}. The preview environment is not affected.`);
    }
  }
}
