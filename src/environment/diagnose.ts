/**
 * Why is the docker host not ready? A readable report of the Deployment, its ReplicaSets and Pods and
 * their recent Events, for the failure message in the GitHub log.
 *
 * The formatting functions take plain JSON objects (as the API returns them and the fixtures record them);
 * the fetching part (`collectDiagnostics`) is thin and never throws: what it cannot read becomes a note.
 */
import type { KubeClient } from '../kube/client.js';
import { toKubeError } from '../kube/errors.js';
import { getObject, listObjects } from '../kube/objects.js';
import {
  type Condition,
  type ContainerState,
  type ContainerStatus,
  condition,
  conditionsOf,
  containerStatuses,
  controllerOf,
  deploymentStatus,
  desiredReplicas,
  eventCount,
  eventTime,
  num,
  rec,
  selectorOf,
  str,
} from '../kube/shapes.js';
import type { KubeObject, TypeRef } from '../kube/types.js';

export interface DiagnosticsInput {
  namespace?: string;
  deployment?: KubeObject;
  replicaSets?: KubeObject[];
  pods: KubeObject[];
  /** Events of any of the objects above (matched by involvedObject kind and name). */
  events: KubeObject[];
  /** Things that could not be read. */
  notes?: string[];
  /** For event ages; default: now. */
  now?: Date;
  maxPods?: number;
  maxEvents?: number;
}

export interface DiagnoseArgs {
  namespace: string;
  /** Pod label selector; default: the Deployment's `spec.selector.matchLabels`. */
  selector?: string;
  deploymentName: string;
  signal?: AbortSignal;
}

const DEPLOYMENT: TypeRef = { apiVersion: 'apps/v1', kind: 'Deployment' };
const REPLICA_SET: TypeRef = { apiVersion: 'apps/v1', kind: 'ReplicaSet' };
const POD: TypeRef = { apiVersion: 'v1', kind: 'Pod' };
const EVENT: TypeRef = { apiVersion: 'v1', kind: 'Event' };
const DEFAULT_MAX_PODS = 5;
const DEFAULT_MAX_EVENTS = 10;
const REVISION = 'deployment.kubernetes.io/revision';

// ---------------------------------------------------------------------------------------------------------
// Pure formatting

function timeOf(s: string | undefined | null): number {
  if (!s) return Number.NaN;
  return Date.parse(s);
}

/** `35s`, `4m`, `2h`, `3d`; empty when the time is unknown. */
export function age(time: string | undefined | null, now: Date): string {
  const t = timeOf(time);
  if (Number.isNaN(t)) return '';
  const s = Math.max(0, Math.round((now.getTime() - t) / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.round(s / 60)}m`;
  if (s < 172_800) return `${Math.round(s / 3600)}h`;
  return `${Math.round(s / 86_400)}d`;
}

export function formatCondition(c: Condition): string {
  const reason = c.reason ? ` (${c.reason})` : '';
  const message = c.message ? `: ${c.message}` : '';
  return `${c.type}=${c.status}${reason}${message}`;
}

function formatState(state: ContainerState | undefined): string | undefined {
  if (!state) return undefined;
  if (state.waiting) {
    const { reason, message } = state.waiting;
    return `waiting${reason ? `: ${reason}` : ''}${message ? ` (${message})` : ''}`;
  }
  if (state.running) return `running${state.running.startedAt ? ` since ${state.running.startedAt}` : ''}`;
  if (state.terminated) {
    const t = state.terminated;
    const code =
      t.exitCode !== undefined
        ? `exit code ${t.exitCode}`
        : t.signal !== undefined
          ? `signal ${t.signal}`
          : '';
    const parts = [code, t.reason].filter(Boolean).join(', ');
    // A FallbackToLogsOnError message is several log lines: one line here (the failure shows them as lines).
    const message = t.message?.trim().split('\n').join(' | ');
    return `terminated${parts ? ` (${parts})` : ''}${message ? `: ${message}` : ''}`;
  }
  return undefined;
}

export function formatContainerStatus(cs: ContainerStatus, init = false): string[] {
  const label = `${init ? 'Init container' : 'Container'} ${cs.name}`;
  const state = formatState(cs.state) ?? 'no state yet';
  const ready = cs.ready === undefined || init ? '' : cs.ready ? ', ready' : ', not ready';
  const lines = [`${label}: ${state}${ready}; restarts: ${cs.restartCount ?? 0}`];
  const last = cs.lastState?.terminated;
  if (last) {
    const parts = [last.exitCode !== undefined ? `exit code ${last.exitCode}` : '', last.reason ?? '']
      .filter(Boolean)
      .join(', ');
    lines.push(
      `  last run: terminated${parts ? ` (${parts})` : ''}${last.message ? `: ${last.message}` : ''}`,
    );
  }
  return lines;
}

/** The last `limit` events, oldest first: `Warning BackOff (x3, 20s ago): Back-off restarting ...`. */
export function formatEvents(events: readonly KubeObject[], now: Date, limit = DEFAULT_MAX_EVENTS): string[] {
  // Identical events (the scheduler writes a new one per attempt) become one line with their counts summed.
  const merged = new Map<
    string,
    { type: string; reason: string; message: string; count: number; time?: string; t: number; i: number }
  >();
  events.forEach((e, i) => {
    const type = str(e.type) ?? 'Normal';
    const reason = str(e.reason) ?? '';
    const message = (str(e.message) ?? str(e.note) ?? '').trim();
    const time = eventTime(e);
    const t = timeOf(time);
    const key = `${type}\0${reason}\0${message}`;
    const seen = merged.get(key);
    if (!seen) {
      merged.set(key, { type, reason, message, count: eventCount(e), time, t, i });
      return;
    }
    seen.count += eventCount(e);
    if (!Number.isNaN(t) && (Number.isNaN(seen.t) || t > seen.t)) {
      seen.t = t;
      seen.time = time;
    }
    seen.i = i;
  });
  const sorted = [...merged.values()].sort((a, b) => {
    if (!Number.isNaN(a.t) && !Number.isNaN(b.t) && a.t !== b.t) return a.t - b.t;
    return a.i - b.i;
  });
  const shown = sorted.slice(-limit);
  const lines: string[] = [];
  if (sorted.length > shown.length) lines.push(`(${sorted.length - shown.length} older events not shown)`);
  for (const e of shown) {
    const when = age(e.time, now);
    const meta = [e.count > 1 ? `x${e.count}` : '', when ? `${when} ago` : ''].filter(Boolean).join(', ');
    lines.push(`${e.type} ${e.reason}${meta ? ` (${meta})` : ''}: ${e.message}`);
  }
  return lines;
}

export function eventsFor(events: readonly KubeObject[], kind: string, name: string): KubeObject[] {
  return events.filter((e) => {
    const io = rec(e.involvedObject) ?? rec(e.regarding);
    return io?.kind === kind && io?.name === name;
  });
}

function indent(lines: string[], by = '  '): string[] {
  return lines.map((l) => `${by}${l}`);
}

function eventBlock(
  events: readonly KubeObject[],
  kind: string,
  name: string,
  now: Date,
  limit: number,
): string[] {
  const mine = eventsFor(events, kind, name);
  if (mine.length === 0) return [];
  return ['Events:', ...indent(formatEvents(mine, now, limit))];
}

/** The ReplicaSet of the Deployment's current revision (or the newest one). */
export function currentReplicaSet(
  deployment: KubeObject | undefined,
  replicaSets: readonly KubeObject[],
): KubeObject | undefined {
  const owned = deployment?.metadata.uid
    ? replicaSets.filter((rs) => controllerOf(rs)?.uid === deployment.metadata.uid)
    : [...replicaSets];
  const candidates = owned.length > 0 ? owned : [...replicaSets];
  const revision = deployment?.metadata.annotations?.[REVISION];
  const byRevision = revision
    ? candidates.find((rs) => rs.metadata.annotations?.[REVISION] === revision)
    : undefined;
  if (byRevision) return byRevision;
  return candidates
    .slice()
    .sort(
      (a, b) =>
        Number(b.metadata.annotations?.[REVISION] ?? 0) - Number(a.metadata.annotations?.[REVISION] ?? 0),
    )[0];
}

/** Pods of the current ReplicaSet first, then the others; newest first within each group. */
export function sortPods(pods: readonly KubeObject[], current: KubeObject | undefined): KubeObject[] {
  const isCurrent = (p: KubeObject) =>
    current !== undefined && controllerOf(p)?.name === current.metadata.name;
  return pods
    .map((p, i) => ({ p, i }))
    .sort((a, b) => {
      const ca = isCurrent(a.p) ? 0 : 1;
      const cb = isCurrent(b.p) ? 0 : 1;
      if (ca !== cb) return ca - cb;
      const ta = timeOf(a.p.metadata.creationTimestamp);
      const tb = timeOf(b.p.metadata.creationTimestamp);
      if (!Number.isNaN(ta) && !Number.isNaN(tb) && ta !== tb) return tb - ta;
      return a.i - b.i;
    })
    .map((x) => x.p);
}

export function formatDeployment(d: KubeObject): string[] {
  const s = deploymentStatus(d);
  const head =
    `Deployment ${d.metadata.name}: generation ${d.metadata.generation ?? '?'}, observed ${s.observedGeneration ?? 'none'}; ` +
    `${desiredReplicas(d)} desired, ${s.updatedReplicas ?? 0} updated, ${s.readyReplicas ?? 0} ready, ` +
    `${s.availableReplicas ?? 0} available${(s.replicas ?? 0) > (s.updatedReplicas ?? 0) ? `, ${(s.replicas ?? 0) - (s.updatedReplicas ?? 0)} old` : ''}`;
  return [head, ...indent((s.conditions ?? []).map(formatCondition))];
}

export function formatReplicaSet(rs: KubeObject, current: boolean): string[] {
  const s = rec(rs.status) ?? {};
  const revision = rs.metadata.annotations?.[REVISION];
  const tags = [current ? 'current' : 'old', revision ? `revision ${revision}` : '']
    .filter(Boolean)
    .join(', ');
  const head = `ReplicaSet ${rs.metadata.name} (${tags}): ${num(rec(rs.spec)?.replicas) ?? 0} desired, ${num(s.readyReplicas) ?? 0} ready`;
  const failures = conditionsOf(rs).filter((c) => c.status === 'True');
  return [head, ...indent(failures.map(formatCondition))];
}

export function formatPod(pod: KubeObject, opts: { current?: boolean } = {}): string[] {
  const status = rec(pod.status) ?? {};
  const phase = str(status.phase) ?? 'Unknown';
  const node = str(rec(pod.spec)?.nodeName);
  const tags = [
    opts.current === undefined ? '' : opts.current ? 'current ReplicaSet' : 'old ReplicaSet',
    pod.metadata.deletionTimestamp ? 'terminating' : '',
  ]
    .filter(Boolean)
    .join(', ');
  const head = `Pod ${pod.metadata.name}${tags ? ` (${tags})` : ''}: ${phase}${node ? ` on node ${node}` : ''}`;
  const lines: string[] = [];
  const reason = str(status.reason);
  const message = str(status.message);
  if (reason || message) lines.push(`${reason ?? 'Status'}${message ? `: ${message}` : ''}`);
  for (const type of ['PodScheduled', 'Ready']) {
    const c = condition(pod, type);
    if (c) lines.push(formatCondition(c));
  }
  for (const cs of containerStatuses(pod, true)) {
    // A finished init container is not news.
    if (cs.state?.terminated?.exitCode === 0) continue;
    lines.push(...formatContainerStatus(cs, true));
  }
  for (const cs of containerStatuses(pod)) lines.push(...formatContainerStatus(cs));
  return [head, ...indent(lines)];
}

/** The whole report. */
export function formatDiagnostics(input: DiagnosticsInput): string {
  const now = input.now ?? new Date();
  const maxEvents = input.maxEvents ?? DEFAULT_MAX_EVENTS;
  const maxPods = input.maxPods ?? DEFAULT_MAX_PODS;
  const replicaSets = input.replicaSets ?? [];
  const current = currentReplicaSet(input.deployment, replicaSets);
  const out: string[] = [];

  if (input.deployment) {
    out.push(...formatDeployment(input.deployment));
    out.push(
      ...indent(eventBlock(input.events, 'Deployment', input.deployment.metadata.name, now, maxEvents)),
    );
  }
  const shownSets = current
    ? [current, ...replicaSets.filter((rs) => rs !== current && (num(rec(rs.spec)?.replicas) ?? 0) > 0)]
    : [];
  for (const rs of shownSets) {
    out.push(...formatReplicaSet(rs, rs === current));
    out.push(...indent(eventBlock(input.events, 'ReplicaSet', rs.metadata.name, now, maxEvents)));
  }
  const pods = sortPods(input.pods, current);
  if (pods.length === 0) out.push('No pods.');
  for (const pod of pods.slice(0, maxPods)) {
    const isCurrent = current ? controllerOf(pod)?.name === current.metadata.name : undefined;
    out.push(...formatPod(pod, { current: isCurrent }));
    out.push(...indent(eventBlock(input.events, 'Pod', pod.metadata.name, now, maxEvents)));
  }
  if (pods.length > maxPods) out.push(`... and ${pods.length - maxPods} more pods`);
  for (const note of input.notes ?? []) out.push(`(${note})`);
  return out.join('\n');
}

// ---------------------------------------------------------------------------------------------------------
// Fetching

async function attempt<T>(
  notes: string[],
  what: string,
  server: string,
  fn: () => Promise<T>,
): Promise<T | undefined> {
  try {
    return await fn();
  } catch (err) {
    notes.push(toKubeError(err, `cannot ${what}`, { server }).message);
    return undefined;
  }
}

/** The Events of one object: listed by its name, and kept by its kind (a Pod may share a ReplicaSet's name). */
export async function eventsOf(
  client: KubeClient,
  namespace: string,
  subject: { kind: string; name: string },
  signal?: AbortSignal,
): Promise<KubeObject[]> {
  const events = await listObjects(client, EVENT, namespace, {
    fieldSelector: `involvedObject.name=${subject.name}`,
    signal,
  });
  return events.filter((e) => rec(e.involvedObject)?.kind === subject.kind);
}

/** Read the Deployment, its ReplicaSets and Pods, and their Events. Never throws. */
export async function collectDiagnostics(client: KubeClient, args: DiagnoseArgs): Promise<DiagnosticsInput> {
  const notes: string[] = [];
  const { namespace } = args;
  const deployment = await attempt(notes, `read Deployment/${args.deploymentName}`, client.server, () =>
    getObject(client, DEPLOYMENT, namespace, args.deploymentName, args.signal),
  );
  if (deployment === undefined && notes.length === 0)
    notes.push(`Deployment ${args.deploymentName} does not exist`);
  const selector = args.selector ?? (deployment ? selectorOf(deployment) : undefined);
  if (!selector) {
    return { namespace, deployment, replicaSets: [], pods: [], events: [], notes };
  }
  const [replicaSets = [], pods = []] = await Promise.all([
    attempt(notes, 'list ReplicaSets', client.server, () =>
      listObjects(client, REPLICA_SET, namespace, { labelSelector: selector, signal: args.signal }),
    ),
    attempt(notes, 'list Pods', client.server, () =>
      listObjects(client, POD, namespace, { labelSelector: selector, signal: args.signal }),
    ),
  ]);
  const current = currentReplicaSet(deployment, replicaSets);
  const subjects: Array<{ kind: string; name: string }> = [];
  if (deployment) subjects.push({ kind: 'Deployment', name: deployment.metadata.name });
  if (current) subjects.push({ kind: 'ReplicaSet', name: current.metadata.name });
  for (const p of sortPods(pods, current).slice(0, DEFAULT_MAX_PODS))
    subjects.push({ kind: 'Pod', name: p.metadata.name });

  const eventNotes: string[] = [];
  const lists = await Promise.all(
    subjects.map((s) =>
      attempt(eventNotes, 'list Events', client.server, () =>
        eventsOf(client, namespace, s, args.signal),
      ).then((events) => events ?? []),
    ),
  );
  // One note is enough when events are not readable at all (403 for every subject).
  if (eventNotes[0]) notes.push(eventNotes[0]);
  return { namespace, deployment, replicaSets, pods, events: lists.flat(), notes };
}

/** The report for a Deployment that is not ready, as text for the GitHub log. */
export async function diagnose(client: KubeClient, args: DiagnoseArgs): Promise<string> {
  return formatDiagnostics(await collectDiagnostics(client, args));
}
