import * as core from '@actions/core';
import { type DownResult, down } from './commands/down.js';
import type { RunContext } from './commands/run.js';
import { type UpResult, up } from './commands/up.js';
import type { ServiceUrl } from './compose/urls.js';
import { ActionError, errorMessage, InputError } from './errors.js';
import { type GitHubApi, gitHubApi } from './github/api.js';
import type { PhaseTiming } from './github/comment-text.js';
import { decide, type EventInfo, readEvent, withoutSecrets } from './github/event.js';
import { pullRequestReader } from './github/pulls.js';
import { PrReporter } from './github/report.js';
import { writeSummary } from './github/summary.js';
import { envIdFromPr, normalizeEnvId } from './identity.js';
import { getInputs, type Inputs } from './inputs.js';
import { findJobKubeconfig } from './kube/job-kubeconfig.js';

/**
 * The action's one entry point: read the inputs, pick the command, and report the outcome once.
 * Every failure below is thrown, and it reaches the user here, through one setFailed.
 */
export async function run(): Promise<void> {
  try {
    const event = readEvent();
    const noSecrets = withoutSecrets(event, availableKubeconfig());
    if (noSecrets) {
      // Not a failure: the PR cannot have a preview, and a red check would only teach people to ignore it.
      core.notice(noSecrets);
      await core.summary.addHeading('Preview environment', 3).addRaw(noSecrets, true).write();
      return;
    }
    const inputs = getInputs();
    await runWith(inputs, event);
  } catch (err) {
    if (err instanceof ActionError && err.details) core.debug(err.details);
    if (err instanceof Error && err.stack) core.debug(err.stack);
    core.setFailed(errorMessage(err));
  }
}

/** The kubeconfig this run has: the input's, else the job's own; empty when neither. Reads, never logs. */
function availableKubeconfig(): string {
  const input = core.getInput('kubeconfig');
  if (input.trim() !== '') return input;
  try {
    return findJobKubeconfig(process.env).text ?? '';
  } catch {
    // There is a file, and getInputs reports what is wrong with it.
    return 'unreadable';
  }
}

/**
 * The run once the event and the inputs are read: pick the command, and run it with its report on the PR.
 * Throws what `run` reports; tests call it in-process with their own inputs and event.
 */
export async function runWith(inputs: Inputs, event: EventInfo): Promise<void> {
  const decision = decide(
    {
      command: inputs.command,
      requiredLabel: inputs.requiredLabel,
      allowPullRequestTarget: inputs.allowPullRequestTarget,
    },
    event,
  );
  if (decision.command === 'skip') {
    core.notice(decision.reason);
    return;
  }
  if (decision.reason) core.info(decision.reason);
  const prNumber = event.pr?.number ?? inputs.prNumber;
  const envId = inputs.envId
    ? normalizeEnvId(inputs.envId)
    : prNumber
      ? envIdFromPr(event.pr?.repository || event.repository, prNumber)
      : undefined;
  if (!envId) {
    throw new InputError('env-id', `is required when the event (${event.name}) is not a pull request`, {
      hint: 'Set "env-id" to the environment to act on, e.g. myapp-pr-42, or "pr-number".',
    });
  }
  core.setOutput('env-id', envId);
  core.setOutput('namespace', inputs.namespace);
  const api = inputs.githubToken ? gitHubApi(inputs.githubToken) : undefined;
  const reporter = reporterFor(inputs, event, envId, prNumber, api);
  if (decision.command === 'up') {
    await runUp(
      inputs,
      {
        envId,
        event,
        pullRequest: pullRequestReader(api, event.pr?.repository || event.repository, prNumber),
        // Set as soon as it is known, so that a run failing later still tells the workflow which instance.
        onId: (id) => core.setOutput('id', id),
      },
      reporter,
    );
  } else await runDown(inputs, { envId, event }, reporter);
}

export function reporterFor(
  inputs: Inputs,
  event: EventInfo,
  envId: string,
  prNumber: number | undefined,
  api: GitHubApi | undefined,
): PrReporter {
  return new PrReporter({
    api,
    repository: event.pr?.repository || event.repository,
    prNumber,
    envId,
    namespace: inputs.namespace,
    sha: event.pr?.headSha ?? process.env.GITHUB_SHA,
    runUrl: event.runUrl,
    comment: inputs.comment,
    commentTemplate: inputs.commentTemplate,
    environment:
      inputs.githubEnvironment && prNumber !== undefined
        ? inputs.githubEnvironment.replaceAll('{number}', String(prNumber))
        : inputs.githubEnvironment?.includes('{number}')
          ? undefined
          : inputs.githubEnvironment,
    primaryService: inputs.primaryService,
    warn: (m) => core.warning(m),
    info: (m) => core.info(m),
  });
}

type Phase = <T>(name: string, fn: () => Promise<T>) => Promise<T>;

/** A log group per phase (or the caller's own phase runner), timed for the comment and the summary. */
function timedPhases(inner: Phase = (name, fn) => core.group(name, fn)): {
  phases: PhaseTiming[];
  phase: Phase;
} {
  const phases: PhaseTiming[] = [];
  return {
    phases,
    phase: async (name, fn) => {
      const start = performance.now();
      try {
        return await inner(name, fn);
      } finally {
        phases.push({ name, ms: performance.now() - start });
      }
    },
  };
}

/**
 * `up` with its report on the PR. `up` posts the "deploying" comment itself, once the environment's lock is
 * held and the concurrency checks passed (src/commands/guard.ts): a run that waited behind another finds the
 * first run's comment and updates it, and a run that stops posts nothing. The outcome is reported here.
 */
export async function runUp(inputs: Inputs, ctx: RunContext, reporter: PrReporter): Promise<UpResult> {
  const { phases, phase } = timedPhases(ctx.phase);
  try {
    const result = await up(inputs, { ...ctx, phase, report: reporter });
    switch (result.outcome) {
      case 'stopped':
        if (result.id) core.setOutput('id', result.id);
        // Expected, not a failure: the PR is closed or has moved on, and its comment already says the truth.
        core.notice(result.notice ?? 'Nothing to deploy.');
        await writeNote(result.notice ?? 'Nothing to deploy.');
        break;
      case 'removed':
        core.notice(result.notice ?? 'The environment was removed again.');
        await reporter.deleted();
        await writeSummary(reporter.report({ state: 'deleted', urls: [], phases }));
        break;
      case 'superseded':
        core.setOutput('id', result.id);
        setUrlOutputs(result.urls, reporter.primaryUrl(result.urls));
        core.notice(result.notice ?? 'A newer commit is deploying.');
        await reporter.superseded(result.headSha ?? '', phases);
        await writeSummary(
          reporter.report({ state: 'superseded', urls: [], phases, newerSha: result.headSha }),
        );
        break;
      case 'ready':
        core.setOutput('id', result.id);
        setUrlOutputs(result.urls, reporter.primaryUrl(result.urls));
        await reporter.ready(result.urls, phases);
        await writeSummary(reporter.report({ state: 'ready', urls: result.urls, phases }));
        break;
    }
    return result;
  } catch (err) {
    const logs = err instanceof ActionError ? err.logs : undefined;
    await reporter.failed(errorMessage(err), logs, phases);
    await writeSummary(
      reporter.report({ state: 'failed', urls: [], phases, error: errorMessage(err), logs }),
    );
    throw err;
  }
}

/**
 * `down` with its report on the PR. An environment that had no objects was left as it was: then a comment that
 * exists says it is deleted, and none is created (a PR that never had an environment gets no comment).
 */
export async function runDown(inputs: Inputs, ctx: RunContext, reporter: PrReporter): Promise<DownResult> {
  const { phases, phase } = timedPhases(ctx.phase);
  const result = await down(inputs, { ...ctx, phase });
  const existed = result.deleted.length > 0 || result.tombstone !== undefined;
  await reporter.deleted({ existed });
  if (existed) await writeSummary(reporter.report({ state: 'deleted', urls: [], phases }));
  else
    await writeNote(
      `Environment ${result.envId} has no objects in namespace ${result.namespace}: nothing to delete, and nothing was changed.`,
    );
  return result;
}

/** A job-summary note for a run that ended without a report of the environment. */
async function writeNote(text: string): Promise<void> {
  if (!process.env.GITHUB_STEP_SUMMARY) return;
  try {
    await core.summary.addHeading('Preview environment', 3).addRaw(text, true).write();
  } catch (err) {
    core.warning(`Could not write the job summary: ${errorMessage(err)}`);
  }
}

/** `url`, `urls-json` and `urls-map`: a workflow reads them with fromJson, e.g. for `environment.url`. */
function setUrlOutputs(urls: ServiceUrl[], primary: string | undefined): void {
  const map: Record<string, Record<string, string>> = {};
  for (const u of urls) map[u.service] = { ...map[u.service], [String(u.port)]: u.url };
  core.setOutput('url', primary ?? '');
  core.setOutput(
    'urls-json',
    JSON.stringify(urls.map((u) => ({ service: u.service, port: u.port, url: u.url }))),
  );
  core.setOutput('urls-map', JSON.stringify(map));
}
