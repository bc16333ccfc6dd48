import * as core from '@actions/core';
import { acquireLock, type EnvLock, holderIdentity, type LockTiming } from '../environment/lock.js';
import type { EventInfo } from '../github/event.js';
import type { PrState } from '../github/pulls.js';
import type { Inputs } from '../inputs.js';
import { connect, type KubeClient } from '../kube/client.js';
import { actionsLog } from '../log.js';
import type { Log } from '../util/log.js';

/** What `up` and `down` are run with besides their inputs. */
export interface RunContext {
  envId: string;
  event: EventInfo;
  log?: Log;
  /** Runs a phase; the action wraps each in a log group. Tests pass a plain call. */
  phase?: Phase;
  now?: () => Date;
  /** Where `up` reports on the PR (main.ts: its PrReporter); absent, nothing is posted. */
  report?: UpReport;
  /** The PR as GitHub sees it now (absent without a token). May reject: the guard then goes on without it. */
  pullRequest?: () => Promise<PrState>;
  /** The lock's holderIdentity; default: run id/attempt/pid/nonce. */
  lockHolder?: string;
  /** The lock's timing (tests shorten it). */
  lockTiming?: Partial<LockTiming>;
  /** Called once the environment's instance id is known, before the first write: main.ts sets the `id` output. */
  onId?: (id: string) => void;
}

/** What `up` itself posts on the PR; main.ts reports the outcome once `up` returned. */
export interface UpReport {
  /**
   * The "deploying" comment (and deployment): posted once, when the lock is held and the checks of
   * src/commands/guard.ts let the deploy go on, before the first write. A run that waits for another, or stops,
   * posts nothing, so two runs at once cannot create two comments. Its GitHub failures cost a warning.
   */
  deploying(): Promise<void>;
}

export type Phase = <T>(name: string, fn: () => Promise<T>) => Promise<T>;

/** The context's log and phase runner, or the action's (a log group per phase). */
export function runTools(ctx: RunContext): { log: Log; phase: Phase } {
  return { log: ctx.log ?? actionsLog, phase: ctx.phase ?? ((name, fn) => core.group(name, fn)) };
}

export function connectWith(inputs: Inputs, log: Log): Promise<KubeClient> {
  if (inputs.kubeconfigFiles) {
    log.info(
      `The kubeconfig input is empty: using the job's kubeconfig (${inputs.kubeconfigFiles.join(', ')}).`,
    );
  }
  return connect({
    kubeconfig: inputs.kubeconfig,
    context: inputs.kubeconfigContext,
    namespace: inputs.namespace,
    // The job's own kubeconfig runs the exec plugin its cloud login step put there; the input's needs consent.
    allowExec: inputs.allowKubeconfigExec || inputs.kubeconfigFiles !== undefined,
    log,
  });
}

/** Takes the environment's lock for `command`: one run at a time per environment. */
export function lockEnvironment(
  client: KubeClient,
  inputs: Inputs,
  ctx: RunContext,
  command: 'up' | 'down',
  log: Log,
): Promise<EnvLock> {
  return acquireLock(client, {
    namespace: inputs.namespace,
    envId: ctx.envId,
    holder: { identity: ctx.lockHolder ?? holderIdentity(), command, runUrl: ctx.event.runUrl },
    timeoutMs: inputs.readyTimeoutMs,
    timing: ctx.lockTiming,
    log,
  });
}
