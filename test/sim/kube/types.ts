/**
 * Internal contract of the Kubernetes API simulator.
 * The store (store.ts) keeps objects and emits watch events; controllers (controllers/) react to them
 * the way kube-controller-manager and the kubelet do. The HTTP layer (server/) only talks to the store.
 */

export interface SimObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    uid: string;
    resourceVersion: string;
    generation?: number;
    creationTimestamp: string;
    deletionTimestamp?: string;
    deletionGracePeriodSeconds?: number;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: Array<{
      apiVersion: string;
      kind: string;
      name: string;
      uid: string;
      controller?: boolean;
      blockOwnerDeletion?: boolean;
    }>;
    finalizers?: string[];
    managedFields?: unknown[];
    generateName?: string;
    [k: string]: unknown;
  };
  // biome-ignore lint/suspicious/noExplicitAny: simulator objects are free-form JSON
  [field: string]: any;
}

/** One served resource type, as in discovery. */
export interface ResourceType {
  group: string; // '' for core
  version: string;
  resource: string; // plural, e.g. 'deployments'
  kind: string;
  namespaced: boolean;
  verbs: string[];
  /** subresources served, e.g. ['status', 'exec', 'portforward'] */
  subresources?: string[];
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface WatchEvent {
  type: WatchEventType;
  object: SimObject;
}

export interface ObjectKey {
  group: string;
  resource: string;
  namespace?: string;
  name: string;
}

export interface ListOptions {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
}

/**
 * The object store. Every mutation bumps the global resourceVersion, stamps it on the object and emits a
 * watch event. Objects returned are deep copies: mutate and pass back through `update`.
 */
export interface Store {
  readonly types: ResourceType[];
  typeForKind(apiVersion: string, kind: string): ResourceType | undefined;
  get(key: ObjectKey): SimObject | undefined;
  list(group: string, resource: string, opts?: ListOptions): SimObject[];
  /** Assigns uid, resourceVersion, creationTimestamp (and generation 1 for kinds with spec). */
  create(obj: SimObject): SimObject;
  /**
   * Replaces the object. Bumps generation when `spec` changed (or, like the real server, when the
   * deletionTimestamp is set on an object with spec). Throws a Conflict when resourceVersion is given and stale.
   */
  update(obj: SimObject): SimObject;
  /** Replaces status only: never bumps generation. */
  updateStatus(obj: SimObject): SimObject;
  /**
   * Deletes with the API server's semantics: objects with finalizers get deletionTimestamp and stay;
   * `Foreground` adds the foregroundDeletion finalizer; `Orphan` removes owner references from dependents.
   * Garbage collection of dependents (ownerReferences) runs after the owner is gone (Background) or
   * before it goes (Foreground).
   */
  delete(key: ObjectKey, propagationPolicy?: 'Foreground' | 'Background' | 'Orphan'): SimObject | undefined;
  /** Subscribe to every event of a resource type (all namespaces). Returns an unsubscribe function. */
  subscribe(group: string, resource: string, fn: (ev: WatchEvent) => void): () => void;
  /** Current global resourceVersion. */
  resourceVersion(): string;
}

/** How the simulated kubelet treats pods. Tests set these to provoke the failures a real cluster shows. */
export interface PodBehaviour {
  /** Delay before a scheduled pod's containers start (ms). */
  startDelayMs: number;
  /** Delay after start before readiness probes pass (ms). */
  readyDelayMs: number;
  /** Images that cannot be pulled: pods get ErrImagePull then ImagePullBackOff. */
  missingImages: Set<string>;
  /** Images whose containers exit 1 at once: CrashLoopBackOff. */
  crashingImages: Set<string>;
  /**
   * What a container of an image writes to its log each time it runs (stdout and stderr together), served by
   * `pods/log` and, for a crashing container with `terminationMessagePolicy: FallbackToLogsOnError`, its tail
   * is the terminated state's message (fixtures 077, 080). Default: nothing.
   */
  containerLogs: Map<string, string>;
  /** Allocatable CPU of the single node, in millicores: requests beyond it make a pod Unschedulable. */
  nodeCpuMillis: number;
  /** Allocatable memory of the single node, in bytes. */
  nodeMemoryBytes: number;
}

/**
 * A hook through which a pod gets a real backend (a Docker engine, in the Docker-bridge issue).
 * Without one, pods are virtual: they become Running and Ready by the clock of PodBehaviour.
 */
export interface PodBackend {
  /** Called when the kubelet would start the pod's containers. Rejecting marks the container as failed. */
  start(pod: SimObject): Promise<void>;
  /** Called when the pod is deleted. */
  stop(pod: SimObject): Promise<void>;
}
