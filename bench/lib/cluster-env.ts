/**
 * A cluster for the benchmarks, known only by a kubeconfig file and a namespace: the action creates the docker
 * hosts there (its bundle, started as the runner starts it), and the bench finds their pods through the API as
 * any user would. Nothing here knows the simulator; `npm run bench -- --sim-as-cluster` hands this code the
 * simulator's kubeconfig file to prove that.
 */
import { cp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitForDocker } from '../../src/bridge/docker-api.js';
import { connect, type KubeClient } from '../../src/kube/client.js';
import { openTunnel, type Tunnel } from '../../src/kube/stream/port-forward.js';
// Plain helpers (a Docker API client over node:http, a file lookup): neither talks to the simulator.
import { type DockerTarget, dockerJson } from '../../test/sim/kubelet/docker/api.js';
import { findStaticBusybox } from '../../test/sim/kubelet/docker/images.js';
import { type ActionRunResult, mustRunAction, type PullRequestEvent } from './action-run.js';
import type { ClusterArgs } from './args.js';
import { directToPod, findKubectl, kubectlPortForward, type Way } from './ways.js';

const EXAMPLE = fileURLToPath(new URL('../../examples/compose-app', import.meta.url));
const ENV_ID_LABEL = 'preevy.dev/env-id';

export const dockerTarget = (t: { port: number }): DockerTarget => ({ host: '127.0.0.1', port: t.port });

export interface ClusterEnv {
  args: Pick<ClusterArgs, 'kubeconfig' | 'kubeconfigFile' | 'namespace' | 'kubectl' | 'noDirect'>;
  client: KubeClient;
  close(): Promise<void>;
}

export interface FoundPod {
  name: string;
  ip: string | undefined;
}

export async function connectCluster(args: ClusterEnv['args']): Promise<ClusterEnv> {
  const client = await connect({ kubeconfig: args.kubeconfig, namespace: args.namespace, allowExec: true });
  // The namespace must exist: the action would fail on it in every round otherwise, later and less clearly.
  await client.request({
    method: 'GET',
    path: `/api/v1/namespaces/${args.namespace}/pods`,
    query: { limit: '1' },
  });
  return { args, client, close: () => client.close() };
}

// No registry may be reachable from the cluster's nodes (nor from our test machines): the example's images
// are built FROM scratch around the static busybox, as the simulator's busybox:local is, so the project builds
// on any dockerd. The api service's build is tagged busybox:local, which the tunnel benchmark then uses.
const BASE = `FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "sh", "-c", "/bin/busybox --install -s /bin && mkdir -p /tmp /root && chmod 1777 /tmp"]
`;

function replaceOnce(text: string, from: string, to: string, file: string): string {
  if (!text.includes(from))
    throw new Error(`${file} no longer has ${JSON.stringify(from)}: update bench/lib/cluster-env.ts`);
  return text.replace(from, to);
}

/** A fresh copy of examples/compose-app under `dir` that needs no registry; returns the project's directory. */
export async function clusterProject(dir: string): Promise<string> {
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const app = path.join(dir, 'app');
  await cp(EXAMPLE, app, { recursive: true });
  const busybox = await readFile(findStaticBusybox());
  const compose = path.join(app, 'compose.yaml');
  await writeFile(
    compose,
    replaceOnce(
      await readFile(compose, 'utf8'),
      '    image: busybox:local\n',
      '    image: busybox:local\n    build: ./base\n',
      compose,
    ),
  );
  await mkdir(path.join(app, 'base'));
  await writeFile(path.join(app, 'base/Dockerfile'), `${BASE}CMD ["sh"]\n`);
  await writeFile(path.join(app, 'base/busybox'), busybox, { mode: 0o755 });
  const web = path.join(app, 'web/Dockerfile');
  await writeFile(web, replaceOnce(await readFile(web, 'utf8'), 'FROM busybox:local\n', BASE, web));
  await writeFile(path.join(app, 'web/busybox'), busybox, { mode: 0o755 });
  return app;
}

/** Runs the action on `workspace` (the project is its `app` directory) for one pull request event. */
export function runActionOn(
  env: ClusterEnv,
  workspace: string,
  event: PullRequestEvent,
  what: string,
): Promise<ActionRunResult> {
  return mustRunAction(
    {
      inputs: {
        kubeconfig: env.args.kubeconfig,
        namespace: env.args.namespace,
        // The user's own kubeconfig on the user's own machine: a credential plugin is what it normally uses.
        'allow-kubeconfig-exec': 'true',
        'working-directory': 'app',
        'ready-timeout': '5m',
      },
      workspace,
      event,
    },
    what,
  );
}

/** The Ready, running pod of an environment, found by its label as `kubectl get pods -l` would. */
export async function podOfEnv(env: ClusterEnv, envId: string): Promise<FoundPod> {
  const list = await env.client.request<{
    items: Array<{
      metadata: { name: string; deletionTimestamp?: string };
      status?: { podIP?: string; conditions?: Array<{ type: string; status: string }> };
    }>;
  }>({
    method: 'GET',
    path: `/api/v1/namespaces/${env.args.namespace}/pods`,
    query: { labelSelector: `${ENV_ID_LABEL}=${envId}` },
  });
  const ready = list.body.items.filter(
    (p) =>
      !p.metadata.deletionTimestamp &&
      p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
  );
  const pod = ready[0];
  if (!pod || ready.length > 1)
    throw new Error(
      `environment ${envId}: ${ready.length} Ready pods labelled ${ENV_ID_LABEL}=${envId} (of ${list.body.items.length}); expected one`,
    );
  return { name: pod.metadata.name, ip: pod.status?.podIP };
}

/**
 * The bench's own connection to a pod's dockerd, for what is not measured (resetting the engine, creating
 * containers, checking sizes): the action's tunnel module, in the bench's process.
 */
export async function controlTunnel(env: ClusterEnv, pod: string): Promise<Tunnel> {
  const tunnel = await openTunnel(env.client, { namespace: env.args.namespace, pod });
  try {
    await waitForDocker(tunnel, { timeoutMs: 60_000 });
    return tunnel;
  } catch (err) {
    await tunnel.close();
    throw err;
  }
}

/**
 * Back to an engine with nothing on it, as a fresh docker host has: every container, volume, network, image
 * and the build cache, so that a baseline's `compose up --build` does all the work the action's first up did.
 */
export async function resetEngine(tunnel: Tunnel): Promise<void> {
  const t = dockerTarget(tunnel);
  const containers = await dockerJson<Array<{ Id: string }>>(t, 'GET', '/containers/json?all=1');
  for (const c of containers) await dockerJson(t, 'DELETE', `/containers/${c.Id}?force=1&v=1`);
  await dockerJson(t, 'POST', `/volumes/prune?filters=${encodeURIComponent('{"all":["true"]}')}`);
  await dockerJson(t, 'POST', '/networks/prune');
  await dockerJson(t, 'POST', `/images/prune?filters=${encodeURIComponent('{"dangling":["false"]}')}`);
  await dockerJson(t, 'POST', '/build/prune?all=1', { timeoutMs: 120_000 });
}

/** The two baselines of one environment's pod: kubectl's port-forward, and its IP when this machine reaches it. */
export async function baselineWays(env: ClusterEnv, pod: FoundPod): Promise<{ kubectl: Way; direct: Way }> {
  return {
    kubectl: await kubectlPortForward({
      kubectl: findKubectl(env.args.kubectl),
      kubeconfigFile: env.args.kubeconfigFile,
      namespace: env.args.namespace,
      pod: pod.name,
    }),
    direct: env.args.noDirect
      ? { ok: false, reason: `${env.args.noDirect}; the direct baseline is skipped` }
      : await directToPod(pod.ip),
  };
}
