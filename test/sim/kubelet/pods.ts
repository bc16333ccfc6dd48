/**
 * The kubelet of the single simulated node: runs the pods bound to it on a clock (PodBehaviour), or through a
 * PodBackend, and reports what a real kubelet reports (fixtures 015, 084-086, 090-094): pod phase, the five
 * conditions in the kubelet's order, IPs, container states, restart counts, and core/v1 events with counts.
 *
 * Failure modes:
 * - image in `missingImages`, or from a registry named under `invalid` (never resolves, fixtures 074-075):
 *   ErrImageNeverPull for pull policy Never; otherwise ErrImagePull, then ImagePullBackOff until the next pull
 *   attempt (back-off 10s doubling to 300s).
 * - image in `crashingImages`, or a rejected `backend.start`: the container runs briefly and exits 1; the first
 *   restart is immediate, later ones wait in CrashLoopBackOff (10s, 20s, ... 300s, as the kubelet does). Between
 *   an exit and the back-off the pod shows `state.terminated` with an identical `lastState.terminated` for a
 *   sync (fixture 077), then `waiting: CrashLoopBackOff` (fixture 124): a reader must recognise both.
 *   With `terminationMessagePolicy: FallbackToLogsOnError` the terminated message is the log's tail.
 * - env from a ConfigMap or Secret (key) that does not exist: `CreateContainerConfigError` with the kubelet's
 *   message (fixtures 089, 093), retried every 10s (scaled) until the object appears.
 * All back-off waits are multiplied by the runtime's backoffScale; the messages keep the real durations.
 *
 * Deletion: a pod that gets a deletionTimestamp has its containers stopped (backend.stop), is reported
 * terminal, and is then removed with a zero grace period (store.delete with DeleteOptions).
 */
import { createHash, randomBytes } from 'node:crypto';
import type { EventRecorder, EventType } from '../kube/controllers/events.js';
import { nsKey, type Runtime, splitKey, WorkQueue } from '../kube/controllers/runtime.js';
import { NODE_NAME, qosClass } from '../kube/controllers/scheduler.js';
import {
  clone,
  deepEqual,
  errorMessage,
  orderKeys,
  POD_STATUS_ORDER,
  rfc3339,
  statusCode,
} from '../kube/controllers/util.js';
import type { PodBackend, PodBehaviour, SimObject } from '../kube/types.js';

const PODS = { group: '', resource: 'pods' };
export const HOST_IP = '10.200.0.1';
const SOURCE = { component: 'kubelet', host: NODE_NAME };
/** How long a crashing container "runs" before it exits, and the pause before the first restart. */
const CRASH_RUN_MS = 10;
/** Time between stopping a deleted pod's containers and removing the pod. */
const TERMINATE_MS = 20;
/** Time between ErrImagePull and the ImagePullBackOff of the next pod sync (about a second in reality). */
const PULL_RESYNC_MS = 1000;
const BACKOFF_BASE_S = 10;
const BACKOFF_MAX_S = 300;
/** How long an exited container shows `state.terminated` before the kubelet's next sync reports the back-off. */
const TERMINATED_SYNC_MS = 1000;
/** The kubelet's retry of a container whose ConfigMap or Secret is missing (a pod resync). */
const CONFIG_RETRY_MS = 10_000;
/** kubecontainer.MaxContainerTerminationMessageLogLines / ...LogLength: the FallbackToLogsOnError tail. */
const FALLBACK_LOG_LINES = 80;
const FALLBACK_LOG_BYTES = 2048;

type Json = Record<string, unknown>;

interface KeyRef {
  name?: string;
  key?: string;
  optional?: boolean;
}

interface ContainerSpec {
  name: string;
  image: string;
  imagePullPolicy?: string;
  terminationMessagePolicy?: string;
  env?: Array<{ name: string; valueFrom?: { configMapKeyRef?: KeyRef; secretKeyRef?: KeyRef } }>;
  envFrom?: Array<{ configMapRef?: KeyRef; secretRef?: KeyRef }>;
  readinessProbe?: unknown;
  volumeMounts?: Array<{ name: string; mountPath: string; readOnly?: boolean }>;
}

interface ContainerRt {
  spec: ContainerSpec;
  state: Json;
  lastState: Json;
  ready: boolean;
  started: boolean;
  restartCount: number;
  imageID: string;
  containerID?: string;
  pullFailures: number;
}

interface PodRt {
  key: string;
  uid: string;
  namespace: string;
  name: string;
  pod: SimObject;
  startTime: string;
  ip?: string;
  sandboxReady: boolean;
  containers: ContainerRt[];
  initContainers: ContainerSpec[];
  condTimes: Map<string, { status: string; time: string }>;
  timers: Set<() => void>;
  backend: 'none' | 'starting' | 'started' | 'failed';
  backendAttempted: boolean;
  backendStart?: Promise<void>;
  backendError?: string;
  backendStopped: boolean;
  terminating: boolean;
  /** Containers stopped for deletion: phase Succeeded/Failed, conditions PodCompleted. */
  terminal: boolean;
  gone: boolean;
}

function backoffSeconds(n: number): number {
  return Math.min(BACKOFF_MAX_S, BACKOFF_BASE_S * 2 ** Math.max(0, n - 1));
}

/** The kubelet's default: Always for `:latest` or untagged images, IfNotPresent otherwise. */
function pullPolicy(c: ContainerSpec): string {
  if (c.imagePullPolicy) return c.imagePullPolicy;
  const last = c.image.split('/').pop() ?? '';
  if (c.image.includes('@')) return 'IfNotPresent';
  return !last.includes(':') || last.endsWith(':latest') ? 'Always' : 'IfNotPresent';
}

/** containerd's normalized reference (docker.io/library/..., :latest), as its pull errors print it. */
function normalizedRef(image: string): string {
  const parts = image.split('/');
  const first = parts[0] ?? '';
  const hasDomain = parts.length > 1 && (first.includes('.') || first.includes(':') || first === 'localhost');
  let ref = hasDomain ? image : parts.length === 1 ? `docker.io/library/${image}` : `docker.io/${image}`;
  const last = ref.split('/').pop() ?? '';
  if (!last.includes(':') && !ref.includes('@')) ref += ':latest';
  return ref;
}

/**
 * The containerd error for a reference that cannot be pulled: a registry named under `invalid` (RFC 6761: no
 * resolver answers it) fails its lookup, as fixtures 074-075 recorded on a real node; any other missing
 * image is "not found" at its registry.
 */
function pullError(image: string): string {
  const ref = normalizedRef(image);
  const [host = '', ...rest] = ref.split('/');
  if (!unpullable(image)) {
    return `rpc error: code = NotFound desc = failed to pull and unpack image "${ref}": failed to resolve reference "${ref}": ${ref}: not found`;
  }
  const repoPath = rest.join('/');
  const tag = repoPath.includes('@') ? repoPath.split('@')[1] : (repoPath.split(':')[1] ?? 'latest');
  const repo = repoPath.split(/[:@]/)[0];
  const hostName = host.split(':')[0];
  return `failed to pull and unpack image "${ref}": failed to resolve reference "${ref}": failed to do request: Head "https://${host}/v2/${repo}/manifests/${tag}": dial tcp: lookup ${hostName} on 10.255.255.53:53: no such host`;
}

/**
 * A registry named under `invalid` (RFC 6761 reserves it: no resolver answers) fails its pull on any node, untold.
 * Other reserved names (`registry.example`) stay pullable: tests name images there that the simulator is told about.
 */
function unpullable(image: string): boolean {
  const host = (normalizedRef(image).split('/')[0] ?? '').split(':')[0] ?? '';
  return host.split('.').includes('invalid');
}

function imageIdFor(image: string): string {
  return `sha256:${createHash('sha256').update(image).digest('hex')}`;
}

/** The last lines of a log as the kubelet keeps them for FallbackToLogsOnError. */
function logTail(log: string): string {
  const lines = log.split('\n');
  const trailing = lines.at(-1) === '' ? 1 : 0;
  let tail = lines.slice(-(FALLBACK_LOG_LINES + trailing)).join('\n');
  if (Buffer.byteLength(tail) > FALLBACK_LOG_BYTES)
    tail = Buffer.from(tail).subarray(-FALLBACK_LOG_BYTES).toString();
  return tail;
}

function fieldPath(c: ContainerRt): string {
  return `spec.containers{${c.spec.name}}`;
}

/** host-local IPAM on 10.244.0.0/24: sequential, wrapping, .1 is the bridge. */
class Ipam {
  private readonly used = new Set<number>();
  private next = 2;

  allocate(): string {
    for (let i = 0; i < 253; i++) {
      const n = ((this.next - 2 + i) % 253) + 2;
      if (!this.used.has(n)) {
        this.used.add(n);
        this.next = n + 1;
        return `10.244.0.${n}`;
      }
    }
    throw new Error(
      'failed to allocate for range 0: no IP addresses available in range set: 10.244.0.1-10.244.0.254',
    );
  }

  release(ip: string | undefined): void {
    if (ip) this.used.delete(Number(ip.split('.')[3]));
  }
}

export class Kubelet {
  readonly queue: WorkQueue;
  private readonly pods = new Map<string, PodRt>();
  private readonly ipam = new Ipam();

  constructor(
    private readonly rt: Runtime,
    private readonly events: EventRecorder,
    private readonly behaviour: PodBehaviour,
    private readonly backend: PodBackend | undefined,
  ) {
    this.queue = new WorkQueue(rt, 'kubelet', (key) => this.sync(key));
  }

  onPod(pod: SimObject): void {
    this.queue.add(nsKey(pod));
  }

  /** Stops every pod's timers and backend (stop() of the controllers); the pods stay in the store. */
  shutdown(): void {
    for (const pr of this.pods.values()) this.cleanup(pr);
    this.pods.clear();
  }

  // ---- sync

  private sync(key: string): void {
    const { namespace, name } = splitKey(key);
    const pod = this.rt.store.get({ ...PODS, namespace, name });
    let pr = this.pods.get(key);
    if (pr && (!pod || pod.metadata.uid !== pr.uid)) {
      this.cleanup(pr);
      this.pods.delete(key);
      pr = undefined;
    }
    if (!pod) return;
    if (pod.spec?.nodeName !== NODE_NAME) {
      // Nobody else would finish the deletion of a pod that was never bound.
      if (pod.metadata.deletionTimestamp && !pod.spec?.nodeName) this.finalize(key, pod.metadata.uid);
      return;
    }
    if (pr) pr.pod = pod;
    if (pod.metadata.deletionTimestamp) {
      this.terminate(pr ?? this.newRuntime(pod));
      return;
    }
    const phase = pod.status?.phase as string | undefined;
    if (!pr && phase !== 'Succeeded' && phase !== 'Failed') this.admit(pod);
  }

  private newRuntime(pod: SimObject): PodRt {
    const containers = ((pod.spec?.containers ?? []) as ContainerSpec[]).map(
      (spec): ContainerRt => ({
        spec,
        state: { waiting: { reason: 'ContainerCreating' } },
        lastState: {},
        ready: false,
        started: false,
        restartCount: 0,
        imageID: '',
        pullFailures: 0,
      }),
    );
    const pr: PodRt = {
      key: nsKey(pod),
      uid: pod.metadata.uid,
      namespace: pod.metadata.namespace ?? 'default',
      name: pod.metadata.name,
      pod,
      startTime: rfc3339(this.rt.now()),
      sandboxReady: false,
      containers,
      initContainers: (pod.spec?.initContainers ?? []) as ContainerSpec[],
      condTimes: new Map(),
      timers: new Set(),
      backend: 'none',
      backendAttempted: false,
      backendStopped: false,
      terminating: false,
      terminal: false,
      gone: false,
    };
    this.pods.set(pr.key, pr);
    return pr;
  }

  private admit(pod: SimObject): void {
    const pr = this.newRuntime(pod);
    this.publish(pr);
    this.podAfter(pr, this.behaviour.startDelayMs, () => this.sandbox(pr));
  }

  /** A timer that dies with the pod: nothing fires for a pod that is terminating or gone. */
  private podAfter(pr: PodRt, ms: number, fn: () => void): void {
    const cancel = this.rt.after(
      ms,
      () => {
        pr.timers.delete(cancel);
        if (!pr.gone && !pr.terminating) fn();
      },
      `kubelet ${pr.key}`,
    );
    pr.timers.add(cancel);
  }

  private event(pr: PodRt, type: EventType, reason: string, message: string, c?: ContainerRt): void {
    this.events.tryRecord(pr.pod, type, reason, message, SOURCE, c ? fieldPath(c) : undefined);
  }

  // ---- start-up

  private sandbox(pr: PodRt): void {
    pr.ip = this.ipam.allocate();
    pr.sandboxReady = true;
    const startable = pr.containers.filter((c) => this.ensureImage(pr, c));
    if (startable.length > 0) this.startContainers(pr, startable);
    else this.publish(pr);
  }

  /** EnsureImageExists: true when the container can be created now; otherwise sets its waiting state. */
  private ensureImage(pr: PodRt, c: ContainerRt): boolean {
    const image = c.spec.image;
    const policy = pullPolicy(c.spec);
    const missing = this.behaviour.missingImages.has(image) || unpullable(image);
    if (!missing) {
      if (policy === 'Always') {
        this.event(pr, 'Normal', 'Pulling', `Pulling image "${image}"`, c);
        this.event(
          pr,
          'Normal',
          'Pulled',
          `Successfully pulled image "${image}" in 1ms (1ms including waiting). Image size: 0 bytes.`,
          c,
        );
      } else {
        this.event(pr, 'Normal', 'Pulled', `Container image "${image}" already present on machine`, c);
      }
      return true;
    }
    c.pullFailures++;
    if (policy === 'Never') {
      const msg = `Container image "${image}" is not present with pull policy of Never`;
      c.state = { waiting: { reason: 'ErrImageNeverPull', message: msg } };
      this.event(pr, 'Warning', 'ErrImageNeverPull', msg, c);
      this.event(pr, 'Warning', 'Failed', 'Error: ErrImageNeverPull', c);
      this.podAfter(pr, backoffSeconds(c.pullFailures) * 1000 * this.rt.backoffScale, () =>
        this.retryImage(pr, c),
      );
      return false;
    }
    const err = pullError(image);
    this.event(pr, 'Normal', 'Pulling', `Pulling image "${image}"`, c);
    c.state = { waiting: { reason: 'ErrImagePull', message: err } };
    this.event(pr, 'Warning', 'Failed', `Failed to pull image "${image}": ${err}`, c);
    this.event(pr, 'Warning', 'Failed', 'Error: ErrImagePull', c);
    this.podAfter(pr, PULL_RESYNC_MS * this.rt.backoffScale, () => {
      c.state = {
        waiting: {
          reason: 'ImagePullBackOff',
          message: `Back-off pulling image "${image}": ErrImagePull: ${err}`,
        },
      };
      this.event(pr, 'Normal', 'BackOff', `Back-off pulling image "${image}"`, c);
      this.event(pr, 'Warning', 'Failed', 'Error: ImagePullBackOff', c);
      this.publish(pr);
      this.podAfter(pr, backoffSeconds(c.pullFailures) * 1000 * this.rt.backoffScale, () =>
        this.retryImage(pr, c),
      );
    });
    return false;
  }

  private retryImage(pr: PodRt, c: ContainerRt): void {
    if (this.ensureImage(pr, c)) this.startContainers(pr, [c]);
    else this.publish(pr);
  }

  private crashes(c: ContainerRt): boolean {
    return this.behaviour.crashingImages.has(c.spec.image);
  }

  /**
   * The kubelet's makeEnvironmentVariables: a missing ConfigMap or Secret, or key, fails the container's
   * creation (fixtures 089, 093). Returns the message, or undefined when every reference resolves.
   */
  private configError(pr: PodRt, c: ContainerRt): string | undefined {
    const lookup = (resource: 'configmaps' | 'secrets', ref: KeyRef, key?: string): string | undefined => {
      if (ref.optional || !ref.name) return undefined;
      const obj = this.rt.store.get({ group: '', resource, namespace: pr.namespace, name: ref.name });
      const kind = resource === 'configmaps' ? 'configmap' : 'secret';
      if (!obj) return `${kind} "${ref.name}" not found`;
      if (key === undefined) return undefined;
      const data = { ...(obj.data ?? {}), ...(obj.binaryData ?? {}), ...(obj.stringData ?? {}) };
      if (key in data) return undefined;
      return `couldn't find key ${key} in ${resource === 'configmaps' ? 'ConfigMap' : 'Secret'} ${pr.namespace}/${ref.name}`;
    };
    for (const from of c.spec.envFrom ?? []) {
      const err =
        (from.configMapRef && lookup('configmaps', from.configMapRef)) ||
        (from.secretRef && lookup('secrets', from.secretRef));
      if (err) return err;
    }
    for (const e of c.spec.env ?? []) {
      const cm = e.valueFrom?.configMapKeyRef;
      const sec = e.valueFrom?.secretKeyRef;
      const err =
        (cm && lookup('configmaps', cm, cm.key ?? '')) || (sec && lookup('secrets', sec, sec.key ?? ''));
      if (err) return err;
    }
    return undefined;
  }

  /** The backend is started once per pod (again only after a rejection), before any container shows Running. */
  private startContainers(pr: PodRt, all: ContainerRt[]): void {
    const cs: ContainerRt[] = [];
    for (const c of all) {
      const err = this.configError(pr, c);
      if (err === undefined) {
        cs.push(c);
        continue;
      }
      c.state = { waiting: { reason: 'CreateContainerConfigError', message: err } };
      this.event(pr, 'Warning', 'Failed', `Error: ${err}`, c);
      this.podAfter(pr, CONFIG_RETRY_MS * this.rt.backoffScale, () => this.startContainers(pr, [c]));
    }
    if (cs.length === 0) {
      this.publish(pr);
      return;
    }
    const backend = this.backend;
    if (!backend || pr.backend === 'started' || cs.every((c) => this.crashes(c))) {
      for (const c of cs) this.run(pr, c);
      this.publish(pr);
      return;
    }
    pr.backend = 'starting';
    pr.backendAttempted = true;
    // The pod IP is reported before the backend starts: a backend may want it.
    this.publish(pr);
    const start = backend.start(clone(pr.pod)).then(
      () => {
        pr.backend = 'started';
        pr.backendError = undefined;
      },
      (err: unknown) => {
        pr.backend = 'failed';
        pr.backendError = errorMessage(err);
      },
    );
    pr.backendStart = start;
    this.rt.track(
      start.then(() => {
        if (pr.gone || pr.terminating || this.rt.stopped) return;
        this.rt.guard(() => {
          for (const c of cs) this.run(pr, c);
          this.publish(pr);
        }, `kubelet ${pr.key}`);
      }),
      `backend.start ${pr.key}`,
    );
  }

  private run(pr: PodRt, c: ContainerRt): void {
    const failure = pr.backend === 'failed' ? pr.backendError : undefined;
    const crash = this.crashes(c) || failure !== undefined;
    c.containerID = `containerd://${randomBytes(32).toString('hex')}`;
    c.imageID = imageIdFor(c.spec.image);
    this.event(pr, 'Normal', 'Created', `Created container: ${c.spec.name}`, c);
    this.event(pr, 'Normal', 'Started', `Started container ${c.spec.name}`, c);
    c.state = { running: { startedAt: rfc3339(this.rt.now()) } };
    c.started = true;
    c.ready = !crash && !c.spec.readinessProbe;
    if (crash) {
      this.podAfter(pr, CRASH_RUN_MS, () => this.exited(pr, c, 1, failure));
    } else if (c.spec.readinessProbe) {
      this.podAfter(pr, this.behaviour.readyDelayMs, () => {
        c.ready = true;
        this.publish(pr);
      });
    }
  }

  private terminatedState(c: ContainerRt, exitCode: number, message?: string): Json {
    const t: Json = { exitCode, reason: exitCode === 0 ? 'Completed' : 'Error' };
    if (message !== undefined) t.message = message;
    t.startedAt =
      (c.state.running as { startedAt?: string } | undefined)?.startedAt ?? rfc3339(this.rt.now());
    t.finishedAt = rfc3339(this.rt.now());
    if (c.containerID) t.containerID = c.containerID;
    return t;
  }

  private exited(pr: PodRt, c: ContainerRt, exitCode: number, failure?: string): void {
    const log = this.behaviour.containerLogs.get(c.spec.image) ?? '';
    const fallback =
      exitCode !== 0 && c.spec.terminationMessagePolicy === 'FallbackToLogsOnError' && log !== ''
        ? logTail(log)
        : undefined;
    const terminated = this.terminatedState(c, exitCode, failure ?? fallback);
    c.ready = false;
    c.started = false;
    const policy = (pr.pod.spec?.restartPolicy as string | undefined) ?? 'Always';
    const restart = policy === 'Always' || (policy === 'OnFailure' && exitCode !== 0);
    if (!restart) {
      c.state = { terminated };
      this.publish(pr);
      return;
    }
    if (c.restartCount === 0) {
      // The kubelet's back-off starts with the second exit: the first restart is immediate.
      c.state = { terminated };
      this.publish(pr);
      this.podAfter(pr, CRASH_RUN_MS, () => {
        c.lastState = { terminated };
        c.restartCount++;
        this.startContainers(pr, [c]);
      });
      return;
    }
    // Fixture 077: until the next sync the exited instance is both the state and the last state.
    c.lastState = { terminated };
    c.state = { terminated };
    this.publish(pr);
    this.podAfter(pr, TERMINATED_SYNC_MS * this.rt.backoffScale, () => this.backOff(pr, c));
  }

  private backOff(pr: PodRt, c: ContainerRt): void {
    const seconds = backoffSeconds(c.restartCount);
    c.state = {
      waiting: {
        reason: 'CrashLoopBackOff',
        message: `back-off ${seconds}s restarting failed container=${c.spec.name} pod=${pr.name}_${pr.namespace}(${pr.uid})`,
      },
    };
    this.event(
      pr,
      'Warning',
      'BackOff',
      `Back-off restarting failed container ${c.spec.name} in pod ${pr.name}_${pr.namespace}(${pr.uid})`,
      c,
    );
    this.publish(pr);
    this.podAfter(pr, seconds * 1000 * this.rt.backoffScale, () => {
      c.restartCount++;
      this.startContainers(pr, [c]);
    });
  }

  // ---- deletion

  private terminate(pr: PodRt): void {
    if (pr.terminating) return;
    pr.terminating = true;
    for (const cancel of pr.timers) cancel();
    pr.timers.clear();
    const running = pr.containers.filter((c) => c.state.running !== undefined);
    for (const c of running) this.event(pr, 'Normal', 'Killing', `Stopping container ${c.spec.name}`, c);
    if (running.length === 0 && !pr.backendAttempted) {
      this.release(pr);
      this.finalize(pr.key, pr.uid);
      return;
    }
    const finish = () => {
      if (pr.gone) return;
      for (const c of running) {
        c.state = { terminated: this.terminatedState(c, 0) };
        c.ready = false;
        c.started = false;
      }
      pr.terminal = true;
      this.publish(pr);
      this.release(pr);
      this.finalize(pr.key, pr.uid);
    };
    this.rt.track(
      this.stopBackend(pr).then(() => {
        this.rt.after(TERMINATE_MS, finish, `kubelet ${pr.key}`);
      }),
      `backend.stop ${pr.key}`,
    );
  }

  private async stopBackend(pr: PodRt): Promise<void> {
    if (pr.backendStart) await pr.backendStart;
    if (!this.backend || !pr.backendAttempted || pr.backendStopped) return;
    pr.backendStopped = true;
    await this.backend.stop(clone(pr.pod));
  }

  /** The kubelet's final delete: grace period 0, and only this incarnation of the pod (uid precondition). */
  private finalize(key: string, uid: string): void {
    const { namespace, name } = splitKey(key);
    try {
      this.rt.deleteWithOptions({ ...PODS, namespace, name }, undefined, {
        gracePeriodSeconds: 0,
        preconditions: { uid },
      });
    } catch (err) {
      const code = statusCode(err);
      if (code !== 404 && code !== 409) throw err;
    }
  }

  private release(pr: PodRt): void {
    this.ipam.release(pr.ip);
  }

  /** The pod left the store (or the controllers stop): drop its timers, free its IP, stop its backend. */
  private cleanup(pr: PodRt): void {
    pr.gone = true;
    for (const cancel of pr.timers) cancel();
    pr.timers.clear();
    this.release(pr);
    this.rt.track(this.stopBackend(pr), `backend.stop ${pr.key}`);
  }

  // ---- status

  private phase(pr: PodRt): string {
    const policy = (pr.pod.spec?.restartPolicy as string | undefined) ?? 'Always';
    let waiting = 0;
    let running = 0;
    let stopped = 0;
    let succeeded = 0;
    for (const c of pr.containers) {
      const term = c.state.terminated as { exitCode?: number } | undefined;
      if (c.state.running) running++;
      else if (term) {
        stopped++;
        if (term.exitCode === 0) succeeded++;
      } else if (c.lastState.terminated) stopped++;
      else waiting++;
    }
    // A container that never ran did not succeed.
    if (pr.terminal) return waiting === 0 && stopped === succeeded ? 'Succeeded' : 'Failed';
    if (pr.initContainers.length > 0 && !pr.sandboxReady) return 'Pending';
    if (waiting > 0) return 'Pending';
    if (running > 0) return 'Running';
    if (stopped > 0) {
      if (policy === 'Always') return 'Running';
      if (stopped === succeeded) return 'Succeeded';
      if (policy === 'Never') return 'Failed';
      return 'Running';
    }
    return 'Pending';
  }

  private condition(pr: PodRt, type: string, status: string, reason?: string, message?: string): Json {
    const prev = pr.condTimes.get(type);
    const time = prev && prev.status === status ? prev.time : rfc3339(this.rt.now());
    pr.condTimes.set(type, { status, time });
    const c: Json = { type, status, lastProbeTime: null, lastTransitionTime: time };
    if (reason) c.reason = reason;
    if (message) c.message = message;
    return c;
  }

  private containerStatus(c: ContainerRt): Json {
    const s: Json = {
      name: c.spec.name,
      state: c.state,
      lastState: c.lastState,
      ready: c.ready,
      restartCount: c.restartCount,
      image: c.spec.image,
      imageID: c.imageID,
    };
    if (c.containerID) s.containerID = c.containerID;
    s.started = c.started;
    if (c.spec.volumeMounts?.length) {
      s.volumeMounts = c.spec.volumeMounts.map((m) => {
        const v: Json = { name: m.name, mountPath: m.mountPath };
        if (m.readOnly) {
          v.readOnly = true;
          v.recursiveReadOnly = 'Disabled';
        }
        return v;
      });
    }
    return s;
  }

  private buildStatus(pr: PodRt, pod: SimObject): Json {
    const unready = pr.containers.filter((c) => !c.ready).map((c) => c.spec.name);
    const readiness = (type: string) => {
      if (pr.terminal) return this.condition(pr, type, 'False', 'PodCompleted');
      if (unready.length === 0) return this.condition(pr, type, 'True');
      return this.condition(
        pr,
        type,
        'False',
        'ContainersNotReady',
        `containers with unready status: [${unready.join(' ')}]`,
      );
    };
    const initNames = pr.initContainers.map((c) => c.name);
    const initialized =
      initNames.length > 0 && !pr.sandboxReady
        ? this.condition(
            pr,
            'Initialized',
            'False',
            'ContainersNotInitialized',
            `containers with incomplete status: [${initNames.join(' ')}]`,
          )
        : this.condition(pr, 'Initialized', 'True');
    const scheduled = ((pod.status?.conditions ?? []) as Json[]).find(
      (c) => c.type === 'PodScheduled' && c.status === 'True',
    ) ?? {
      type: 'PodScheduled',
      status: 'True',
      lastProbeTime: null,
      lastTransitionTime: pr.startTime,
    };
    const conditions = [
      this.condition(pr, 'PodReadyToStartContainers', pr.sandboxReady && !pr.terminal ? 'True' : 'False'),
      initialized,
      readiness('Ready'),
      readiness('ContainersReady'),
      scheduled,
    ];
    const status: Json = {
      phase: this.phase(pr),
      conditions,
      hostIP: HOST_IP,
      hostIPs: [{ ip: HOST_IP }],
    };
    if (pr.ip) {
      status.podIP = pr.ip;
      status.podIPs = [{ ip: pr.ip }];
    }
    status.startTime = pr.startTime;
    if (pr.initContainers.length > 0) {
      status.initContainerStatuses = pr.initContainers.map((spec) => ({
        name: spec.name,
        state: pr.sandboxReady
          ? {
              terminated: {
                exitCode: 0,
                reason: 'Completed',
                startedAt: pr.startTime,
                finishedAt: pr.startTime,
              },
            }
          : { waiting: { reason: 'PodInitializing' } },
        lastState: {},
        ready: pr.sandboxReady,
        restartCount: 0,
        image: spec.image,
        imageID: pr.sandboxReady ? imageIdFor(spec.image) : '',
        started: false,
      }));
    }
    status.containerStatuses = pr.containers.map((c) => this.containerStatus(c));
    status.qosClass = (pod.status?.qosClass as string | undefined) ?? qosClass(pod);
    return orderKeys(status, POD_STATUS_ORDER);
  }

  private publish(pr: PodRt): void {
    if (pr.gone || this.rt.stopped) return;
    const pod = this.rt.store.get({ ...PODS, namespace: pr.namespace, name: pr.name });
    if (!pod || pod.metadata.uid !== pr.uid) return;
    pr.pod = pod;
    const status = this.buildStatus(pr, pod);
    if (deepEqual(pod.status ?? {}, status)) return;
    const next = clone(pod);
    next.status = status;
    pr.pod = this.rt.store.updateStatus(next);
  }
}
