/**
 * The docker host pod across a deploy (bridge/deploy.ts): whether it is still the one the deploy started on, and
 * finding it again once its Deployment rolled out anew. A pod that was replaced, or whose containers restarted,
 * took dockerd (and perhaps the uploaded files) with it.
 */
import { type DockerHostPod, dockerHostPod, PodNotFoundError } from '../environment/pods.js';
import { waitForRollout } from '../environment/wait.js';
import type { KubeClient } from '../kube/client.js';
import { getObject } from '../kube/objects.js';
import { rec } from '../kube/shapes.js';
import type { KubeObject } from '../kube/types.js';
import type { Log } from '../util/log.js';
import { sleep } from '../util/sleep.js';

/** The pod as the deploy found it. */
export interface PodWatch {
  /** Why the pod is not the one the deploy started on any more, or undefined when it still is (or cannot tell). */
  changed(): Promise<string | undefined>;
}

/** Reads the pod now, for `changed()` to compare with later. */
export async function watchPod(client: KubeClient, namespace: string, name: string): Promise<PodWatch> {
  const seen = await podIdentity(client, namespace, name);
  return { changed: () => podChange(client, namespace, name, seen) };
}

/** What tells a replaced or restarted pod: its uid, and its containers' restarts. */
interface PodIdentity {
  uid?: string;
  restarts: number;
}

function restartsOf(p: KubeObject): number {
  const statuses = rec(p.status)?.containerStatuses;
  if (!Array.isArray(statuses)) return 0;
  return statuses.reduce((n: number, c: unknown) => {
    const count = rec(c)?.restartCount;
    return n + (typeof count === 'number' ? count : 0);
  }, 0);
}

async function podIdentity(
  client: KubeClient,
  namespace: string,
  name: string,
): Promise<PodIdentity | undefined> {
  try {
    const p = await getObject(client, { apiVersion: 'v1', kind: 'Pod' }, namespace, name);
    return p && { uid: p.metadata.uid, restarts: restartsOf(p) };
  } catch {
    // Without a reading to compare with, a later change cannot be told: the deploy just goes without it.
    return undefined;
  }
}

async function podChange(
  client: KubeClient,
  namespace: string,
  name: string,
  seen: PodIdentity | undefined,
): Promise<string | undefined> {
  if (!seen) return undefined;
  let p: KubeObject | undefined;
  try {
    p = await getObject(client, { apiVersion: 'v1', kind: 'Pod' }, namespace, name);
  } catch {
    return undefined;
  }
  if (!p) return `The docker host pod ${name} was deleted`;
  if (p.metadata.uid !== seen.uid) return `The docker host pod ${name} was replaced`;
  if (p.metadata.deletionTimestamp) return `The docker host pod ${name} is being deleted`;
  const restarts = restartsOf(p);
  if (restarts > seen.restarts)
    return `A container of the docker host pod ${name} restarted (${restarts - seen.restarts} time(s))`;
  return undefined;
}

/** The Deployment rolled out and its pod Ready again, within the ready timeout. */
export async function readyDockerHost(
  client: KubeClient,
  args: { namespace: string; deploymentName: string; readyTimeoutMs: number; log: Log },
): Promise<DockerHostPod> {
  const deadline = Date.now() + args.readyTimeoutMs;
  for (;;) {
    await waitForRollout(client, {
      namespace: args.namespace,
      name: args.deploymentName,
      timeoutMs: Math.max(1000, deadline - Date.now()),
      log: args.log,
    });
    try {
      return await dockerHostPod(client, { namespace: args.namespace, deploymentName: args.deploymentName });
    } catch (err) {
      // The rollout status can lag behind a pod that just went away.
      if (!(err instanceof PodNotFoundError) || Date.now() >= deadline) throw err;
      await sleep(1000);
    }
  }
}
