import { createHash } from 'node:crypto';
import { ANNOTATIONS, envAnnotations, envLabels, isDockerHost } from '../identity.js';
import { type KubeObject, typeKey } from '../kube/types.js';

export interface StampOptions {
  envId: string;
  id: string;
  templateHash: string;
  /** Pass the existing environment's value on re-deploys, so created-at keeps meaning "created". */
  createdAt: Date | string;
  /** The workflow run URL. */
  deployedBy: string;
  pr?: number;
}

/** Changes when the rendered manifests change; recorded on every object to tell which render made it. */
export function templateHash(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}

/**
 * Adds the environment's labels and annotations. Labels also go on pod templates, so pods (and a StatefulSet's
 * PVCs) can be found by env id. `spec.selector` is never touched: it is immutable on Deployments, and a
 * changed selector would make every re-apply fail.
 */
export function stampManifests(objs: readonly KubeObject[], opts: StampOptions): KubeObject[] {
  const labels = envLabels(opts.envId, opts.id);
  const annotations = envAnnotations(opts);
  const allTypes = [...new Set(objs.map(typeKey))].sort().join(',');

  return objs.map((input) => {
    const o = structuredClone(input);
    o.metadata.labels = { ...o.metadata.labels, ...labels };
    o.metadata.annotations = {
      ...o.metadata.annotations,
      ...annotations,
      ...(isDockerHost(input) ? { [ANNOTATIONS.allTypes]: allTypes } : {}),
    };
    for (const meta of podTemplateMetadata(o)) meta.labels = { ...asStringRecord(meta.labels), ...labels };
    return o;
  });
}

/** The metadata objects of the pod templates (and claim templates) inside a workload, created if absent. */
function podTemplateMetadata(o: KubeObject): Array<Record<string, unknown>> {
  const spec = record(o.spec);
  if (!spec) return [];
  switch (o.kind) {
    case 'Deployment':
    case 'ReplicaSet':
    case 'DaemonSet':
    case 'Job':
      return metadataOf(spec.template);
    case 'StatefulSet':
      return [
        ...metadataOf(spec.template),
        ...(Array.isArray(spec.volumeClaimTemplates) ? spec.volumeClaimTemplates.flatMap(metadataOf) : []),
      ];
    case 'CronJob': {
      const jobTemplate = record(spec.jobTemplate);
      return [...metadataOf(jobTemplate), ...metadataOf(record(jobTemplate?.spec)?.template)];
    }
    default:
      return [];
  }
}

function metadataOf(holder: unknown): Array<Record<string, unknown>> {
  const h = record(holder);
  if (!h) return [];
  const existing = record(h.metadata);
  if (existing) return [existing];
  const created: Record<string, unknown> = {};
  h.metadata = created;
  return [created];
}

function record(v: unknown): Record<string, unknown> | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
    ? (v as Record<string, unknown>)
    : undefined;
}

function asStringRecord(v: unknown): Record<string, string> {
  return (record(v) as Record<string, string> | undefined) ?? {};
}

/**
 * Groups in apply order: what pods reference (accounts, secrets, config, claims, RBAC, services) comes
 * before the workloads, and what references workloads (ingress, autoscalers, disruption budgets) after.
 */
const APPLY_RANK = new Map<string, number>([
  ['ServiceAccount', 0],
  ['Secret', 1],
  ['ConfigMap', 2],
  ['PersistentVolumeClaim', 3],
  ['Role', 4],
  ['RoleBinding', 5],
  ['Service', 6],
  ['Deployment', 8],
  ['StatefulSet', 8],
  ['DaemonSet', 8],
  ['ReplicaSet', 8],
  ['Pod', 8],
  ['Job', 8],
  ['CronJob', 8],
  ['Ingress', 9],
  ['HorizontalPodAutoscaler', 9],
  ['PodDisruptionBudget', 9],
]);
const OTHER_RANK = 7;

/** Stable: objects of one group keep the template's order. */
export function applyOrder(objs: readonly KubeObject[]): KubeObject[] {
  return objs
    .map((o, i) => ({ o, i, rank: APPLY_RANK.get(o.kind) ?? OTHER_RANK }))
    .sort((a, b) => a.rank - b.rank || a.i - b.i)
    .map(({ o }) => o);
}

export function deleteOrder(objs: readonly KubeObject[]): KubeObject[] {
  return applyOrder(objs).reverse();
}
