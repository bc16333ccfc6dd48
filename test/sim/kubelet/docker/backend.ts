/**
 * The PodBackend that gives docker-host pods of the Kubernetes simulator a real Docker engine each (see
 * engines.ts). Pods chosen by `networked` get a network namespace on the same pod network, with no dockerd;
 * other pods stay virtual: start and stop resolve at once. Besides start and stop it serves what the
 * simulator's exec and portforward subresources need.
 */
import type { ChildProcess } from 'node:child_process';
import type net from 'node:net';
import type { Readable } from 'node:stream';
import type { PodBackend, SimObject } from '../../kube/types.js';
import { type Engine, startEngine } from './engines.js';
import { BUSYBOX_IMAGE, ensureBusyboxImage } from './images.js';

type PodPredicate = (pod: SimObject) => boolean;

export interface DockerPodBackendOptions {
  /** Which pods get an engine. Default: label app.kubernetes.io/component=docker-host. */
  isDockerHost?: PodPredicate;
  /** The pod's first container has no `tar`: exec of tar fails as on a real cluster. */
  tarMissing?: boolean | PodPredicate;
  /** No dockerd in the pod: exec works, nothing listens on 2375. */
  noDocker?: boolean | PodPredicate;
  /** Image built in every engine before start() resolves (false: none). Default busybox:local. */
  baseImage?: string | false;
  /** Pods (not docker hosts) that get their own network namespace on the pod network. Default none. */
  networked?: PodPredicate;
  /** MTU of every pod's interface: the pod network's (GKE 1460, Calico IPIP 1440, VXLAN 1450). Default 1500. */
  podMtu?: number;
}

export interface DockerPodBackend extends PodBackend {
  /** By "namespace/name", or by bare name when a single namespace has it. */
  engineFor(podName: string): Engine | undefined;
  /** Runs argv in the pod (throws if the pod has no engine). See Engine.exec for the failure contract. */
  exec(pod: SimObject | string, argv: readonly string[], stdin?: Readable): ChildProcess;
  /**
   * What the kubelet's port-forward connects to: localhost:<port> inside the pod's network namespace (fixture
   * 108: "failed to connect to localhost:2375 inside namespace"). A refused connection surfaces as an 'error'
   * event with code ECONNREFUSED. The socket is a relay.PodSocket: it has the net.Socket members the
   * simulator's port-forward uses (write, end, pause, resume, isPaused, writableLength, 'drain', setNoDelay,
   * destroy, 'connect', 'data', 'end', 'close', 'error'), and only those.
   */
  portForward(pod: SimObject | string, port: number): net.Socket;
  /** A connection from the pod network to <pod ip>:<port>: how a Service or an ingress controller reaches it. */
  dial(pod: SimObject | string, port: number): net.Socket;
  /** Stops every engine. */
  close(): Promise<void>;
}

export const DOCKER_HOST_LABEL = 'app.kubernetes.io/component';

function defaultIsDockerHost(pod: SimObject): boolean {
  return pod.metadata.labels?.[DOCKER_HOST_LABEL] === 'docker-host';
}

function podKey(pod: SimObject): string {
  return `${pod.metadata.namespace ?? 'default'}/${pod.metadata.name}`;
}

/** The command and args of the pod's first container, in order. */
function containerWords(pod: SimObject): string[] {
  const spec = pod.spec as { containers?: Array<{ command?: unknown; args?: unknown }> } | undefined;
  const first = spec?.containers?.[0];
  return [first?.command, first?.args].flatMap((v) =>
    Array.isArray(v) ? v.filter((w): w is string => typeof w === 'string') : [],
  );
}

/**
 * Where the pod's dockerd listens for TCP, from its first container's command and args (`--host=tcp://H:2375`,
 * `-H tcp://H:2375`, or inside a `sh -c` script): '127.0.0.1' when every TCP host given is the loopback,
 * else as dockerd does without the flag in docker:dind, '0.0.0.0'.
 */
export function dockerTcpHost(pod: SimObject): string {
  const words = containerWords(pod);
  const hosts = words.flatMap((w) => [...w.matchAll(/tcp:\/\/([^\s:'"/]+):\d+/g)].map((m) => m[1]));
  const loopback = (h: string | undefined) => h === '127.0.0.1' || h === 'localhost';
  return hosts.length > 0 && hosts.every(loopback) ? '127.0.0.1' : '0.0.0.0';
}

/**
 * The MTU the pod's dockerd gives its networks, from its first container's command and args: a start script that
 * reads the pod's interface (`/sys/class/net/...` and `--mtu`, as the bundled templates do) gives 'pod', a fixed
 * `--mtu=N` gives N, neither leaves dockerd's default.
 */
export function dockerMtu(pod: SimObject): number | 'pod' | undefined {
  const text = containerWords(pod).join(' ');
  if (!/--mtu\b/.test(text)) return undefined;
  if (/\/sys\/class\/net\//.test(text)) return 'pod';
  const fixed = Number(/--mtu[= ](\d+)/.exec(text)?.[1]);
  return Number.isInteger(fixed) ? fixed : undefined;
}

function test(opt: boolean | PodPredicate | undefined, pod: SimObject): boolean {
  return typeof opt === 'function' ? opt(pod) : (opt ?? false);
}

export function dockerPodBackend(opts: DockerPodBackendOptions = {}): DockerPodBackend {
  const isDockerHost = opts.isDockerHost ?? defaultIsDockerHost;
  const baseImage = opts.baseImage ?? BUSYBOX_IMAGE;
  const engines = new Map<string, Engine>();
  // Per pod, the last start/stop operation: a stop that arrives while the engine starts waits for it, so
  // an engine is never left running for a deleted pod.
  const ops = new Map<string, Promise<unknown>>();

  const serialize = (key: string, op: () => Promise<void>): Promise<void> => {
    const prev = ops.get(key) ?? Promise.resolve();
    const next = prev.catch(() => {}).then(op);
    ops.set(key, next);
    void next
      .catch(() => {})
      .finally(() => {
        if (ops.get(key) === next) ops.delete(key);
      });
    return next;
  };

  const stopKey = (key: string) =>
    serialize(key, async () => {
      const engine = engines.get(key);
      if (!engine) return;
      engines.delete(key);
      await engine.stop();
    });

  const lookup = (pod: SimObject | string): Engine | undefined =>
    typeof pod === 'string' ? backend.engineFor(pod) : engines.get(podKey(pod));

  const mustLookup = (pod: SimObject | string): Engine => {
    const engine = lookup(pod);
    if (!engine) {
      const name = typeof pod === 'string' ? pod : podKey(pod);
      throw new Error(`pod ${name} has no docker engine (not a docker host, or not started)`);
    }
    return engine;
  };

  const backend: DockerPodBackend = {
    start(pod) {
      const networkOnly = !isDockerHost(pod) && (opts.networked?.(pod) ?? false);
      if (!isDockerHost(pod) && !networkOnly) return Promise.resolve();
      const key = podKey(pod);
      return serialize(key, async () => {
        const running = engines.get(key);
        if (running) {
          // The kubelet restarts a container: keep the engine (and its cache) unless its dockerd died.
          if (running.isRunning()) return;
          engines.delete(key);
          await running.stop();
        }
        const noDocker = networkOnly || test(opts.noDocker, pod);
        const engine = await startEngine({
          name: key,
          dockerd: !noDocker,
          missingCommands: !networkOnly && test(opts.tarMissing, pod) ? ['tar'] : [],
          tcpHost: dockerTcpHost(pod),
          mtu: opts.podMtu,
          dockerMtu: dockerMtu(pod),
        });
        try {
          if (baseImage && !noDocker) await ensureBusyboxImage(engine, baseImage);
        } catch (err) {
          await engine.stop();
          throw err;
        }
        engines.set(key, engine);
      });
    },
    stop(pod) {
      return stopKey(podKey(pod));
    },
    engineFor(podName) {
      if (podName.includes('/')) return engines.get(podName);
      const matches = [...engines.entries()].filter(([k]) => k.endsWith(`/${podName}`));
      return matches.length === 1 ? matches[0]?.[1] : undefined;
    },
    exec(pod, argv, stdin) {
      return mustLookup(pod).exec(argv, { stdin });
    },
    portForward(pod, port) {
      // A PodSocket for a net.Socket: see the interface for the members it has.
      return mustLookup(pod).connectInPod(port) as unknown as net.Socket;
    },
    dial(pod, port) {
      return mustLookup(pod).connect(port);
    },
    async close() {
      const keys = new Set([...engines.keys(), ...ops.keys()]);
      await Promise.allSettled([...keys].map((k) => stopKey(k)));
    },
  };
  return backend;
}
