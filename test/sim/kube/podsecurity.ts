/**
 * Pod Security admission, as the real API server enforces it per namespace label
 * `pod-security.kubernetes.io/enforce` (fixtures 099-122): a Pod that violates the level is refused with 403
 * (102, 107), a workload is not (100, 105: only a `Warning` header, `workloadWarning`), so its ReplicaSet
 * fails to create pods (114, 117). Checks implemented: the ones a Docker-in-Docker
 * pod trips (privileged for baseline; plus the four container checks of restricted), in the real messages.
 */
import { StatusError } from './errors.js';
import type { SimObject } from './types.js';

export const ENFORCE_LABEL = 'pod-security.kubernetes.io/enforce';

interface SecurityContext {
  privileged?: boolean;
  allowPrivilegeEscalation?: boolean;
  capabilities?: { drop?: string[] };
  runAsNonRoot?: boolean;
  seccompProfile?: { type?: string };
}

interface Container {
  name: string;
  securityContext?: SecurityContext;
}

function quoteList(names: string[]): string {
  const q = names.map((n) => `"${n}"`).join(', ');
  return names.length === 1 ? `container ${q}` : `containers ${q}`;
}

function podOrContainers(names: string[]): string {
  const q = names.map((n) => `"${n}"`).join(', ');
  return names.length === 1 ? `pod or container ${q}` : `pod or containers ${q}`;
}

/** The violations of `level` (baseline or restricted), in the order the real admission lists them. */
export function podSecurityViolations(level: string, spec: Record<string, unknown>): string[] {
  if (level !== 'baseline' && level !== 'restricted') return [];
  const containers = [
    ...((spec.initContainers as Container[] | undefined) ?? []),
    ...((spec.containers as Container[] | undefined) ?? []),
  ];
  const podSc = (spec.securityContext ?? {}) as SecurityContext;
  const out: string[] = [];
  const privileged = containers.filter((c) => c.securityContext?.privileged === true).map((c) => c.name);
  if (privileged.length)
    out.push(`privileged (${quoteList(privileged)} must not set securityContext.privileged=true)`);
  if (level === 'baseline') return out;
  const escalation = containers
    .filter((c) => c.securityContext?.allowPrivilegeEscalation !== false)
    .map((c) => c.name);
  if (escalation.length)
    out.push(
      `allowPrivilegeEscalation != false (${quoteList(escalation)} must set securityContext.allowPrivilegeEscalation=false)`,
    );
  const caps = containers
    .filter((c) => !c.securityContext?.capabilities?.drop?.includes('ALL'))
    .map((c) => c.name);
  if (caps.length)
    out.push(
      `unrestricted capabilities (${quoteList(caps)} must set securityContext.capabilities.drop=["ALL"])`,
    );
  const nonRoot = containers
    .filter((c) => (c.securityContext?.runAsNonRoot ?? podSc.runAsNonRoot) !== true)
    .map((c) => c.name);
  if (nonRoot.length)
    out.push(`runAsNonRoot != true (${podOrContainers(nonRoot)} must set securityContext.runAsNonRoot=true)`);
  const seccomp = containers
    .filter((c) => {
      const t = c.securityContext?.seccompProfile?.type ?? podSc.seccompProfile?.type;
      return t !== 'RuntimeDefault' && t !== 'Localhost';
    })
    .map((c) => c.name);
  if (seccomp.length)
    out.push(
      `seccompProfile (${podOrContainers(seccomp)} must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")`,
    );
  return out;
}

/** Throws the 403 of fixtures 102/107 when `pod` violates its namespace's enforced level. */
export function enforcePodSecurity(namespace: SimObject | undefined, pod: SimObject): void {
  const level = namespace?.metadata.labels?.[ENFORCE_LABEL];
  if (!level) return;
  const violations = podSecurityViolations(level, (pod.spec ?? {}) as Record<string, unknown>);
  if (violations.length === 0) return;
  const name = pod.metadata.name;
  throw new StatusError(403, {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message: `pods "${name}" is forbidden: violates PodSecurity "${level}:latest": ${violations.join(', ')}`,
    reason: 'Forbidden',
    details: { name, kind: 'pods' },
    code: 403,
  } as ConstructorParameters<typeof StatusError>[1]);
}

const WORKLOAD_TEMPLATES: Record<string, (o: SimObject) => unknown> = {
  Deployment: (o) => o.spec?.template?.spec,
  ReplicaSet: (o) => o.spec?.template?.spec,
  StatefulSet: (o) => o.spec?.template?.spec,
  DaemonSet: (o) => o.spec?.template?.spec,
  Job: (o) => o.spec?.template?.spec,
  CronJob: (o) => o.spec?.jobTemplate?.spec?.template?.spec,
};

/** The `Warning` a workload whose pod template violates the enforced level gets (fixtures 100, 101, 105, 106). */
export function workloadWarning(namespace: SimObject | undefined, obj: SimObject): string | undefined {
  const level = namespace?.metadata.labels?.[ENFORCE_LABEL];
  const template = WORKLOAD_TEMPLATES[obj.kind]?.(obj);
  if (!level || !template || typeof template !== 'object') return undefined;
  const violations = podSecurityViolations(level, template as Record<string, unknown>);
  return violations.length
    ? `would violate PodSecurity "${level}:latest": ${violations.join(', ')}`
    : undefined;
}
