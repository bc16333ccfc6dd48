/**
 * The simulator's control plane and node: Deployment and ReplicaSet controllers, a scheduler and a kubelet for
 * one node (`sim-node`, host IP 10.200.0.1, pod CIDR 10.244.0.0/24), Events, and Endpoints for Services.
 * They react to store events through small work queues and timers, never block the caller, and stop cleanly.
 *
 * Intended differences from a real cluster: pod-template-hash values (FNV-32a of the template's JSON, not of a
 * Go struct dump), node and scheduler instance names, image IDs (sha256 of the image name), the Successfully-pulled
 * event's numbers, the progress-deadline check firing 50 ms after the deadline instead of up to 1 s.
 */

import { Kubelet } from '../../kubelet/pods.js';
import type { PodBackend, PodBehaviour, SimObject, Store, WatchEvent } from '../types.js';
import { DEPLOYMENTS, DeploymentController, REPLICASETS } from './deployment.js';
import { EndpointsController } from './endpoints.js';
import { EventRecorder } from './events.js';
import { ReplicaSetController } from './replicaset.js';
import { type Clock, type ErrorHandler, Runtime } from './runtime.js';
import { Scheduler } from './scheduler.js';

export { HOST_IP } from '../../kubelet/pods.js';
export { NODE_NAME } from './scheduler.js';
export { podTemplateHash } from './util.js';

export interface ControllerOptions {
  /** Source of timestamps and of "now" for the progress deadline. Timers still run on the real clock. */
  clock?: Clock;
  /**
   * Multiplies the kubelet's and scheduler's waits that are long on a real node: CrashLoopBackOff (10s
   * doubling to 300s), image-pull back-off (same), the ~1s between ErrImagePull and ImagePullBackOff, and the
   * 5 minute retry of unschedulable pods. Messages keep the real numbers ("back-off 10s ..."). Tests use
   * e.g. 0.01 to see 10s and 20s back-offs within a few hundred milliseconds. Default 1.
   */
  backoffScale?: number;
  /** Unexpected controller errors (a NotFound race is not one). Default: console.error. */
  onError?: ErrorHandler;
}

export function defaultPodBehaviour(): PodBehaviour {
  return {
    startDelayMs: 50,
    readyDelayMs: 100,
    missingImages: new Set(),
    crashingImages: new Set(),
    containerLogs: new Map(),
    nodeCpuMillis: 4000,
    nodeMemoryBytes: 16 * 1024 ** 3,
  };
}

export function startControllers(
  store: Store,
  pods: PodBehaviour,
  backend?: PodBackend,
  opts: ControllerOptions = {},
): { stop(): Promise<void> } {
  const onError: ErrorHandler =
    opts.onError ?? ((err, context) => console.error(`[kube-sim controllers] ${context}:`, err));
  const rt = new Runtime(store, opts.clock ?? { now: () => new Date() }, opts.backoffScale ?? 1, onError);
  const events = new EventRecorder(rt);
  const deployments = new DeploymentController(rt, events);
  const replicaSets = new ReplicaSetController(rt, events);
  const scheduler = new Scheduler(rt, events, pods);
  const kubelet = new Kubelet(rt, events, pods, backend);
  const endpoints = new EndpointsController(rt);

  const has = (group: string, resource: string) =>
    store.types.some((t) => t.group === group && t.resource === resource);
  const unsubscribe: Array<() => void> = [];
  const on = (group: string, resource: string, fn: (ev: WatchEvent) => void) => {
    if (!has(group, resource)) return;
    // Subscribers run inside the store's write: they only enqueue, the work happens on the next turn.
    unsubscribe.push(store.subscribe(group, resource, (ev) => rt.guard(() => fn(ev), `${resource} event`)));
  };

  on(DEPLOYMENTS.group, DEPLOYMENTS.resource, (ev) => {
    if (ev.type !== 'DELETED') deployments.onDeployment(ev.object);
  });
  on(REPLICASETS.group, REPLICASETS.resource, (ev) => {
    deployments.onReplicaSet(ev.object);
    if (ev.type !== 'DELETED') replicaSets.onReplicaSet(ev.object);
  });
  on('', 'pods', (ev) => {
    replicaSets.onPod(ev.object);
    if (ev.type === 'DELETED') deployments.onPodDeleted(ev.object);
    scheduler.onPod(ev.type, ev.object);
    kubelet.onPod(ev.object);
    endpoints.onPod(ev.object);
  });
  on('', 'services', (ev) => endpoints.onService(ev.object));

  // Like informers' initial list: objects that existed before we started are reconciled too.
  const initial = (group: string, resource: string, fn: (o: SimObject) => void) => {
    if (has(group, resource)) for (const o of store.list(group, resource)) fn(o);
  };
  initial(DEPLOYMENTS.group, DEPLOYMENTS.resource, (o) => deployments.onDeployment(o));
  initial(REPLICASETS.group, REPLICASETS.resource, (o) => replicaSets.onReplicaSet(o));
  initial('', 'pods', (o) => {
    scheduler.onPod('ADDED', o);
    kubelet.onPod(o);
  });
  initial('', 'services', (o) => endpoints.onService(o));

  let stopping: Promise<void> | undefined;
  return {
    stop(): Promise<void> {
      stopping ??= (async () => {
        for (const u of unsubscribe) u();
        // Backends are stopped too: a Docker-backed pod must not outlive the simulator.
        kubelet.shutdown();
        await rt.stop();
      })();
      return stopping;
    },
  };
}
