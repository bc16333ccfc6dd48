/**
 * The cluster the cluster suites drive, from one fixture with two backends:
 * - the simulator (default): started in this process, with real Docker engines behind docker-host pods where they
 *   can run;
 * - a real cluster, or the standalone simulator (`npm run sim`), when PREVIEW_TEST_KUBECONFIG names an admin
 *   kubeconfig.
 * On both, each suite gets a fresh namespace, examples/rbac/role.yaml applied in it and a minted token of its
 * ServiceAccount: the action runs as a user's namespace-scoped identity. Everything is deleted afterwards, also when
 * a test failed. The suites read what happened through the API (inspect.ts) and reach the docker host through a
 * port-forward (reach.ts), never through the simulator's insides, except where a test says it needs them
 * (`simulatorOnly`).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, it, type TestAPI } from 'vitest';
import type { Inputs } from '../../src/inputs.js';
import { connect, type KubeClient } from '../../src/kube/client.js';
import { hasCompose, inputsWith } from '../integration/harness.js';
import { type DockerSim, startDockerSim } from '../sim/cluster.js';
import { type KubeSim, startKubeSim } from '../sim/kube/index.js';
import { dockerUnavailable } from '../sim/kubelet/docker/support.js';
import {
  applyExampleRole,
  createNamespace,
  deleteNamespace,
  mintToken,
  suiteNamespace,
  tokenKubeconfig,
} from './identity.js';
import { templateImages } from './images.js';
import { Inspector } from './inspect.js';
import { Reach } from './reach.js';

/** The admin kubeconfig of the cluster to test against; unset: the in-process simulator. */
export const CLUSTER_KUBECONFIG = process.env.PREVIEW_TEST_KUBECONFIG || undefined;
export const BACKEND: 'simulator' | 'cluster' = CLUSTER_KUBECONFIG ? 'cluster' : 'simulator';

/**
 * The simulator's powers a test may need, each with why a real cluster cannot give it. A test that needs one is
 * declared with `simulatorOnly(power)` and reported as skipped, with this reason, on a real cluster.
 */
export const SIMULATOR_POWERS = {
  audit: "reads the API server's record of every request, which a real cluster does not hand to a test",
  store: 'writes an object state directly into the store, bypassing the API (an owner reference to nothing)',
} as const;
export type SimulatorPower = keyof typeof SIMULATOR_POWERS;

/** `it`, or on a real cluster `it.skip` with the reason in its title. */
export function simulatorOnly(power: SimulatorPower): TestAPI | ((title: string, fn: () => unknown) => void) {
  if (BACKEND === 'simulator') return it;
  return (title: string, fn: () => unknown) =>
    it.skip(`${title} (simulator only: ${SIMULATOR_POWERS[power]})`, fn);
}

type Inspection = Pick<Inspector, 'userObjects' | 'envObjects' | 'bookkeeping' | 'livePods' | 'pods'>;

export interface TestCluster extends Inspection {
  backend: typeof BACKEND;
  /** The suite's fresh namespace. */
  namespace: string;
  /** The ServiceAccount's kubeconfig (YAML), as the action gets it from a user's secret. */
  kubeconfig: string;
  /** Its token: a secret the action must never show. */
  token: string;
  /** cluster-admin, for the checks and the set-up a test does beside the action. */
  admin: KubeClient;
  /** Its kubeconfig, for a test of what only an identity that may read namespaces sees. */
  adminKubeconfig: string;
  /** The environment's docker host, through a port-forward. */
  reach: Reach;
  /** Creates an object of a core kind (ConfigMap, Secret...) in the namespace, as cluster-admin. */
  create(obj: object): Promise<void>;
  /** The in-process simulator, on the simulator backend only (see simulatorOnly). */
  sim?: KubeSim;
}

export interface ClusterOptions {
  /** The suite's name: part of its namespace's, so that a leftover says who left it. */
  suite: string;
  /** Docker-host pods need real Docker engines (the Docker bridge's suites). */
  docker?: boolean;
}

/** Images the templates name reach a cluster without a registry through PREVIEW_TEST_LOAD_IMAGES (README). */
function loadImages(): void {
  const hook = process.env.PREVIEW_TEST_LOAD_IMAGES;
  if (!hook || BACKEND !== 'cluster') return;
  execFileSync('sh', ['-c', `${hook} "$@"`, 'load-images', ...templateImages()], { stdio: 'inherit' });
}
let imagesLoaded = false;

/** The suite's cluster: set up before its tests, deleted after them. Its fields are there once the tests run. */
export function useCluster(opts: ClusterOptions): TestCluster {
  const c = {} as TestCluster & { close?: () => Promise<void> };
  beforeAll(async () => {
    let adminKubeconfig: string;
    let stopSim: (() => Promise<void>) | undefined;
    if (CLUSTER_KUBECONFIG) {
      adminKubeconfig = readFileSync(CLUSTER_KUBECONFIG, 'utf8');
      if (!imagesLoaded) loadImages();
      imagesLoaded = true;
    } else {
      let sim: KubeSim;
      if (opts.docker) {
        const d: DockerSim = await startDockerSim();
        sim = d.sim;
        stopSim = d.close;
      } else {
        sim = await startKubeSim();
        stopSim = () => sim.close();
      }
      sim.pods.startDelayMs = 20;
      sim.pods.readyDelayMs = 30;
      c.sim = sim;
      adminKubeconfig = sim.kubeconfig();
    }
    c.close = stopSim;
    const namespace = suiteNamespace(opts.suite);
    // `default`: connect() checks its namespace exists, and the suite's is made below; every path names its own.
    const admin = await connect({ kubeconfig: adminKubeconfig, namespace: 'default', allowExec: true });
    // From here on, whatever fails, the namespace goes (a delete of one never made is a 404, ignored).
    c.close = async () => {
      try {
        await deleteNamespace(admin, namespace);
      } finally {
        await admin.close();
        await stopSim?.();
      }
    };
    await createNamespace(admin, namespace);
    await applyExampleRole(admin, namespace);
    const token = await mintToken(admin, namespace);
    const inspector = new Inspector(admin, namespace);
    Object.assign(c, {
      userObjects: () => inspector.userObjects(),
      envObjects: (envId: string) => inspector.envObjects(envId),
      bookkeeping: (envId: string) => inspector.bookkeeping(envId),
      livePods: (selector: string) => inspector.livePods(selector),
      pods: (selector: string) => inspector.pods(selector),
      backend: BACKEND,
      namespace,
      token,
      kubeconfig: tokenKubeconfig(adminKubeconfig, token, namespace),
      admin,
      adminKubeconfig,
      reach: new Reach(admin, namespace, inspector),
      create: async (obj: { kind: string; metadata: object }) => {
        await admin.request({
          method: 'POST',
          path: `/api/v1/namespaces/${namespace}/${obj.kind.toLowerCase()}s`,
          body: { ...obj, metadata: { ...obj.metadata, namespace } },
        });
      },
    });
  });
  afterAll(async () => {
    await c.reach?.close();
    await c.close?.();
  });
  return c;
}

/** The inputs of `up`/`down` as the suite's ServiceAccount in its namespace (harness.inputsWith). */
export function inputsOn(c: TestCluster, over: Partial<Inputs> = {}): Inputs {
  // A real docker host starts dockerd in its pod (seconds to a minute); the simulator's is ready at once.
  const patience = c.backend === 'cluster' ? { readyTimeoutMs: 300_000 } : {};
  return inputsWith(c.kubeconfig, c.namespace, { ...patience, ...over });
}

/**
 * The image the suites' compose projects build from. The simulator's engines have `busybox:local` (built FROM
 * scratch around Debian's static busybox); a real cluster's docker hosts pull PREVIEW_TEST_BASE_IMAGE (README).
 */
export const BASE_IMAGE = process.env.PREVIEW_TEST_BASE_IMAGE || 'busybox:local';

/** A project's files with BASE_IMAGE for `busybox:local`. */
export function withBaseImage(files: Record<string, string>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(files).map(([f, t]) => [f, t.replaceAll('busybox:local', BASE_IMAGE)]),
  );
}

/**
 * A describe of the suites that need Docker: on the simulator, engines behind its pods (root, dockerd); on a real
 * cluster, only the compose CLI on this machine. Skipped, saying why in its title, where that is missing.
 */
export function describeWithDocker(title: string, fn: () => void): void {
  const why =
    BACKEND === 'simulator' ? dockerUnavailable() : hasCompose ? undefined : 'no docker compose CLI';
  describe.skipIf(why !== undefined)(`${title}${why ? ` (skipped: ${why})` : ''}`, fn);
}
