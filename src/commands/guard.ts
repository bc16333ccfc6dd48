/**
 * The concurrency rule: no environment outlives its PR, and no run deploys a commit that is no longer the PR's.
 * The README's "Concurrency" section says the same in the user's words.
 *
 * Every `up` and `down` holds the environment's lock (src/environment/lock.ts) from just after connecting to the end,
 * so the checks below and the deploy between them see no other run of the environment.
 *
 * A `down` writes the environment's tombstone (src/environment/tombstone.ts) and then deletes its objects.
 *
 * An `up`, before its first write:
 *  1. reads the PR from GitHub (GET /repos/{owner}/{repo}/pulls/{number}) when it has a token and a PR number:
 *     a. closed (or merged) → stop with a notice; nothing is created, the comment is left alone;
 *     b. its head is not the event's commit → stop with a notice: a newer commit was pushed, and its run deploys;
 *  2. reads the tombstone. If there is one, it is lifted (deleted) and the deploy goes on when
 *     - the event is `reopened`, or
 *     - the event is `labeled` and the tombstone was left when the required label was removed (`unlabeled`), or
 *     - the command is an explicit `up` on an event that is not a pull request (workflow_dispatch: a person asked);
 *     otherwise → stop with a notice; nothing is created.
 * After deploying, still holding the lock:
 *  3. a tombstone now (a down that did not take the lock), or the PR closed per GitHub → remove what was deployed
 *     as `down` does (the tombstone stays) and end with a notice;
 *  4. the PR's head moved on per GitHub → leave the environment for the newer commit's run (it waits for the
 *     lock, then updates it), and report it as superseded, not ready: no stale commit is marked ready.
 * Reading the PR is best-effort: without a token, or when GitHub fails, the tombstone rule alone decides.
 */

import { describeTombstone, liftTombstone, readTombstone, type Tombstone } from '../environment/tombstone.js';
import { describeGitHubError } from '../github/api.js';
import type { EventInfo } from '../github/event.js';
import type { PrState } from '../github/pulls.js';
import type { Command } from '../inputs.js';
import type { KubeClient } from '../kube/client.js';
import type { Log } from '../util/log.js';

const PR_EVENTS = new Set(['pull_request', 'pull_request_target']);

export interface GuardArgs {
  namespace: string;
  envId: string;
  event: EventInfo;
  command: Command;
  pullRequest?: () => Promise<PrState>;
  log: Log;
}

export type BeforeVerdict =
  | { go: true; lifted?: Tombstone }
  | { go: false; why: 'closed' | 'superseded' | 'tombstone'; notice: string };

export type AfterVerdict =
  | { outcome: 'ready' }
  | { outcome: 'remove'; notice: string; tombstone?: Tombstone }
  | { outcome: 'superseded'; notice: string; headSha: string };

/** Why this run may deploy despite the tombstone, or undefined when it may not (rule 2). Pure. */
export function liftedBy(t: Tombstone, event: EventInfo, command: Command): string | undefined {
  const pr = event.pr ? `PR #${event.pr.number}` : 'the PR';
  if (PR_EVENTS.has(event.name)) {
    if (event.action === 'reopened') return `${pr} was reopened`;
    if (event.action === 'labeled' && t.reason === 'unlabeled') {
      return `the label "${event.label ?? ''}" was added to ${pr} again`;
    }
    return undefined;
  }
  return command === 'up' ? `"command: up" was given on a ${event.name} event` : undefined;
}

function prLabel(a: GuardArgs, pr?: PrState): string {
  const n = pr?.number ?? a.event.pr?.number;
  return n ? `PR #${n}` : 'The PR';
}

function short(sha: string | undefined): string {
  return sha ? sha.slice(0, 12) : 'unknown';
}

/** The PR now, or undefined (no token, no PR, or GitHub failed: then the tombstone rule alone decides). */
async function readPr(a: GuardArgs): Promise<PrState | undefined> {
  if (!a.pullRequest) return undefined;
  try {
    return await a.pullRequest();
  } catch (err) {
    a.log.info(
      `Could not read the PR from GitHub (${describeGitHubError(err, 'pull-requests: read')}): the tombstone alone decides.`,
    );
    return undefined;
  }
}

/** The event's commit when the PR's head can be compared with it: pull request events only. */
function eventSha(event: EventInfo): string | undefined {
  return PR_EVENTS.has(event.name) ? event.pr?.headSha : undefined;
}

/** Rules 1 and 2. Lifting the tombstone is the only write, and only when the deploy goes on. */
export async function checkBeforeDeploy(client: KubeClient, a: GuardArgs): Promise<BeforeVerdict> {
  const pr = await readPr(a);
  if (pr?.state === 'closed') {
    return {
      go: false,
      why: 'closed',
      notice: `${prLabel(a, pr)} is ${pr.merged ? 'merged' : 'closed'}: environment ${a.envId} is not deployed, and nothing was created or changed.`,
    };
  }
  const sha = eventSha(a.event);
  if (pr && sha && pr.headSha.toLowerCase() !== sha.toLowerCase()) {
    return {
      go: false,
      why: 'superseded',
      notice: `${prLabel(a, pr)}'s head is now ${short(pr.headSha)}, not this run's ${short(sha)}: the newer commit's run deploys environment ${a.envId}; this run changed nothing.`,
    };
  }
  const tombstone = await readTombstone(client, { namespace: a.namespace, envId: a.envId });
  if (!tombstone) return { go: true };
  const lift = liftedBy(tombstone, a.event, a.command);
  if (!lift) {
    const what = a.event.action ? `"${a.event.action}"` : a.event.name;
    return {
      go: false,
      why: 'tombstone',
      notice: `${describeTombstone(tombstone)}. Not deploying it again for ${what}: nothing was created. Reopen the PR, or run the action with "command: up" from workflow_dispatch, to deploy it again.`,
    };
  }
  await liftTombstone(client, { namespace: a.namespace, tombstone });
  a.log.info(
    `${describeTombstone(tombstone)}. ${lift}: the tombstone is deleted, and the environment deployed again.`,
  );
  return { go: true, lifted: tombstone };
}

/** Rules 3 and 4, after the deploy. */
export async function checkAfterDeploy(client: KubeClient, a: GuardArgs): Promise<AfterVerdict> {
  const tombstone = await readTombstone(client, { namespace: a.namespace, envId: a.envId });
  if (tombstone) {
    return {
      outcome: 'remove',
      tombstone,
      notice: `${describeTombstone(tombstone)} while this run deployed it: what this run deployed is removed again.`,
    };
  }
  const pr = await readPr(a);
  if (pr?.state === 'closed') {
    return {
      outcome: 'remove',
      notice: `${prLabel(a, pr)} was ${pr.merged ? 'merged' : 'closed'} while this run deployed environment ${a.envId}: the environment is removed again, and a tombstone left, as a down does.`,
    };
  }
  const sha = eventSha(a.event);
  if (pr && sha && pr.headSha.toLowerCase() !== sha.toLowerCase()) {
    return {
      outcome: 'superseded',
      headSha: pr.headSha,
      notice: `${prLabel(a, pr)}'s head moved to ${short(pr.headSha)} while this run deployed ${short(sha)}: environment ${a.envId} stays for the newer commit's run to update, and is not reported ready for ${short(sha)}.`,
    };
  }
  return { outcome: 'ready' };
}
