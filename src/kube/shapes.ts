/**
 * Typed views of the few fields of Deployments, ReplicaSets, Pods and Events the kube module reads.
 * Objects stay plain JSON (`KubeObject`); these accessors never throw on missing or odd fields.
 */
import type { KubeObject } from './types.js';

export interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
  lastTransitionTime?: string | null;
  lastUpdateTime?: string | null;
}

export interface DeploymentStatus {
  observedGeneration?: number;
  replicas?: number;
  updatedReplicas?: number;
  readyReplicas?: number;
  availableReplicas?: number;
  unavailableReplicas?: number;
  conditions?: Condition[];
}

export interface ContainerState {
  waiting?: { reason?: string; message?: string };
  running?: { startedAt?: string };
  terminated?: { exitCode?: number; signal?: number; reason?: string; message?: string; finishedAt?: string };
}

export interface ContainerStatus {
  name: string;
  state?: ContainerState;
  lastState?: ContainerState;
  ready?: boolean;
  restartCount?: number;
  image?: string;
  started?: boolean;
}

export type Rec = Record<string, unknown>;

export function rec(v: unknown): Rec | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Rec) : undefined;
}

export function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

export function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

function arr(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

export function conditionsOf(o: KubeObject | undefined): Condition[] {
  const status = rec(o?.status);
  return arr(status?.conditions)
    .map(rec)
    .filter((c): c is Rec => c !== undefined && typeof c.type === 'string' && typeof c.status === 'string')
    .map((c) => ({
      type: c.type as string,
      status: c.status as string,
      reason: str(c.reason),
      message: str(c.message),
      lastTransitionTime: str(c.lastTransitionTime),
      lastUpdateTime: str(c.lastUpdateTime),
    }));
}

export function condition(o: KubeObject | undefined, type: string): Condition | undefined {
  return conditionsOf(o).find((c) => c.type === type);
}

export function deploymentStatus(o: KubeObject): DeploymentStatus {
  const s = rec(o.status) ?? {};
  return {
    observedGeneration: num(s.observedGeneration),
    replicas: num(s.replicas),
    updatedReplicas: num(s.updatedReplicas),
    readyReplicas: num(s.readyReplicas),
    availableReplicas: num(s.availableReplicas),
    unavailableReplicas: num(s.unavailableReplicas),
    conditions: conditionsOf(o),
  };
}

/** `spec.replicas`; the API defaults it to 1. */
export function desiredReplicas(o: KubeObject): number {
  return num(rec(o.spec)?.replicas) ?? 1;
}

/** `spec.selector.matchLabels` as a label selector string (matchExpressions are left out: a superset). */
export function selectorOf(o: KubeObject): string | undefined {
  const labels = rec(rec(rec(o.spec)?.selector)?.matchLabels);
  if (!labels) return undefined;
  const parts = Object.entries(labels)
    .filter(([, v]) => typeof v === 'string')
    .map(([k, v]) => `${k}=${v as string}`);
  return parts.length > 0 ? parts.join(',') : undefined;
}

export function containerStatuses(pod: KubeObject, init = false): ContainerStatus[] {
  const status = rec(pod.status);
  return arr(init ? status?.initContainerStatuses : status?.containerStatuses)
    .map(rec)
    .filter((c): c is Rec => c !== undefined && typeof c.name === 'string')
    .map((c) => ({
      name: c.name as string,
      state: rec(c.state) as ContainerState | undefined,
      lastState: rec(c.lastState) as ContainerState | undefined,
      ready: typeof c.ready === 'boolean' ? c.ready : undefined,
      restartCount: num(c.restartCount),
      image: str(c.image),
      started: typeof c.started === 'boolean' ? c.started : undefined,
    }));
}

export function controllerOf(o: KubeObject): { kind: string; name: string; uid: string } | undefined {
  return o.metadata.ownerReferences?.find((r) => r.controller);
}

/** When an Event last happened: core/v1 lastTimestamp, events.k8s.io series/eventTime, or creation. */
export function eventTime(e: KubeObject): string | undefined {
  const series = rec(e.series);
  return (
    str(e.lastTimestamp) ??
    str(series?.lastObservedTime) ??
    str(e.eventTime) ??
    str(e.firstTimestamp) ??
    e.metadata.creationTimestamp
  );
}

/** Oldest first, by eventTime(). */
export function byEventTime(a: KubeObject, b: KubeObject): number {
  return (eventTime(a) ?? '').localeCompare(eventTime(b) ?? '');
}

export function eventCount(e: KubeObject): number {
  return num(e.count) ?? num(rec(e.series)?.count) ?? 1;
}
