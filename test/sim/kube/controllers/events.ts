/**
 * Events as the two recorders of a real cluster write them (fixtures 090-094):
 * - core/v1 (client-go `record`, used by the kubelet and kube-controller-manager): `source`, `count`,
 *   first/lastTimestamp, `eventTime: null`; an identical event is not written twice but gets count+1.
 * - events.k8s.io/v1 (the scheduler): `source: {}`, null first/lastTimestamp, no count, `eventTime` and
 *   `action` set. Read through core/v1 they look like that; the simulator stores them there directly.
 */
import type { SimObject } from '../types.js';
import type { Runtime } from './runtime.js';
import { isNotFound, rfc3339, rfc3339Micro } from './util.js';

const EVENTS = { group: '', resource: 'events' };

export interface EventSource {
  component: string;
  host?: string;
}

export type EventType = 'Normal' | 'Warning';

export class EventRecorder {
  /** aggregation key -> name of the Event object that counts it */
  private readonly seen = new Map<string, { namespace: string; name: string }>();
  private lastNanos = 0n;
  private readonly enabled: boolean;

  constructor(private readonly rt: Runtime) {
    this.enabled = rt.store.typeForKind('v1', 'Event') !== undefined;
  }

  /** Event names are `<object>.<hex of UnixNano>`; strictly increasing so two events in one ms differ. */
  private eventName(obj: SimObject, now: Date): string {
    let nanos = BigInt(now.getTime()) * 1_000_000n;
    if (nanos <= this.lastNanos) nanos = this.lastNanos + 1n;
    this.lastNanos = nanos;
    return `${obj.metadata.name}.${nanos.toString(16)}`;
  }

  private involvedObject(obj: SimObject, fieldPath?: string): Record<string, unknown> {
    const ref: Record<string, unknown> = { kind: obj.kind };
    if (obj.metadata.namespace) ref.namespace = obj.metadata.namespace;
    ref.name = obj.metadata.name;
    ref.uid = obj.metadata.uid;
    ref.apiVersion = obj.apiVersion;
    ref.resourceVersion = obj.metadata.resourceVersion;
    if (fieldPath) ref.fieldPath = fieldPath;
    return ref;
  }

  /** core/v1 recorder (kubelet, deployment-controller, replicaset-controller). */
  record(
    obj: SimObject,
    type: EventType,
    reason: string,
    message: string,
    source: EventSource,
    fieldPath?: string,
  ): void {
    if (!this.enabled || this.rt.stopped) return;
    const namespace = obj.metadata.namespace ?? 'default';
    const now = this.rt.now();
    const key = [
      obj.metadata.uid,
      fieldPath ?? '',
      type,
      reason,
      message,
      source.component,
      source.host ?? '',
    ].join('\0');
    const prev = this.seen.get(key);
    if (prev) {
      const existing = this.rt.store.get({ ...EVENTS, namespace: prev.namespace, name: prev.name });
      if (existing) {
        existing.count = ((existing.count as number | undefined) ?? 1) + 1;
        existing.lastTimestamp = rfc3339(now);
        try {
          this.rt.store.update(existing);
          return;
        } catch (err) {
          if (!isNotFound(err)) throw err;
        }
      }
    }
    const ev: SimObject = {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name: this.eventName(obj, now), namespace } as SimObject['metadata'],
      involvedObject: this.involvedObject(obj, fieldPath),
      reason,
      message,
      source: source.host
        ? { component: source.component, host: source.host }
        : { component: source.component },
      firstTimestamp: rfc3339(now),
      lastTimestamp: rfc3339(now),
      count: 1,
      type,
      eventTime: null,
      reportingComponent: source.component,
      reportingInstance: source.host ?? '',
    };
    const created = this.rt.store.create(ev);
    this.seen.set(key, { namespace, name: created.metadata.name });
  }

  /** events.k8s.io/v1 recorder (default-scheduler): every call is a new Event. */
  recordV1(
    obj: SimObject,
    type: EventType,
    reason: string,
    action: string,
    message: string,
    reportingController: string,
    reportingInstance: string,
  ): void {
    if (!this.enabled || this.rt.stopped) return;
    const now = this.rt.now();
    this.rt.store.create({
      apiVersion: 'v1',
      kind: 'Event',
      metadata: {
        name: this.eventName(obj, now),
        namespace: obj.metadata.namespace ?? 'default',
      } as SimObject['metadata'],
      involvedObject: this.involvedObject(obj),
      reason,
      message,
      source: {},
      firstTimestamp: null,
      lastTimestamp: null,
      type,
      eventTime: rfc3339Micro(now),
      action,
      reportingComponent: reportingController,
      reportingInstance,
    });
  }

  /** Guarded variants: an event that cannot be written must never break the controller that reports it. */
  tryRecord(...args: Parameters<EventRecorder['record']>): void {
    this.rt.guard(() => this.record(...args), `event ${args[2]}`);
  }

  tryRecordV1(...args: Parameters<EventRecorder['recordV1']>): void {
    this.rt.guard(() => this.recordV1(...args), `event ${args[2]}`);
  }
}
