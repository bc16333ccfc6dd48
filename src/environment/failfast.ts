/**
 * Failing the wait early: pod states that will not fix themselves within the ready-timeout, recognised the way
 * a real cluster shows them (fixtures kube-real-2 063-098, 114-129):
 * - the image: `ErrImageNeverPull` and `InvalidImageName` at once; `ErrImagePull`/`ImagePullBackOff` once
 *   they last past a grace (a pull is retried, a registry may come back);
 * - `CreateContainerConfigError`/`CreateContainerError` past the grace (the ConfigMap of the same template
 *   may be applied a moment later);
 * - a crash loop: `waiting: CrashLoopBackOff`, or `state.terminated` with restartCount >= 2, since between two
 *   restarts a real pod shows the exited instance as both its state and its last state (077 vs 124);
 * - `PodScheduled=False Unschedulable` past the grace, unless the cluster autoscaler's latest word on the pod is
 *   `TriggeredScaleUp` (a node is coming);
 * - Pod Security: the Deployment's `ReplicaFailure` "violates PodSecurity" (116): no pod will ever appear.
 * The pure part classifies objects; the rest reads a container's log tail (`pods/log`, which a Role may not
 * grant: then the failure says so instead of showing lines) and the pod's autoscaler events.
 */
import type { KubeClient } from '../kube/client.js';
import { httpStatusOf, toKubeError } from '../kube/errors.js';
import { listObjects } from '../kube/objects.js';
import {
  byEventTime,
  type ContainerStatus,
  condition,
  containerStatuses,
  num,
  rec,
  selectorOf,
  str,
} from '../kube/shapes.js';
import type { KubeObject, TypeRef } from '../kube/types.js';
import type { Log } from '../util/log.js';
import { currentReplicaSet, eventsOf } from './diagnose.js';

export type ProblemKind = 'image' | 'config' | 'crash' | 'unschedulable' | 'pod-security';

export interface PodProblem {
  kind: ProblemKind;
  /** The pod, or the ReplicaSet/Deployment for `pod-security` (no pod exists then). */
  pod: string;
  podUid?: string;
  container?: string;
  reason: string;
  message?: string;
  /** True: fails the wait at once; false: only once it has lasted the grace. */
  immediate: boolean;
  exitCode?: number;
  restartCount?: number;
  /** `terminated.message`: what the container wrote to its termination log, or its log tail (FallbackToLogsOnError). */
  terminationMessage?: string;
}

const POD: TypeRef = { apiVersion: 'v1', kind: 'Pod' };
const REPLICA_SET: TypeRef = { apiVersion: 'apps/v1', kind: 'ReplicaSet' };
const TEMPLATE_HASH = 'pod-template-hash';
const REVISION = 'deployment.kubernetes.io/revision';
const DEFAULT_FAILURE_GRACE_MS = 45_000;
/** At most this often the wait lists the pods (one more request per poll would double the wait's load). */
const POD_CHECK_MS = 1000;
const IMAGE_AT_ONCE = new Set(['ErrImageNeverPull', 'InvalidImageName']);
const IMAGE_RETRIED = new Set(['ErrImagePull', 'ImagePullBackOff']);
const CONFIG = new Set(['CreateContainerConfigError', 'CreateContainerError']);
/** Restarts after which a container that shows `state.terminated` is taken for a crash loop. */
const CRASH_RESTARTS = 2;
export const LOG_TAIL_LINES = 20;

function containerProblem(pod: KubeObject, cs: ContainerStatus): PodProblem | undefined {
  const base = { pod: pod.metadata.name, podUid: pod.metadata.uid, container: cs.name };
  const waiting = cs.state?.waiting;
  const reason = waiting?.reason;
  const restartCount = cs.restartCount ?? 0;
  if (reason && (IMAGE_AT_ONCE.has(reason) || IMAGE_RETRIED.has(reason))) {
    return { ...base, kind: 'image', reason, message: waiting.message, immediate: IMAGE_AT_ONCE.has(reason) };
  }
  if (reason && CONFIG.has(reason)) {
    return { ...base, kind: 'config', reason, message: waiting.message, immediate: false };
  }
  const terminated = cs.state?.terminated;
  const last = cs.lastState?.terminated;
  // An exit 0 is no crash (a finished init container); a regular container that exits 0 and restarts ends
  // in CrashLoopBackOff, which is recognised then.
  const crashLoop =
    reason === 'CrashLoopBackOff' ||
    (terminated !== undefined && terminated.exitCode !== 0 && restartCount >= CRASH_RESTARTS);
  if (!crashLoop) return undefined;
  const exited = terminated ?? last;
  return {
    ...base,
    kind: 'crash',
    reason: reason ?? `restarted ${restartCount} times, last ${exited?.reason ?? 'exit'}`,
    message: waiting?.message,
    immediate: true,
    exitCode: exited?.exitCode,
    restartCount,
    terminationMessage: exited?.message,
  };
}

/** What keeps one pod from running, or nothing. Pure. */
export function podProblems(pod: KubeObject): PodProblem[] {
  if (pod.metadata.deletionTimestamp) return [];
  const out: PodProblem[] = [];
  const scheduled = condition(pod, 'PodScheduled');
  if (scheduled?.status === 'False' && scheduled.reason === 'Unschedulable') {
    out.push({
      kind: 'unschedulable',
      pod: pod.metadata.name,
      podUid: pod.metadata.uid,
      reason: 'Unschedulable',
      message: scheduled.message,
      immediate: false,
    });
  }
  for (const cs of [...containerStatuses(pod, true), ...containerStatuses(pod)]) {
    const p = containerProblem(pod, cs);
    if (p) out.push(p);
  }
  return out;
}

/** A Pod Security refusal on the Deployment (or its ReplicaSet): `ReplicaFailure` "violates PodSecurity". Pure. */
export function podSecurityProblem(o: KubeObject): PodProblem | undefined {
  const failure = condition(o, 'ReplicaFailure');
  if (failure?.status !== 'True' || !failure.message?.includes('violates PodSecurity')) return undefined;
  return {
    kind: 'pod-security',
    pod: `${o.kind ?? 'Deployment'} ${o.metadata.name}`,
    reason: failure.reason ?? 'FailedCreate',
    message: failure.message,
    immediate: true,
  };
}

/**
 * Remembers since when each problem has been seen (this process's clock: the server's may differ), so that
 * retried states fail only once they have lasted `graceMs`. ErrImagePull and ImagePullBackOff are one
 * problem; a problem no longer seen is forgotten.
 */
export class ProblemClock {
  private readonly since = new Map<string, number>();

  constructor(private readonly graceMs: number) {}

  /** The problems due now (immediate, or lasting past the grace), first the immediate ones. */
  due(problems: readonly PodProblem[], now: number): PodProblem[] {
    const seen = new Set<string>();
    const due: PodProblem[] = [];
    for (const p of problems) {
      const key = `${p.podUid ?? p.pod}/${p.container ?? ''}/${p.kind}`;
      seen.add(key);
      const first = this.since.get(key) ?? now;
      this.since.set(key, first);
      if (p.immediate || now - first >= this.graceMs) due.push(p);
    }
    for (const key of [...this.since.keys()]) if (!seen.has(key)) this.since.delete(key);
    return due.sort((a, b) => Number(b.immediate) - Number(a.immediate));
  }

  /** Starts the grace of `p` again (a scale-up is on its way). */
  restart(p: PodProblem, now: number): void {
    this.since.set(`${p.podUid ?? p.pod}/${p.container ?? ''}/${p.kind}`, now);
  }
}

export interface LogTail {
  lines?: string[];
  /** Why there are no lines (a 403 names the permission). */
  note?: string;
}

/**
 * The last lines of a container's log. A container that never started answers 400 (no lines, no note); a
 * Role without `get pods/log` answers 403 (a note that says what to grant). Never throws.
 */
export async function containerLogTail(
  client: KubeClient,
  args: { namespace: string; pod: string; container: string; previous?: boolean; signal?: AbortSignal },
): Promise<LogTail> {
  const query: Record<string, string | number | boolean> = {
    tailLines: LOG_TAIL_LINES,
    container: args.container,
  };
  if (args.previous) query.previous = true;
  try {
    const { body } = await client.request<unknown>({
      method: 'GET',
      path: `/api/v1/namespaces/${encodeURIComponent(args.namespace)}/pods/${encodeURIComponent(args.pod)}/log`,
      query,
      signal: args.signal,
    });
    const text = typeof body === 'string' ? body : body === undefined ? '' : JSON.stringify(body);
    // Fixture 081: an instance whose log is gone is a 200 with this text, not an error.
    if (/^unable to retrieve container logs for /.test(text.trim())) return {};
    const lines = text.replace(/\n$/, '').split('\n').slice(-LOG_TAIL_LINES);
    return lines.length === 1 && lines[0] === '' ? {} : { lines };
  } catch (err) {
    const status = httpStatusOf(err);
    if (status === 403) {
      return {
        note: `its log is not readable with these credentials (403 on pods/log): grant \`get\` on \`pods/log\` in the Role (as examples/rbac/role.yaml does) to see its last lines here`,
      };
    }
    if (status === 400) return {};
    return {
      note: `its log could not be read: ${toKubeError(err, 'read log', { server: client.server }).message}`,
    };
  }
}

const AUTOSCALER_REASONS = new Set(['TriggeredScaleUp', 'NotTriggerScaleUp']);

/**
 * The cluster autoscaler's latest event about `pod`: `TriggeredScaleUp` (a node is being added) or
 * `NotTriggerScaleUp` (no node group would fit it), or undefined (no autoscaler, or it has not looked yet).
 */
export async function autoscalerVerdict(
  client: KubeClient,
  args: { namespace: string; pod: string; signal?: AbortSignal },
): Promise<{ reason: string; message?: string } | undefined> {
  let events: KubeObject[];
  try {
    events = await eventsOf(client, args.namespace, { kind: 'Pod', name: args.pod }, args.signal);
  } catch {
    return undefined;
  }
  const latest = events
    .filter((e) => AUTOSCALER_REASONS.has(str(e.reason) ?? ''))
    .sort(byEventTime)
    .at(-1);
  return latest ? { reason: str(latest.reason) ?? '', message: str(latest.message) } : undefined;
}

const ENFORCE = 'pod-security.kubernetes.io/enforce=privileged';

/**
 * The failure's first line(s) and the log lines (for the error's `logs`); the hints come from the
 * diagnostics (diagnose.ts), which see the same states. Pure.
 */
export function describeProblem(
  p: PodProblem,
  namespace: string,
  log: LogTail = {},
  graceMs?: number,
): { message: string; logs?: string } {
  const lines: string[] = [];
  if (p.kind === 'pod-security') {
    lines.push(`Pod Security admission refuses its pod (${p.reason}): ${p.message ?? ''}`.trim());
    lines.push(`The namespace ${namespace} needs the label ${ENFORCE} for a privileged docker host.`);
    return { message: lines.join('\n') };
  }
  const where = p.container ? `Pod ${p.pod}, container ${p.container}` : `Pod ${p.pod}`;
  const lasted =
    !p.immediate && graceMs !== undefined
      ? ` (for over ${graceMs < 1000 ? `${graceMs}ms` : `${Math.round(graceMs / 1000)}s`})`
      : '';
  lines.push(`${where}: ${p.reason}${lasted}${p.message ? `: ${p.message}` : ''}`);
  if (p.kind === 'crash') {
    const facts = [
      p.exitCode !== undefined ? `exit code ${p.exitCode}` : '',
      p.restartCount !== undefined ? `restarted ${p.restartCount} times` : '',
    ].filter(Boolean);
    if (facts.length) lines.push(`  ${facts.join(', ')}`);
  }
  const term = p.terminationMessage?.replace(/\n+$/, '');
  const logText = log.lines?.join('\n');
  // With FallbackToLogsOnError the termination message is the log's tail: do not show it twice.
  if (term && !logText?.includes(term)) {
    lines.push('  Termination message:', ...term.split('\n').map((l) => `    ${l}`));
  }
  if (log.lines?.length) {
    lines.push(`  Last ${log.lines.length} log lines:`, ...log.lines.map((l) => `    ${l}`));
  } else if (log.note) {
    lines.push(`  (${p.container ?? 'the container'}: ${log.note})`);
  }
  const logs = logText ?? term;
  return { message: lines.join('\n'), ...(logs ? { logs } : {}) };
}

/**
 * The pod checks of the wait (see the top of wait.ts): lists the pods at most once a second and returns
 * the problem that should fail the wait, if any. Never throws: what it cannot read, it skips.
 */
export function podWatcher(
  client: KubeClient,
  opts: { namespace: string; graceMs?: number; log: Log; signal?: AbortSignal },
) {
  const { log } = opts;
  const graceMs = opts.graceMs ?? DEFAULT_FAILURE_GRACE_MS;
  const clock = new ProblemClock(graceMs);
  let lastCheck = Number.NEGATIVE_INFINITY;
  let refused = false;
  let scaleUpNoted = false;
  /** The current ReplicaSet's pod-template-hash, per Deployment revision (one list per revision). */
  let current: { revision: string; hash: string | undefined } | undefined;

  async function currentHash(deploy: KubeObject, selector: string): Promise<string | undefined> {
    const revision = deploy.metadata.annotations?.[REVISION];
    if (!revision) return undefined;
    if (current?.revision !== revision) {
      const sets = await listObjects(client, REPLICA_SET, opts.namespace, {
        labelSelector: selector,
        signal: opts.signal,
      });
      const rs = currentReplicaSet(deploy, sets);
      if (!rs) return undefined;
      current = { revision, hash: rs.metadata.labels?.[TEMPLATE_HASH] };
    }
    return current.hash;
  }

  return {
    graceMs,
    /**
     * `explain`: the rollout has failed already (progress deadline): any problem, due or not, says why, and
     * the once-a-second limit does not apply.
     */
    async check(deploy: KubeObject, explain = false): Promise<PodProblem | undefined> {
      const security = podSecurityProblem(deploy);
      if (security) return security;
      const selector = selectorOf(deploy);
      // Until the controller has seen the latest spec, its revision annotation names the previous ReplicaSet.
      const observed = num(rec(deploy.status)?.observedGeneration) ?? 0;
      if (observed < (deploy.metadata.generation ?? 0)) return undefined;
      if (refused || !selector || (!explain && Date.now() - lastCheck < POD_CHECK_MS)) return undefined;
      lastCheck = Date.now();
      try {
        const pods = await listObjects(client, POD, opts.namespace, {
          labelSelector: selector,
          signal: opts.signal,
        });
        let problems = pods.flatMap(podProblems);
        if (problems.length > 0) {
          // Without a known current ReplicaSet (revision not set yet) nothing is judged.
          const hash = await currentHash(deploy, selector);
          const mine = new Set(
            pods.filter((p) => p.metadata.labels?.[TEMPLATE_HASH] === hash).map((p) => p.metadata.name),
          );
          problems = hash === undefined ? [] : problems.filter((p) => mine.has(p.pod));
        }
        if (explain) return problems.find((p) => p.immediate) ?? problems[0];
        for (const p of clock.due(problems, Date.now())) {
          if (p.kind !== 'unschedulable') return p;
          const verdict = await autoscalerVerdict(client, {
            namespace: opts.namespace,
            pod: p.pod,
            signal: opts.signal,
          });
          if (verdict?.reason === 'TriggeredScaleUp') {
            if (!scaleUpNoted)
              log.info(`Pod ${p.pod} waits for a new node: ${verdict.message ?? 'scale-up triggered'}`);
            scaleUpNoted = true;
            clock.restart(p, Date.now());
            continue;
          }
          if (verdict?.reason === 'NotTriggerScaleUp' && verdict.message)
            return { ...p, message: `${p.message ?? ''} (cluster autoscaler: ${verdict.message})`.trim() };
          return p;
        }
      } catch (err) {
        const status = httpStatusOf(err);
        // A Role without list on pods: the wait still works, by the Deployment alone.
        if (status === 401 || status === 403) refused = true;
        log.debug(`pod check skipped: ${err instanceof Error ? err.message : String(err)}`);
      }
      return undefined;
    },
  };
}
