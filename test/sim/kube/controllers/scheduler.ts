/**
 * default-scheduler for the simulator's single node: the NodeResourcesFit filter on cpu and memory
 * requests (the pod's own plus those of pods already bound there), binding, and the events.k8s.io events it
 * writes (fixtures 086, 090, 092). An unschedulable pod is retried when a pod goes away (resources may have
 * been freed) and after the real 5 minute flush interval (scaled by backoffScale).
 */
import type { PodBehaviour, SimObject } from '../types.js';
import type { EventRecorder } from './events.js';
import { nsKey, type Runtime, splitKey, WorkQueue } from './runtime.js';
import { clone, orderKeys, POD_SPEC_ORDER, POD_STATUS_ORDER, parseQuantity, rfc3339 } from './util.js';

export const NODE_NAME = 'sim-node';
/** The well-known labels a kubelet puts on its Node, for nodeSelector. */
export const NODE_LABELS: Record<string, string> = {
  'kubernetes.io/arch': process.arch === 'x64' ? 'amd64' : process.arch,
  'kubernetes.io/hostname': NODE_NAME,
  'kubernetes.io/os': 'linux',
};
const PODS = { group: '', resource: 'pods' };
const UNSCHEDULABLE_FLUSH_MS = 5 * 60 * 1000;

interface ResourceList {
  cpu?: unknown;
  memory?: unknown;
}
interface ContainerResources {
  resources?: { requests?: ResourceList; limits?: ResourceList };
}

export interface PodCondition {
  type: string;
  status: string;
  lastProbeTime: null;
  lastTransitionTime: string;
  reason?: string;
  message?: string;
}

/** A request defaults to the limit when only the limit is set (the API server's defaulting does that). */
function request(c: ContainerResources, name: 'cpu' | 'memory'): number {
  const v = c.resources?.requests?.[name] ?? c.resources?.limits?.[name];
  const n = parseQuantity(v);
  if (Number.isNaN(n)) return 0;
  return name === 'cpu' ? Math.ceil(n * 1000) : Math.ceil(n);
}

/** Effective request: max(sum of containers, largest init container), as the scheduler computes it. */
export function podRequests(pod: SimObject): { cpu: number; memory: number } {
  const containers = (pod.spec?.containers ?? []) as ContainerResources[];
  const inits = (pod.spec?.initContainers ?? []) as ContainerResources[];
  const out = { cpu: 0, memory: 0 };
  for (const r of ['cpu', 'memory'] as const) {
    const total = containers.reduce((n, c) => n + request(c, r), 0);
    const init = inits.reduce((n, c) => Math.max(n, request(c, r)), 0);
    out[r] = Math.max(total, init);
  }
  return out;
}

/** qos.GetPodQOS for cpu and memory; the store's admission normally sets it already. */
export function qosClass(pod: SimObject): string {
  const all = [
    ...((pod.spec?.initContainers ?? []) as ContainerResources[]),
    ...((pod.spec?.containers ?? []) as ContainerResources[]),
  ];
  const requests = new Map<string, number>();
  const limits = new Map<string, number>();
  let guaranteed = true;
  for (const c of all) {
    for (const r of ['cpu', 'memory'] as const) {
      const req = parseQuantity(c.resources?.requests?.[r]);
      const lim = parseQuantity(c.resources?.limits?.[r]);
      if (!Number.isNaN(req) && req !== 0) requests.set(r, (requests.get(r) ?? 0) + req);
      if (!Number.isNaN(lim) && lim !== 0) limits.set(r, (limits.get(r) ?? 0) + lim);
    }
    const cl = c.resources?.limits ?? {};
    if (cl.cpu === undefined || cl.memory === undefined) guaranteed = false;
  }
  if (requests.size === 0 && limits.size === 0) return 'BestEffort';
  if (guaranteed) {
    for (const [r, v] of requests) if (limits.get(r) !== v) guaranteed = false;
  }
  return guaranteed && requests.size === limits.size ? 'Guaranteed' : 'Burstable';
}

function isTerminal(pod: SimObject): boolean {
  const phase = pod.status?.phase as string | undefined;
  return phase === 'Succeeded' || phase === 'Failed';
}

/**
 * A copy of `source` whose PodScheduled condition is `cond`; the phase stays Pending and the QoS class is set
 * (from `pod`'s spec) until the kubelet reports its own.
 */
function withPodScheduled(source: SimObject, pod: SimObject, cond: PodCondition): SimObject {
  const next = clone(source);
  const conditions = ((next.status?.conditions ?? []) as PodCondition[]).filter(
    (c) => c.type !== 'PodScheduled',
  );
  conditions.push(cond);
  next.status = orderKeys(
    {
      ...next.status,
      phase: next.status?.phase ?? 'Pending',
      conditions,
      qosClass: next.status?.qosClass ?? qosClass(pod),
    },
    POD_STATUS_ORDER,
  );
  return next;
}

export class Scheduler {
  readonly queue: WorkQueue;
  private readonly unschedulable = new Set<string>();
  private flushTimer: (() => void) | undefined;

  constructor(
    private readonly rt: Runtime,
    private readonly events: EventRecorder,
    private readonly behaviour: PodBehaviour,
  ) {
    this.queue = new WorkQueue(rt, 'scheduler', (key) => this.schedule(key));
  }

  private wantsScheduling(pod: SimObject): boolean {
    const name = (pod.spec?.schedulerName as string | undefined) ?? 'default-scheduler';
    return (
      !pod.spec?.nodeName &&
      !pod.metadata.deletionTimestamp &&
      !isTerminal(pod) &&
      name === 'default-scheduler'
    );
  }

  onPod(type: string, pod: SimObject): void {
    if (type === 'DELETED') {
      this.unschedulable.delete(nsKey(pod));
      this.retryUnschedulable();
      return;
    }
    if (this.wantsScheduling(pod) && !this.unschedulable.has(nsKey(pod))) this.queue.add(nsKey(pod));
  }

  private retryUnschedulable(): void {
    for (const key of this.unschedulable) this.queue.add(key);
    this.unschedulable.clear();
  }

  private schedule(key: string): void {
    const { namespace, name } = splitKey(key);
    const pod = this.rt.store.get({ ...PODS, namespace, name });
    if (!pod || !this.wantsScheduling(pod)) return;

    // Filters run in the scheduler's order and stop at the first failure: NodeAffinity before NodeResourcesFit.
    const selector = (pod.spec?.nodeSelector ?? {}) as Record<string, string>;
    if (Object.entries(selector).some(([k, v]) => NODE_LABELS[k] !== v)) {
      this.fail(
        pod,
        ["node(s) didn't match Pod's node affinity/selector"],
        'Preemption is not helpful for scheduling.',
      );
      return;
    }
    const req = podRequests(pod);
    const used = { cpu: 0, memory: 0 };
    for (const other of this.rt.store.list(PODS.group, PODS.resource)) {
      if (other.spec?.nodeName !== NODE_NAME || isTerminal(other)) continue;
      const r = podRequests(other);
      used.cpu += r.cpu;
      used.memory += r.memory;
    }
    const reasons: string[] = [];
    if (used.cpu + req.cpu > this.behaviour.nodeCpuMillis) reasons.push('Insufficient cpu');
    if (used.memory + req.memory > this.behaviour.nodeMemoryBytes) reasons.push('Insufficient memory');

    if (reasons.length > 0) this.fail(pod, reasons);
    else this.bind(pod);
  }

  private fail(
    pod: SimObject,
    reasons: string[],
    preemption = 'No preemption victims found for incoming pod.',
  ): void {
    const message = `0/1 nodes are available: ${reasons.map((r) => `1 ${r}`).join(', ')}. preemption: 0/1 nodes are available: 1 ${preemption}`;
    const prev = ((pod.status?.conditions ?? []) as PodCondition[]).find((c) => c.type === 'PodScheduled');
    const next = withPodScheduled(pod, pod, {
      type: 'PodScheduled',
      status: 'False',
      lastProbeTime: null,
      lastTransitionTime: prev?.status === 'False' ? prev.lastTransitionTime : rfc3339(this.rt.now()),
      reason: 'Unschedulable',
      message,
    });
    // Marked first: the MODIFIED event of our own write must not queue another attempt.
    this.unschedulable.add(nsKey(pod));
    const written = this.rt.store.updateStatus(next);
    this.events.tryRecordV1(
      written,
      'Warning',
      'FailedScheduling',
      'Scheduling',
      message,
      'default-scheduler',
      `default-scheduler-${NODE_NAME}`,
    );
    if (!this.flushTimer) {
      this.flushTimer = this.rt.after(
        UNSCHEDULABLE_FLUSH_MS * this.rt.backoffScale,
        () => {
          this.flushTimer = undefined;
          this.retryUnschedulable();
        },
        'unschedulable flush',
      );
    }
  }

  /** The pods/binding subresource: nodeName and PodScheduled=True. The store has no binding, so two writes. */
  private bind(pod: SimObject): void {
    const bound = clone(pod);
    bound.spec = orderKeys({ ...bound.spec, nodeName: NODE_NAME }, POD_SPEC_ORDER);
    const afterBind = this.rt.store.update(bound);
    const next = withPodScheduled(afterBind, pod, {
      type: 'PodScheduled',
      status: 'True',
      lastProbeTime: null,
      lastTransitionTime: rfc3339(this.rt.now()),
    });
    const written = this.rt.store.updateStatus(next);
    this.events.tryRecordV1(
      written,
      'Normal',
      'Scheduled',
      'Binding',
      `Successfully assigned ${pod.metadata.namespace}/${pod.metadata.name} to ${NODE_NAME}`,
      'default-scheduler',
      `default-scheduler-${NODE_NAME}`,
    );
  }
}
