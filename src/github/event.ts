import * as github from '@actions/github';
import { InputError } from '../errors.js';
import type { Command } from '../inputs.js';
import type { TemplatePr } from '../template/index.js';

/** What the triggering event tells us, reduced to what the action needs. */
export interface PrInfo extends TemplatePr {
  /** `open` or `closed`, from the payload: what the decision trusts, since labels survive a merge. */
  state?: string;
  merged?: boolean;
  labels: string[];
  /** The head comes from another repository: no secrets, read-only token on `pull_request`. */
  fromFork: boolean;
}

export interface EventInfo {
  name: string;
  action?: string;
  repository: string;
  pr?: PrInfo;
  runUrl?: string;
  /** The label of a `labeled`/`unlabeled` event. */
  label?: string;
  /** Who triggered the run (`github.actor`): `dependabot[bot]` for Dependabot's PRs, whose runs get no secrets. */
  actor?: string;
}

export type Decision =
  | { command: 'up' | 'down'; reason?: string }
  /** Nothing to do, and that is the expected outcome: a notice. */
  | { command: 'skip'; reason: string };

interface PullRequestPayload {
  number?: number;
  title?: string;
  state?: string;
  merged?: boolean;
  labels?: Array<{ name?: string }>;
  head?: { sha?: string; ref?: string; repo?: { full_name?: string } | null };
  base?: { ref?: string; repo?: { full_name?: string } };
}

export function readEvent(): EventInfo {
  const ctx = github.context;
  const repository = process.env.GITHUB_REPOSITORY ?? '';
  const pr = ctx.payload.pull_request as PullRequestPayload | undefined;
  const label = (ctx.payload.label as { name?: string } | undefined)?.name;
  const runUrl =
    ctx.runId && repository ? `${ctx.serverUrl}/${repository}/actions/runs/${ctx.runId}` : undefined;
  return {
    name: ctx.eventName,
    action: typeof ctx.payload.action === 'string' ? ctx.payload.action : undefined,
    repository,
    runUrl,
    label,
    actor: ctx.actor || undefined,
    pr:
      pr && typeof pr.number === 'number'
        ? {
            number: pr.number,
            headSha: pr.head?.sha ?? ctx.sha,
            headRef: pr.head?.ref ?? '',
            baseRef: pr.base?.ref ?? '',
            repository: pr.base?.repo?.full_name ?? repository,
            title: pr.title,
            state: pr.state,
            merged: pr.merged,
            labels: (pr.labels ?? []).map((l) => l.name ?? '').filter(Boolean),
            // A deleted fork has `head.repo: null`: still not the base repository.
            fromFork: pr.head?.repo?.full_name !== pr.base?.repo?.full_name,
          }
        : undefined,
  };
}

export interface DecideOptions {
  command: Command;
  requiredLabel?: string;
  allowPullRequestTarget: boolean;
}

export const DEPENDABOT = 'dependabot[bot]';

/**
 * Runs that get no secrets, where an empty kubeconfig is expected, not an error: a fork PR on `pull_request`, and
 * Dependabot's PRs (same repository, but a `pull_request` run triggered by Dependabot gets no Actions secrets and a
 * read-only token). `kubeconfig` is the one the run has: the input's, or the job's own (empty when neither).
 * Returns the explanation for the notice and the job summary, or undefined when the run should go on.
 */
export function withoutSecrets(event: EventInfo, kubeconfig: string): string | undefined {
  if (event.name !== 'pull_request' || !event.pr || kubeconfig.trim() !== '') return undefined;
  if (event.pr.fromFork) {
    return `PR #${event.pr.number} comes from a fork, and GitHub gives workflows of fork PRs no secrets: without the kubeconfig there is no preview environment. A maintainer can push the branch to this repository to get one.`;
  }
  if (event.actor === DEPENDABOT) {
    return `PR #${event.pr.number}'s run was triggered by Dependabot, and GitHub gives such runs no Actions secrets: without the kubeconfig there is no preview environment, and nothing was changed. Add the kubeconfig as a Dependabot secret (Settings → Secrets → Dependabot) to preview Dependabot's PRs too.`;
  }
  return undefined;
}

const PR_EVENTS = new Set(['pull_request', 'pull_request_target']);

/**
 * What to do for this event. `command: auto` maps the pull_request lifecycle onto up and down; an explicit
 * command is obeyed on any event. Either way, two situations are refused or ended before anything runs.
 */
export function decide(opts: DecideOptions, event: EventInfo): Decision {
  if (event.name === 'pull_request_target' && !opts.allowPullRequestTarget) {
    throw new InputError('allow-pull-request-target', 'is false, and the event is pull_request_target', {
      hint: "pull_request_target runs with the base repository's secrets and a write token; deploying a PR's compose project there hands the cluster to whoever opened the PR, forks included. Use the pull_request event (fork PRs then end neutral), or set allow-pull-request-target: true only if a person approves each run (an environment with required reviewers) and you understand the risk.",
    });
  }
  if (opts.command !== 'auto') return { command: opts.command };

  if (!PR_EVENTS.has(event.name) || !event.pr) {
    throw new InputError('command', `is "auto", and the event ${event.name} is not a pull request`, {
      hint: 'For this event, set "command: up" or "command: down", and "env-id" (or "pr-number").',
    });
  }
  const pr = event.pr;
  const open = pr.state !== 'closed';
  const action = event.action ?? 'unknown';
  if (action === 'closed') return { command: 'down', reason: `PR #${pr.number} was closed` };
  // A label added to a merged PR must not bring its environment back.
  if (!open) return { command: 'skip', reason: `PR #${pr.number} is closed: nothing to do for "${action}"` };
  const required = opts.requiredLabel;
  if (required) {
    if (action === 'unlabeled' && event.label === required) {
      return { command: 'down', reason: `the label "${required}" was removed from PR #${pr.number}` };
    }
    if (!pr.labels.includes(required)) {
      return {
        command: 'skip',
        reason: `PR #${pr.number} does not carry the label "${required}" (input required-label): no preview environment`,
      };
    }
    if (action === 'labeled') {
      return event.label === required
        ? { command: 'up', reason: `the label "${required}" was added to PR #${pr.number}` }
        : { command: 'skip', reason: `the label "${event.label ?? ''}" does not change the preview` };
    }
  }
  switch (action) {
    case 'opened':
    case 'synchronize':
    case 'reopened':
      return { command: 'up' };
    default:
      return { command: 'skip', reason: `nothing to do for pull_request "${action}"` };
  }
}
