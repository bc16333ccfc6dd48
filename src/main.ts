import * as core from '@actions/core';
import { down } from './commands/down.js';
import { up } from './commands/up.js';
import type { ServiceUrl } from './compose/urls.js';
import { ActionError, errorMessage, InputError } from './errors.js';
import { gitHubApi } from './github/api.js';
import type { PhaseTiming } from './github/comment-text.js';
import { decide, type EventInfo, forkWithoutSecrets, readEvent } from './github/event.js';
import { PrReporter } from './github/report.js';
import { writeSummary } from './github/summary.js';
import { envIdFromPr, normalizeEnvId } from './identity.js';
import { getInputs, type Inputs } from './inputs.js';

/**
 * The action's one entry point: read the inputs, pick the command, and report the outcome once.
 * Every failure below is thrown, and it reaches the user here, through one setFailed.
 */
export async function run(): Promise<void> {
  try {
    const event = readEvent();
    const fork = forkWithoutSecrets(event, core.getInput('kubeconfig'));
    if (fork) {
      // Not a failure: the PR cannot have a preview, and a red check would only teach people to ignore it.
      core.notice(fork);
      await core.summary.addHeading('Preview environment', 3).addRaw(fork, true).write();
      return;
    }
    const inputs = getInputs();
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
    const reporter = reporterFor(inputs, event, envId, prNumber);
    if (decision.command === 'up') await runUp(inputs, event, envId, reporter);
    else await runDown(inputs, event, envId, reporter);
  } catch (err) {
    if (err instanceof ActionError && err.details) core.debug(err.details);
    if (err instanceof Error && err.stack) core.debug(err.stack);
    core.setFailed(errorMessage(err));
  }
}

function reporterFor(
  inputs: Inputs,
  event: EventInfo,
  envId: string,
  prNumber: number | undefined,
): PrReporter {
  return new PrReporter({
    api: inputs.githubToken ? gitHubApi(inputs.githubToken) : undefined,
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

/** A log group per phase, timed for the comment and the summary. */
function timedPhases(): {
  phases: PhaseTiming[];
  phase: <T>(name: string, fn: () => Promise<T>) => Promise<T>;
} {
  const phases: PhaseTiming[] = [];
  return {
    phases,
    phase: async (name, fn) => {
      const start = performance.now();
      try {
        return await core.group(name, fn);
      } finally {
        phases.push({ name, ms: performance.now() - start });
      }
    },
  };
}

async function runUp(inputs: Inputs, event: EventInfo, envId: string, reporter: PrReporter): Promise<void> {
  const { phases, phase } = timedPhases();
  await reporter.deploying();
  try {
    const result = await up(inputs, { envId, event, phase });
    core.setOutput('id', result.id);
    setUrlOutputs(result.urls, reporter.primaryUrl(result.urls));
    await reporter.ready(result.urls, phases);
    await writeSummary(reporter.report({ state: 'ready', urls: result.urls, phases }));
  } catch (err) {
    const logs = err instanceof ActionError ? err.logs : undefined;
    await reporter.failed(errorMessage(err), logs, phases);
    await writeSummary(
      reporter.report({ state: 'failed', urls: [], phases, error: errorMessage(err), logs }),
    );
    throw err;
  }
}

async function runDown(inputs: Inputs, event: EventInfo, envId: string, reporter: PrReporter): Promise<void> {
  const { phases, phase } = timedPhases();
  await down(inputs, { envId, event, phase });
  await reporter.deleted();
  await writeSummary(reporter.report({ state: 'deleted', urls: [], phases }));
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
