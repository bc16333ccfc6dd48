/**
 * The ReplicaSet controller (pkg/controller/replicaset): keeps the number of active pods at spec.replicas and
 * reports replicas/fullyLabeledReplicas/readyReplicas/availableReplicas/observedGeneration (fixtures 014, 021).
 * The store is synchronous, so the "expectations" the real controller needs against a lagging cache are not.
 * A pod the API server refuses (Pod Security, quota: 403/422) gives a `FailedCreate` Event and the condition
 * `ReplicaFailure` True `FailedCreate` with the refusal's message (fixtures 114, 115, 117), and the sync is
 * retried with a growing delay (the real controller's rate-limited requeue: ~10 events in 8 s, fixture 115);
 * the condition goes once pods can be created again.
 * Not done: adopting orphan pods, releasing pods that stop matching, slow-start batches.
 */
import type { SimObject } from '../types.js';
import { REPLICASETS } from './deployment.js';
import type { EventRecorder } from './events.js';
import { nsKey, type Runtime, splitKey, WorkQueue } from './runtime.js';
import {
  clone,
  controllerRef,
  deepEqual,
  errorMessage,
  newControllerRef,
  parseTime,
  randomSuffix,
  rfc3339,
  selectorMatches,
  statusCode,
} from './util.js';

const PODS = { group: '', resource: 'pods' };
const SOURCE = { component: 'replicaset-controller' };
/** First retry after a refused create, doubling per failure up to the cap (scaled by backoffScale). */
const FAILED_CREATE_RETRY_MS = 100;
const FAILED_CREATE_RETRY_MAX_MS = 10_000;

interface PodCondition {
  type: string;
  status: string;
  lastTransitionTime?: string;
}

export function isPodActive(pod: SimObject): boolean {
  const phase = pod.status?.phase as string | undefined;
  return !pod.metadata.deletionTimestamp && phase !== 'Succeeded' && phase !== 'Failed';
}

function readyCondition(pod: SimObject): PodCondition | undefined {
  return ((pod.status?.conditions ?? []) as PodCondition[]).find((c) => c.type === 'Ready');
}

export function isPodReady(pod: SimObject): boolean {
  return readyCondition(pod)?.status === 'True';
}

/** podutil.IsPodAvailable: ready for at least minReadySeconds. */
function isPodAvailable(pod: SimObject, minReadySeconds: number, now: number): boolean {
  if (!isPodReady(pod)) return false;
  if (minReadySeconds <= 0) return true;
  const since = parseTime(readyCondition(pod)?.lastTransitionTime);
  return since !== undefined && since + minReadySeconds * 1000 <= now;
}

function restartCount(pod: SimObject): number {
  const statuses = (pod.status?.containerStatuses ?? []) as Array<{ restartCount?: number }>;
  return statuses.reduce((n, s) => n + (s.restartCount ?? 0), 0);
}

/** controller.ActivePods ordering, simplified: the first pods in this order are deleted first. */
function deletionRank(a: SimObject, b: SimObject): number {
  const assigned = (p: SimObject) => (p.spec?.nodeName ? 1 : 0);
  if (assigned(a) !== assigned(b)) return assigned(a) - assigned(b);
  const phaseRank = (p: SimObject) =>
    ({ Pending: 0, Unknown: 1, Running: 2 })[p.status?.phase as string] ?? 0;
  if (phaseRank(a) !== phaseRank(b)) return phaseRank(a) - phaseRank(b);
  const ready = (p: SimObject) => (isPodReady(p) ? 1 : 0);
  if (ready(a) !== ready(b)) return ready(a) - ready(b);
  if (restartCount(a) !== restartCount(b)) return restartCount(b) - restartCount(a);
  const ta = parseTime(a.metadata.creationTimestamp) ?? 0;
  const tb = parseTime(b.metadata.creationTimestamp) ?? 0;
  return tb - ta;
}

export class ReplicaSetController {
  readonly queue: WorkQueue;
  /** Per ReplicaSet key: the last refused create's message and how many refusals in a row. */
  private readonly failures = new Map<string, { message: string; count: number }>();

  constructor(
    private readonly rt: Runtime,
    private readonly events: EventRecorder,
  ) {
    this.queue = new WorkQueue(rt, 'replicaset', (key) => this.syncReplicaSet(key));
  }

  onReplicaSet(rs: SimObject): void {
    this.queue.add(nsKey(rs));
  }

  onPod(pod: SimObject): void {
    const ref = controllerRef(pod);
    if (ref?.kind === 'ReplicaSet') this.queue.add(`${pod.metadata.namespace}/${ref.name}`);
  }

  private syncReplicaSet(key: string): void {
    const { namespace, name } = splitKey(key);
    const rs = this.rt.store.get({ ...REPLICASETS, namespace, name });
    if (!rs) return;
    const owned = this.rt.store
      .list(PODS.group, PODS.resource, { namespace })
      .filter((p) => controllerRef(p)?.uid === rs.metadata.uid);
    let active = owned.filter(isPodActive);
    if (!rs.metadata.deletionTimestamp) active = this.manageReplicas(active, rs);
    this.updateStatus(rs, active, this.failures.get(key)?.message);
    const failure = this.failures.get(key);
    if (failure) {
      const delay = Math.min(FAILED_CREATE_RETRY_MAX_MS, FAILED_CREATE_RETRY_MS * 2 ** (failure.count - 1));
      this.queue.addAfter(key, delay * this.rt.backoffScale);
    }
  }

  private manageReplicas(active: SimObject[], rs: SimObject): SimObject[] {
    const want = (rs.spec?.replicas as number | undefined) ?? 1;
    const diff = active.length - want;
    if (diff < 0) {
      const created: SimObject[] = [];
      for (let i = 0; i < -diff; i++) {
        const pod = this.createPod(rs);
        if (!pod) break;
        created.push(pod);
      }
      if (created.length === -diff) this.failures.delete(nsKey(rs));
      return [...active, ...created];
    }
    if (diff > 0) {
      const victims = [...active].sort(deletionRank).slice(0, diff);
      for (const pod of victims) {
        try {
          this.rt.store.delete({ ...PODS, namespace: pod.metadata.namespace, name: pod.metadata.name });
          this.events.tryRecord(
            rs,
            'Normal',
            'SuccessfulDelete',
            `Deleted pod: ${pod.metadata.name}`,
            SOURCE,
          );
        } catch (err) {
          this.events.tryRecord(
            rs,
            'Warning',
            'FailedDelete',
            `Error deleting: ${errorMessage(err)}`,
            SOURCE,
          );
        }
      }
      const gone = new Set(victims.map((p) => p.metadata.uid));
      return active.filter((p) => !gone.has(p.metadata.uid));
    }
    return active;
  }

  /** controller.GetPodFromTemplate: labels, annotations and finalizers of the template, the RS as controller. */
  private createPod(rs: SimObject): SimObject | undefined {
    const tpl = (rs.spec?.template ?? {}) as {
      metadata?: Record<string, unknown>;
      spec?: Record<string, unknown>;
    };
    const meta: Record<string, unknown> = {};
    const prefix = `${rs.metadata.name}-`;
    meta.generateName = prefix;
    meta.namespace = rs.metadata.namespace;
    if (tpl.metadata?.labels) meta.labels = clone(tpl.metadata.labels);
    if (tpl.metadata?.annotations) meta.annotations = clone(tpl.metadata.annotations);
    meta.ownerReferences = [newControllerRef(rs)];
    if (tpl.metadata?.finalizers) meta.finalizers = clone(tpl.metadata.finalizers);
    const spec = clone(tpl.spec ?? {});
    // The API server generates the name from generateName; we pick it ourselves so that a store without
    // generateName support still gets `<rs>-<5 chars>`. A clash just means another roll of the dice.
    for (let attempt = 0; attempt < 5; attempt++) {
      const pod: SimObject = {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: `${prefix}${randomSuffix(5)}`, ...meta } as SimObject['metadata'],
        spec,
      };
      try {
        const created = this.rt.store.create(pod);
        this.events.tryRecord(
          rs,
          'Normal',
          'SuccessfulCreate',
          `Created pod: ${created.metadata.name}`,
          SOURCE,
        );
        return created;
      } catch (err) {
        if ((err as { body?: { reason?: string } }).body?.reason === 'AlreadyExists') continue;
        this.events.tryRecord(rs, 'Warning', 'FailedCreate', `Error creating: ${errorMessage(err)}`, SOURCE);
        // Quota, admission or a terminating namespace: the real controller reports it and retries.
        if (statusCode(err) === 403 || statusCode(err) === 422) {
          const key = nsKey(rs);
          this.failures.set(key, {
            message: errorMessage(err),
            count: (this.failures.get(key)?.count ?? 0) + 1,
          });
          return undefined;
        }
        throw err;
      }
    }
    return undefined;
  }

  private updateStatus(rs: SimObject, active: SimObject[], failure: string | undefined): void {
    const minReady = (rs.spec?.minReadySeconds as number | undefined) ?? 0;
    const now = this.rt.now().getTime();
    const tplLabels = ((rs.spec?.template as { metadata?: { labels?: Record<string, string> } } | undefined)
      ?.metadata?.labels ?? {}) as Record<string, string>;
    let fullyLabeled = 0;
    let ready = 0;
    let available = 0;
    let waitingForMinReady = false;
    for (const pod of active) {
      if (selectorMatches({ matchLabels: tplLabels }, pod.metadata.labels)) fullyLabeled++;
      if (isPodReady(pod)) {
        ready++;
        if (isPodAvailable(pod, minReady, now)) available++;
        else waitingForMinReady = true;
      }
    }
    // ReplicaSetStatus.replicas has no omitempty (fixture 021: "replicas": 0); the other counts do.
    const status: Record<string, unknown> = { replicas: active.length };
    if (fullyLabeled) status.fullyLabeledReplicas = fullyLabeled;
    if (ready) status.readyReplicas = ready;
    if (available) status.availableReplicas = available;
    const gen = rs.metadata.generation ?? 0;
    if (gen) status.observedGeneration = gen;
    const previous = (rs.status?.conditions as Array<Record<string, unknown>> | undefined) ?? [];
    const conditions = previous.filter((c) => c.type !== 'ReplicaFailure');
    if (failure !== undefined) {
      // Set once and kept while the failure lasts (the real controller does not refresh its message).
      const kept = previous.find((c) => c.type === 'ReplicaFailure');
      conditions.push(
        kept ?? {
          type: 'ReplicaFailure',
          status: 'True',
          lastTransitionTime: rfc3339(this.rt.now()),
          reason: 'FailedCreate',
          message: failure,
        },
      );
    }
    if (conditions.length) status.conditions = conditions;
    if (!deepEqual(rs.status ?? {}, status)) {
      const next = clone(rs);
      next.status = status;
      this.rt.store.updateStatus(next);
    }
    if (waitingForMinReady) this.queue.addAfter(nsKey(rs), Math.max(50, minReady * 1000));
  }
}
