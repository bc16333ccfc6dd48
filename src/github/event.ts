import * as github from '@actions/github';
import type { Command } from '../inputs.js';

/** What the triggering event tells us, reduced to what the action needs. */
export interface PrInfo {
  number: number;
  headSha: string;
  headRef: string;
  baseRef: string;
  /** `owner/name` of the base repository. */
  repository: string;
  title?: string;
  state?: string;
  /** The head comes from another repository: no secrets, read-only token on `pull_request`. */
  fromFork: boolean;
}

export interface EventInfo {
  name: string;
  action?: string;
  repository: string;
  pr?: PrInfo;
  runUrl?: string;
}

export type Decision = { command: 'up' | 'down' } | { command: 'skip'; reason: string };

interface PullRequestPayload {
  number?: number;
  title?: string;
  state?: string;
  head?: { sha?: string; ref?: string; repo?: { full_name?: string } | null };
  base?: { ref?: string; repo?: { full_name?: string } };
}

export function readEvent(): EventInfo {
  const ctx = github.context;
  const repository = process.env.GITHUB_REPOSITORY ?? '';
  const pr = ctx.payload.pull_request as PullRequestPayload | undefined;
  const runUrl =
    ctx.runId && repository ? `${ctx.serverUrl}/${repository}/actions/runs/${ctx.runId}` : undefined;
  return {
    name: ctx.eventName,
    action: typeof ctx.payload.action === 'string' ? ctx.payload.action : undefined,
    repository,
    runUrl,
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
            fromFork: Boolean(
              pr.head?.repo?.full_name && pr.head.repo.full_name !== pr.base?.repo?.full_name,
            ),
          }
        : undefined,
  };
}

/** `command: auto` maps the pull_request lifecycle onto up and down. */
export function decide(command: Command, event: EventInfo): Decision {
  if (command !== 'auto') return { command };
  if (event.name !== 'pull_request' && event.name !== 'pull_request_target') {
    return {
      command: 'skip',
      reason: `command is "auto" but the event is ${event.name}; set "command: up" or "command: down" (and "env-id") for this event`,
    };
  }
  switch (event.action) {
    case 'opened':
    case 'synchronize':
    case 'reopened':
      return { command: 'up' };
    case 'closed':
      return { command: 'down' };
    default:
      return { command: 'skip', reason: `nothing to do for pull_request "${event.action ?? 'unknown'}"` };
  }
}
