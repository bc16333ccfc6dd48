import * as core from '@actions/core';
import { down } from './commands/down.js';
import { up } from './commands/up.js';
import type { ServiceUrl } from './compose/urls.js';
import { ActionError, errorMessage, InputError } from './errors.js';
import { decide, readEvent } from './github/event.js';
import { envIdFromPr, normalizeEnvId } from './identity.js';
import { getInputs } from './inputs.js';

/**
 * The action's one entry point: read the inputs, pick the command, and report the outcome once.
 * Every failure below is thrown, and it reaches the user here, through one setFailed.
 */
export async function run(): Promise<void> {
  try {
    const inputs = getInputs();
    const event = readEvent();
    const decision = decide(inputs.command, event);
    if (decision.command === 'skip') {
      core.notice(decision.reason);
      return;
    }
    const envId = inputs.envId
      ? normalizeEnvId(inputs.envId)
      : event.pr
        ? envIdFromPr(event.pr.repository || event.repository, event.pr.number)
        : undefined;
    if (!envId) {
      throw new InputError('env-id', `is required when the event (${event.name}) is not a pull request`, {
        hint: 'Set "env-id" to the environment to act on, e.g. myapp-pr-42.',
      });
    }
    core.setOutput('env-id', envId);
    core.setOutput('namespace', inputs.namespace);
    if (decision.command === 'up') {
      const result = await up(inputs, { envId, event });
      core.setOutput('id', result.id);
      setUrlOutputs(result.urls);
    } else {
      await down(inputs, { envId, event });
    }
  } catch (err) {
    if (err instanceof ActionError && err.details) core.debug(err.details);
    if (err instanceof Error && err.stack) core.debug(err.stack);
    core.setFailed(errorMessage(err));
  }
}

/** `url`, `urls-json` and `urls-map`: a workflow reads them with fromJson, e.g. for `environment.url`. */
function setUrlOutputs(urls: ServiceUrl[]): void {
  const map: Record<string, Record<string, string>> = {};
  for (const u of urls) map[u.service] = { ...map[u.service], [String(u.port)]: u.url };
  core.setOutput('url', urls[0]?.url ?? '');
  core.setOutput(
    'urls-json',
    JSON.stringify(urls.map((u) => ({ service: u.service, port: u.port, url: u.url }))),
  );
  core.setOutput('urls-map', JSON.stringify(map));
}
