/**
 * Which pod is the docker host: the Ready, non-terminating pod of the Deployment's current ReplicaSet.
 *
 * "Current" is the ReplicaSet controlled by the Deployment (ownerReferences uid) whose
 * `deployment.kubernetes.io/revision` equals the Deployment's. After a rollout the old ReplicaSet (scaled to 0)
 * may still have a terminating pod that is Ready for a few seconds more: never pick it, its dockerd is about
 * to go away with the environment's images.
 */
import { ActionError } from '../errors.js';
import type { KubeClient } from '../kube/client.js';
import { getObject, listObjects } from '../kube/objects.js';
import { condition, controllerOf, rec, selectorOf, str } from '../kube/shapes.js';
import type { KubeObject, TypeRef } from '../kube/types.js';

const DEPLOYMENT: TypeRef = { apiVersion: 'apps/v1', kind: 'Deployment' };
const REPLICA_SET: TypeRef = { apiVersion: 'apps/v1', kind: 'ReplicaSet' };
const POD: TypeRef = { apiVersion: 'v1', kind: 'Pod' };
const REVISION = 'deployment.kubernetes.io/revision';
const TEMPLATE_HASH = 'pod-template-hash';

export interface DockerHostPod {
  name: string;
  /** The pod's first container (the one running dockerd, and the one exec uploads into). */
  container: string;
}

/** No usable docker-host pod; the message says what was seen. */
export class PodNotFoundError extends ActionError {}

export type PodSelection = { ok: true; pod: DockerHostPod } | { ok: false; reason: string };

function podSummary(p: KubeObject): string {
  const phase = str(rec(p.status)?.phase) ?? 'no phase';
  const ready = condition(p, 'Ready')?.status === 'True' ? 'Ready' : 'not Ready';
  const terminating = p.metadata.deletionTimestamp ? ', terminating' : '';
  return `${p.metadata.name} (${phase}, ${ready}${terminating})`;
}

function firstContainer(p: KubeObject): string | undefined {
  const containers = rec(p.spec)?.containers;
  if (!Array.isArray(containers)) return undefined;
  return str(rec(containers[0])?.name);
}

/**
 * Pure selection on already read objects (fixtures in tests). Pods owned by another ReplicaSet, terminating
 * pods and pods that are not Ready are skipped; among several candidates the newest wins.
 */
export function selectDockerHostPod(
  deployment: KubeObject,
  replicaSets: readonly KubeObject[],
  pods: readonly KubeObject[],
): PodSelection {
  const dName = deployment.metadata.name;
  const revision = deployment.metadata.annotations?.[REVISION];
  if (!revision)
    return { ok: false, reason: `Deployment ${dName} has no ${REVISION} annotation yet (not rolled out)` };
  const ownedByDeployment = replicaSets.filter(
    (rs) =>
      controllerOf(rs)?.kind === 'Deployment' &&
      (deployment.metadata.uid === undefined || controllerOf(rs)?.uid === deployment.metadata.uid),
  );
  const current = ownedByDeployment.find((rs) => rs.metadata.annotations?.[REVISION] === revision);
  if (!current) {
    const seen = ownedByDeployment
      .map((rs) => `${rs.metadata.name} (revision ${rs.metadata.annotations?.[REVISION] ?? '?'})`)
      .join(', ');
    return {
      ok: false,
      reason: `no ReplicaSet of Deployment ${dName} has revision ${revision} (saw: ${seen || 'none'})`,
    };
  }
  const hash = current.metadata.labels?.[TEMPLATE_HASH];
  const mine = pods.filter((p) => {
    const owner = controllerOf(p);
    if (owner?.kind !== 'ReplicaSet' || owner.name !== current.metadata.name) return false;
    if (current.metadata.uid !== undefined && owner.uid !== current.metadata.uid) return false;
    if (hash !== undefined && p.metadata.labels?.[TEMPLATE_HASH] !== hash) return false;
    return true;
  });
  const usable = mine
    .filter((p) => !p.metadata.deletionTimestamp && condition(p, 'Ready')?.status === 'True')
    .sort((a, b) => (b.metadata.creationTimestamp ?? '').localeCompare(a.metadata.creationTimestamp ?? ''));
  const chosen = usable[0];
  if (!chosen) {
    const seen = pods.map(podSummary).join(', ');
    return {
      ok: false,
      reason: `no Ready pod of ReplicaSet ${current.metadata.name} (revision ${revision}) of Deployment ${dName}; pods seen: ${seen || 'none'}`,
    };
  }
  const container = firstContainer(chosen);
  if (!container) return { ok: false, reason: `pod ${chosen.metadata.name} has no containers in its spec` };
  return { ok: true, pod: { name: chosen.metadata.name, container } };
}

/** Read the Deployment, its ReplicaSets and Pods, and pick the docker host pod. Throws PodNotFoundError. */
export async function dockerHostPod(
  client: KubeClient,
  args: { namespace: string; deploymentName: string; signal?: AbortSignal },
): Promise<DockerHostPod> {
  const { namespace, deploymentName, signal } = args;
  const deployment = await getObject(client, DEPLOYMENT, namespace, deploymentName, signal);
  if (!deployment)
    throw new PodNotFoundError(`Deployment ${deploymentName} does not exist in namespace "${namespace}"`);
  const selector = selectorOf(deployment);
  if (!selector) throw new PodNotFoundError(`Deployment ${deploymentName} has no spec.selector.matchLabels`);
  const [replicaSets, pods] = await Promise.all([
    listObjects(client, REPLICA_SET, namespace, { labelSelector: selector, signal }),
    listObjects(client, POD, namespace, { labelSelector: selector, signal }),
  ]);
  const picked = selectDockerHostPod(deployment, replicaSets, pods);
  if (!picked.ok)
    throw new PodNotFoundError(`No docker host pod to connect to: ${picked.reason}`, {
      hint: 'The Deployment may still be rolling out, or its pod is not Ready; see the diagnostics above.',
    });
  return picked.pod;
}
