/**
 * The PodBackend that gives docker-host pods of the Kubernetes simulator a real Docker engine each (see
 * engines.ts). Other pods stay virtual: start and stop resolve at once. Besides start and stop it serves what
 * the simulator's exec and portforward subresources need.
 */
import type { ChildProcess } from 'node:child_process';
import type net from 'node:net';
import type { Readable } from 'node:stream';
import type { PodBackend, SimObject } from '../kube/types.js';
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
}

export interface DockerPodBackend extends PodBackend {
  /** By "namespace/name", or by bare name when a single namespace has it. */
  engineFor(podName: string): Engine | undefined;
  /** Runs argv in the pod (throws if the pod has no engine). See Engine.exec for the failure contract. */
  exec(pod: SimObject | string, argv: readonly string[], stdin?: Readable): ChildProcess;
  /** A connection to <pod ip>:<port>; a refused connection surfaces as an 'error' event on the socket. */
  portForward(pod: SimObject | string, port: number): net.Socket;
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
      if (!isDockerHost(pod)) return Promise.resolve();
      const key = podKey(pod);
      return serialize(key, async () => {
        const running = engines.get(key);
        if (running) {
          // The kubelet restarts a container: keep the engine (and its cache) unless its dockerd died.
          if (running.isRunning()) return;
          engines.delete(key);
          await running.stop();
        }
        const noDocker = test(opts.noDocker, pod);
        const engine = await startEngine({
          name: key,
          dockerd: !noDocker,
          missingCommands: test(opts.tarMissing, pod) ? ['tar'] : [],
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
      return mustLookup(pod).connect(port);
    },
    async close() {
      const keys = new Set([...engines.keys(), ...ops.keys()]);
      await Promise.allSettled([...keys].map((k) => stopKey(k)));
    },
  };
  return backend;
}
