/**
 * What to do about a docker host that is not ready: one hint per cause recognised in the report's objects
 * (src/environment/diagnose.ts collects them).
 */
import { condition, containerStatuses } from '../kube/shapes.js';
import { type DiagnosticsInput, eventsFor } from './diagnose.js';

const IMAGE_REASONS = new Set(['ErrImagePull', 'ImagePullBackOff', 'ErrImageNeverPull', 'InvalidImageName']);

/** What to do about it: one line per recognised cause. */
export function diagnosisHints(input: DiagnosticsInput): string[] {
  const hints = new Set<string>();
  const ns = input.namespace ? ` -n ${input.namespace}` : '';
  for (const pod of input.pods) {
    for (const cs of [...containerStatuses(pod, true), ...containerStatuses(pod)]) {
      const waiting = cs.state?.waiting?.reason;
      if (waiting && IMAGE_REASONS.has(waiting)) {
        const what =
          waiting === 'ErrImageNeverPull'
            ? 'it is not on the node and its imagePullPolicy is Never: load it onto the node, or let it be pulled (imagePullPolicy IfNotPresent)'
            : waiting === 'InvalidImageName'
              ? 'the reference is not a valid image name: fix it in the template'
              : 'check the image name and tag, that the registry is reachable from the cluster, and that the cluster may pull it (imagePullSecrets for a private registry)';
        hints.add(`The image of container ${cs.name} cannot be pulled (${waiting}): ${what}.`);
      } else if (waiting === 'CrashLoopBackOff' || (cs.lastState?.terminated?.exitCode ?? 0) !== 0) {
        hints.add(
          `Container ${cs.name} keeps exiting: see its output with \`kubectl logs${ns} ${pod.metadata.name} -c ${cs.name} --previous\`. Docker-in-Docker needs a privileged container (or Sysbox) and a storage driver that works on the node.`,
        );
      } else if (waiting === 'CreateContainerConfigError' || waiting === 'CreateContainerError') {
        hints.add(
          `Container ${cs.name} refers to a ConfigMap or Secret (or a key of one) that does not exist${input.namespace ? ` in namespace ${input.namespace}` : ''}: create it, or fix the reference in the template.`,
        );
      }
    }
    const scheduled = condition(pod, 'PodScheduled');
    if (scheduled?.status === 'False' && scheduled.reason === 'Unschedulable') {
      hints.add(
        "No node can run the pod: lower its resource requests, or check nodeSelector, affinity, tolerations and the cluster's free capacity.",
      );
    }
    const ready = condition(pod, 'Ready');
    const running = containerStatuses(pod).some((c) => c.state?.running);
    if (
      ready?.status === 'False' &&
      running &&
      eventsFor(input.events, 'Pod', pod.metadata.name).some((e) => e.reason === 'Unhealthy')
    ) {
      hints.add('The readiness probe fails: is dockerd listening on port 2375 in the docker host container?');
    }
  }
  for (const o of [input.deployment, ...(input.replicaSets ?? [])]) {
    const failure = o ? condition(o, 'ReplicaFailure') : undefined;
    if (failure?.status === 'True' && failure.message?.includes('violates PodSecurity')) {
      const label = 'pod-security.kubernetes.io/enforce=privileged';
      const ns = input.namespace ?? '<namespace>';
      hints.add(
        `The namespace's Pod Security level forbids the privileged docker host pod: a cluster admin can allow it with \`kubectl label namespace ${ns} ${label} --overwrite\`; otherwise deploy to a namespace labelled ${label}, or use the rootless-sysbox template on a cluster that runs Sysbox (no privileged container: it passes the baseline level, not restricted).`,
      );
    } else if (failure?.status === 'True') {
      hints.add(
        `Pods cannot be created (${failure.reason ?? 'ReplicaFailure'}): ${failure.message ?? ''} — a Pod Security level, a quota, or a missing ServiceAccount usually causes this.`,
      );
    }
  }
  return [...hints];
}
