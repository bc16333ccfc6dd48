/**
 * Waiting for the docker host Deployment to roll out, by kubectl's rule (`kubectl rollout status`):
 *   observedGeneration >= generation; not Progressing=False/ProgressDeadlineExceeded;
 *   updatedReplicas >= spec.replicas; no old replicas left (replicas == updatedReplicas);
 *   availableReplicas >= updatedReplicas.
 *
 * A polled GET decides: a poll is naturally robust to API server hiccups, where a watch alone would need
 * reconnect and resourceVersion bookkeeping to be trusted. It looks every 250 ms for the first 10 s, then once
 * a second. A watch on the Deployment only ends the sleep between two polls early, so that its rollout is seen
 * when it happens rather than up to a poll later (kubectl rollout status watches too). A watch that fails or
 * ends is opened again at the next poll, one the server refuses (401, 403, 404, 405) is not; either way the polls
 * go on as before.
 *
 * While it waits it also looks at the pods (failfast.ts), at most once a second: a state that will not fix
 * itself (an image that cannot be pulled, a crash loop, a missing ConfigMap, an unschedulable pod, a Pod
 * Security refusal) fails the wait with its reason and the container's last log lines, instead of holding the
 * runner until the ready-timeout. Only pods of the Deployment's current ReplicaSet count: an old pod crash-looping
 * while a fixed template rolls out is what the rollout replaces.
 */
import { ReadinessError } from '../errors.js';
import type { KubeClient } from '../kube/client.js';
import { collectionPath, requireResource } from '../kube/discovery.js';
import { isTransientError, toKubeError } from '../kube/errors.js';
import { getObject } from '../kube/objects.js';
import {
  condition,
  type DeploymentStatus,
  deploymentStatus,
  desiredReplicas,
  selectorOf,
} from '../kube/shapes.js';
import type { KubeObject, TypeRef } from '../kube/types.js';
import { type Log, noopLog } from '../util/log.js';
import { sleep } from '../util/sleep.js';
import { collectDiagnostics, formatDiagnostics } from './diagnose.js';
import { diagnosisHints } from './diagnose-hints.js';
import { containerLogTail, describeProblem, type PodProblem, podWatcher } from './failfast.js';

export type { DeploymentStatus } from '../kube/shapes.js';

export interface RolloutState {
  done: boolean;
  /** Set when the rollout cannot succeed without a change (progress deadline exceeded, paused). */
  failed?: string;
  /** One line for the log: what the rollout is waiting for, or that it is done. */
  message: string;
  /** A condition that fails the wait if it lasts (ReplicaFailure=True: pods cannot be created). */
  warning?: string;
}

export interface WaitOptions {
  namespace: string;
  name: string;
  timeoutMs: number;
  /** Default 1000. */
  pollMs?: number;
  /** How long the polls come every 250 ms (or `pollMs`, if less) before they slow to `pollMs`; default 10 s. */
  fastPollForMs?: number;
  log?: Log;
  signal?: AbortSignal;
  /** How long ReplicaFailure=True may last before the wait fails; default 15 s. */
  replicaFailureGraceMs?: number;
  /**
   * How long a pod state that a retry may still fix (ErrImagePull/ImagePullBackOff, CreateContainerConfigError,
   * Unschedulable without a scale-up) may last before the wait fails; default 45 s. ErrImageNeverPull,
   * InvalidImageName, a crash loop and a Pod Security refusal fail at once.
   */
  failureGraceMs?: number;
}

const DEPLOYMENT: TypeRef = { apiVersion: 'apps/v1', kind: 'Deployment' };
const DEFAULT_POLL_MS = 1000;
const FAST_POLL_MS = 250;
const FAST_POLL_FOR_MS = 10_000;
const DEFAULT_REPLICA_FAILURE_GRACE_MS = 15_000;
/** Statuses that a watch would get again: stop opening it. */
const WATCH_REFUSED = new Set([401, 403, 404, 405]);

/** The watch that ends the sleep between two polls when the Deployment changes (see the top of this file). */
function changeWatch(client: KubeClient, opts: WaitOptions, log: Log) {
  const watch = client.watch?.bind(client);
  const stopped = new AbortController();
  let open = false;
  let refused = false;
  let changed = false;
  let wake: (() => void) | undefined;
  return {
    /** Opens the watch from the Deployment's resourceVersion, unless it is open or was refused. */
    follow(resourceVersion: string | undefined): void {
      if (!watch || open || refused || stopped.signal.aborted) return;
      open = true;
      const query: Record<string, string> = { fieldSelector: `metadata.name=${opts.name}` };
      if (resourceVersion) query.resourceVersion = resourceVersion;
      const onChange = () => {
        changed = true;
        wake?.();
      };
      (async () => {
        const resource = await requireResource(client, DEPLOYMENT, `watch Deployment/${opts.name}`);
        await watch(collectionPath(DEPLOYMENT, resource, opts.namespace), query, onChange, stopped.signal);
      })()
        .catch((err: unknown) => {
          const status = (err as { statusCode?: unknown }).statusCode;
          if (typeof status === 'number' && WATCH_REFUSED.has(status)) refused = true;
          log.debug(
            `watch of Deployment/${opts.name} ended (${err instanceof Error ? err.message : String(err)}); ${refused ? 'polling only' : 'opened again at the next poll'}`,
          );
        })
        .finally(() => {
          open = false;
        });
    },
    /** Sleeps `ms`, or until the Deployment changes. Rejects with `signal`'s reason. */
    async sleep(ms: number, signal?: AbortSignal): Promise<void> {
      if (changed) {
        changed = false;
        return;
      }
      const woken = new AbortController();
      wake = () => woken.abort();
      try {
        await sleep(ms, signal ? AbortSignal.any([signal, woken.signal]) : woken.signal);
      } catch (err) {
        if (!woken.signal.aborted || signal?.aborted) throw err;
      } finally {
        wake = undefined;
        changed = false;
      }
    },
    stop(): void {
      stopped.abort();
    },
  };
}

/** kubectl's rollout rule on one Deployment object. Pure. */
export function rolloutState(deploy: KubeObject): RolloutState {
  const name = `Deployment ${deploy.metadata.name}`;
  const generation = deploy.metadata.generation ?? 0;
  const s: DeploymentStatus = deploymentStatus(deploy);
  const spec = deploy.spec as { paused?: unknown } | undefined;
  if (spec?.paused === true) {
    return { done: false, failed: `${name} is paused (spec.paused: true)`, message: `${name} is paused` };
  }
  if ((s.observedGeneration ?? 0) < generation) {
    return { done: false, message: `${name}: waiting for the controller to see generation ${generation}` };
  }
  const replicaFailure = condition(deploy, 'ReplicaFailure');
  const warning =
    replicaFailure?.status === 'True'
      ? `${replicaFailure.reason ?? 'ReplicaFailure'}: ${replicaFailure.message ?? 'pods cannot be created'}`
      : undefined;
  const progressing = condition(deploy, 'Progressing');
  if (progressing && (progressing.reason === 'ProgressDeadlineExceeded' || progressing.status === 'False')) {
    const detail = progressing.message ? `: ${progressing.message}` : '';
    return {
      done: false,
      failed: `${name} exceeded its progress deadline (${progressing.reason ?? 'Progressing=False'})${detail}`,
      message: `${name} failed to progress${detail}`,
      warning,
    };
  }
  const desired = desiredReplicas(deploy);
  const updated = s.updatedReplicas ?? 0;
  const total = s.replicas ?? 0;
  const available = s.availableReplicas ?? 0;
  if (updated < desired) {
    return { done: false, message: `${name}: ${updated} of ${desired} new replicas updated`, warning };
  }
  if (total > updated) {
    return { done: false, message: `${name}: ${total - updated} old replicas pending termination`, warning };
  }
  if (available < updated) {
    return {
      done: false,
      message: `${name}: ${available} of ${updated} updated replicas available`,
      warning,
    };
  }
  return { done: true, message: `${name} rolled out: ${available} of ${desired} replicas available` };
}

async function readinessFailure(
  client: KubeClient,
  opts: WaitOptions,
  message: string,
  last: KubeObject | undefined,
  found: { logs?: string } = {},
): Promise<ReadinessError> {
  const input = await collectDiagnostics(client, {
    namespace: opts.namespace,
    deploymentName: opts.name,
    selector: last ? selectorOf(last) : undefined,
  });
  const report = formatDiagnostics(input);
  const hints = diagnosisHints(input);
  return new ReadinessError(`${message}\n${report}`, {
    hint: hints.length > 0 ? hints.join('\n') : undefined,
    details: last ? JSON.stringify(last.status ?? {}) : undefined,
    logs: found.logs,
  });
}

/**
 * The ReadinessError for a problem the pod checks found: its reason, the log tail, and the diagnostics;
 * `failed` is the Deployment's own verdict when it came first (progress deadline exceeded).
 */
async function problemFailure(
  client: KubeClient,
  opts: WaitOptions,
  p: PodProblem,
  deploy: KubeObject,
  failed?: string,
  graceMs?: number,
): Promise<ReadinessError> {
  const tail =
    p.kind === 'crash' && p.container
      ? await containerLogTail(client, {
          namespace: opts.namespace,
          pod: p.pod,
          container: p.container,
          signal: opts.signal,
        })
      : {};
  const d = describeProblem(p, opts.namespace, tail, graceMs);
  const head = failed ?? `Deployment ${opts.name} cannot become ready:`;
  return readinessFailure(client, opts, `${head} ${d.message}`, deploy, { logs: d.logs });
}

/**
 * Poll the Deployment until it has rolled out, failed, or `timeoutMs` passed. Returns the rolled-out
 * Deployment (its `status` is the DeploymentStatus). Throws ReadinessError with the diagnostics report.
 * Transient API errors (5xx, 429, dropped connections) are logged at debug and retried until the deadline.
 */
export async function waitForRollout(client: KubeClient, opts: WaitOptions): Promise<KubeObject> {
  const changes = changeWatch(client, opts, opts.log ?? noopLog);
  try {
    const pods = podWatcher(client, {
      namespace: opts.namespace,
      graceMs: opts.failureGraceMs,
      log: opts.log ?? noopLog,
      signal: opts.signal,
    });
    return await pollRollout(client, opts, changes, pods);
  } finally {
    changes.stop();
  }
}

async function pollRollout(
  client: KubeClient,
  opts: WaitOptions,
  changes: ReturnType<typeof changeWatch>,
  pods: ReturnType<typeof podWatcher>,
): Promise<KubeObject> {
  const log = opts.log ?? noopLog;
  const pollMs = opts.pollMs ?? DEFAULT_POLL_MS;
  const graceMs = opts.replicaFailureGraceMs ?? DEFAULT_REPLICA_FAILURE_GRACE_MS;
  const fastFor = opts.fastPollForMs ?? FAST_POLL_FOR_MS;
  const started = Date.now();
  const deadline = started + opts.timeoutMs;
  let lastMessage: string | undefined;
  let last: KubeObject | undefined;
  let lastError: string | undefined;
  let warningSince: number | undefined;
  for (;;) {
    if (opts.signal?.aborted) throw new ReadinessError(`Waiting for Deployment ${opts.name} was cancelled.`);
    let deploy: KubeObject | undefined;
    try {
      deploy = await getObject(client, DEPLOYMENT, opts.namespace, opts.name, opts.signal);
      lastError = undefined;
    } catch (err) {
      if (opts.signal?.aborted)
        throw new ReadinessError(`Waiting for Deployment ${opts.name} was cancelled.`);
      if (!isTransientError(err))
        throw toKubeError(err, `wait for Deployment/${opts.name}`, { server: client.server });
      lastError = toKubeError(err, `read Deployment/${opts.name}`, { server: client.server }).message;
      log.debug(`${lastError} (retrying)`);
    }

    if (deploy === undefined && lastError === undefined) {
      throw new ReadinessError(
        `Deployment ${opts.name} does not exist in namespace ${opts.namespace} (deleted while waiting?).`,
      );
    }
    if (deploy) {
      last = deploy;
      changes.follow((deploy.metadata as { resourceVersion?: string } | undefined)?.resourceVersion);
      const state = rolloutState(deploy);
      if (state.message !== lastMessage) {
        log.info(state.message);
        lastMessage = state.message;
      }
      if (state.done) return deploy;
      if (state.failed) {
        const failed = `${state.failed.replace(/\.$/, '')}.`;
        const why = await pods.check(deploy, true);
        if (why) throw await problemFailure(client, opts, why, deploy, failed);
        throw await readinessFailure(client, opts, failed, deploy);
      }
      const problem = await pods.check(deploy);
      if (problem) throw await problemFailure(client, opts, problem, deploy, undefined, pods.graceMs);
      if (state.warning) {
        warningSince ??= Date.now();
        if (Date.now() - warningSince >= graceMs) {
          throw await readinessFailure(
            client,
            opts,
            `Deployment ${opts.name} cannot create its pods: ${state.warning.replace(/\.$/, '')}.`,
            deploy,
          );
        }
      } else warningSince = undefined;
    }

    const now = Date.now();
    if (now >= deadline) {
      const seconds = Math.round(opts.timeoutMs / 1000);
      const why = lastMessage ?? lastError ?? 'no status yet';
      throw await readinessFailure(
        client,
        opts,
        `Deployment ${opts.name} did not become ready within ${seconds}s (${why}).`,
        last,
      );
    }
    try {
      const interval = now - started < fastFor ? Math.min(FAST_POLL_MS, pollMs) : pollMs;
      await changes.sleep(Math.min(interval, deadline - now), opts.signal);
    } catch {
      throw new ReadinessError(`Waiting for Deployment ${opts.name} was cancelled.`);
    }
  }
}
