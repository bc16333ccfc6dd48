/**
 * What the real API server adds to every Pod on create, outside of OpenAPI defaulting: the ServiceAccount,
 * DefaultTolerationSeconds and Priority admission plugins and the pod strategy's PrepareForCreate
 * (phase Pending, qosClass). It runs in the store, not the HTTP layer, because the ReplicaSet controller
 * creates its pods through the store and a real one goes through admission too. Every step is idempotent.
 */
import { POD_SPEC_ORDER } from './controllers/util.js';
import type { SimObject } from './types.js';

const SUFFIX_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

/** utilrand.String: the alphabet k8s uses for generateName suffixes and kube-api-access volumes. */
export function randomSuffix(n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += SUFFIX_ALPHABET[Math.floor(Math.random() * SUFFIX_ALPHABET.length)];
  return s;
}

const SA_MOUNT = '/var/run/secrets/kubernetes.io/serviceaccount';

interface Container {
  name?: string;
  volumeMounts?: Array<{ name: string; mountPath: string; readOnly?: boolean }>;
  resources?: { requests?: Record<string, unknown>; limits?: Record<string, unknown> };
}

function containersOf(spec: Record<string, unknown>): Container[] {
  return [
    ...((spec.initContainers as Container[] | undefined) ?? []),
    ...((spec.containers as Container[] | undefined) ?? []),
  ];
}

/** Same rules as the kubelet's qos.GetPodQOS, for cpu and memory. */
export function podQosClass(spec: Record<string, unknown>): 'BestEffort' | 'Burstable' | 'Guaranteed' {
  const containers = containersOf(spec);
  let any = false;
  let guaranteed = containers.length > 0;
  for (const c of containers) {
    const req = c.resources?.requests ?? {};
    const lim = c.resources?.limits ?? {};
    for (const r of ['cpu', 'memory']) {
      if (req[r] !== undefined || lim[r] !== undefined) any = true;
      if (lim[r] === undefined) guaranteed = false;
      else if (req[r] !== undefined && String(req[r]) !== String(lim[r])) guaranteed = false;
    }
  }
  if (!any) return 'BestEffort';
  return guaranteed ? 'Guaranteed' : 'Burstable';
}

export function admitPod(pod: SimObject): void {
  if (!pod.spec) pod.spec = {};
  const spec = pod.spec as Record<string, unknown>;
  spec.serviceAccountName ??= (spec.serviceAccount as string | undefined) ?? 'default';
  spec.serviceAccount = spec.serviceAccountName;

  const volumes = (spec.volumes as Array<{ name: string }> | undefined) ?? [];
  const hasApiAccess = volumes.some((v) => v.name.startsWith('kube-api-access-'));
  if (spec.automountServiceAccountToken !== false && !hasApiAccess) {
    const name = `kube-api-access-${randomSuffix(5)}`;
    const containers = containersOf(spec);
    if (!containers.some((c) => c.volumeMounts?.some((m) => m.mountPath === SA_MOUNT))) {
      volumes.push({
        name,
        projected: {
          sources: [
            { serviceAccountToken: { expirationSeconds: 3607, path: 'token' } },
            { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
            {
              downwardAPI: {
                items: [
                  { path: 'namespace', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } },
                ],
              },
            },
          ],
          defaultMode: 420,
        },
      } as { name: string });
      for (const c of containers) {
        c.volumeMounts = [...(c.volumeMounts ?? []), { name, readOnly: true, mountPath: SA_MOUNT }];
      }
      spec.volumes = volumes;
    }
  }

  const tolerations = (spec.tolerations as Array<{ key?: string }> | undefined) ?? [];
  for (const key of ['node.kubernetes.io/not-ready', 'node.kubernetes.io/unreachable']) {
    if (!tolerations.some((t) => t.key === key)) {
      tolerations.push({ key, operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 } as {
        key: string;
      });
    }
  }
  spec.tolerations = tolerations;
  spec.priority ??= 0;
  spec.enableServiceLinks ??= true;
  spec.preemptionPolicy ??= 'PreemptLowerPriority';

  pod.status = { phase: 'Pending', qosClass: podQosClass(spec) };
  pod.spec = orderPodSpec(spec);
}

export function orderPodSpec(spec: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of POD_SPEC_ORDER) if (k in spec) out[k] = spec[k];
  for (const [k, v] of Object.entries(spec)) if (!(k in out)) out[k] = v;
  return out;
}
