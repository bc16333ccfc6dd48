import { setTimeout as sleep } from 'node:timers/promises';
import { type DockerHostPod, dockerHostPod, PodNotFoundError } from '../../src/environment/pods.js';
import { connect, type KubeClient } from '../../src/kube/client.js';
import { execInPod } from '../../src/kube/stream/exec.js';
import { textSink } from '../../src/util/sink.js';
import { NAMESPACE, startDockerSim } from '../../test/integration/harness.js';
import type { DockerPodBackend } from '../../test/sim/kubelet/docker/backend.js';
import type { Engine } from '../../test/sim/kubelet/docker/engines.js';

export const DEPLOYMENT = 'bench-dind';

export interface BenchEnv {
  /** Admin kubeconfig for the children (the action's side). */
  kubeconfig: string;
  namespace: string;
  /** The parent's own client, for checks inside the pod. */
  client: KubeClient;
  pod: DockerHostPod;
  engine: Engine;
  /** The simulator's pod backend: one Docker engine per docker-host pod. */
  backend: DockerPodBackend;
  /** An admin kubeconfig without a default namespace (the action's input). */
  actionKubeconfig: string;
  /** Runs a shell script in the docker-host pod; rejects on a non-zero exit. Returns stdout. */
  sh(script: string, ...args: string[]): Promise<string>;
  close(): Promise<void>;
}

const labels = (instance: string) => ({
  'app.kubernetes.io/component': 'docker-host',
  'app.kubernetes.io/instance': instance,
});

/** The bundled template's docker host, reduced to what the simulator looks at. */
export const dockerHostDeployment = (name: string, instance: string) => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name, labels: labels(instance) },
  spec: {
    replicas: 1,
    strategy: { type: 'Recreate' },
    selector: { matchLabels: labels(instance) },
    template: {
      metadata: { labels: labels(instance) },
      spec: {
        containers: [
          {
            name: 'docker',
            image: 'docker:27.5.1-dind',
            args: [
              'dockerd',
              '--host=tcp://0.0.0.0:2375',
              '--host=unix:///var/run/docker.sock',
              '--tls=false',
            ],
            securityContext: { privileged: true },
          },
        ],
      },
    },
  },
});

export async function startBenchEnv(): Promise<BenchEnv> {
  const docker = await startDockerSim();
  let client: KubeClient | undefined;
  try {
    const kubeconfig = docker.sim.kubeconfig({ namespace: NAMESPACE });
    client = await connect({ kubeconfig, namespace: NAMESPACE });
    await client.request({
      method: 'POST',
      path: `/apis/apps/v1/namespaces/${NAMESPACE}/deployments`,
      body: dockerHostDeployment(DEPLOYMENT, 'bench'),
    });
    const pod = await waitForPod(client, DEPLOYMENT);
    const engine = docker.backend.engineFor(`${NAMESPACE}/${pod.name}`);
    if (!engine) throw new Error(`pod ${pod.name} has no docker engine`);
    const c = client;
    return {
      kubeconfig,
      namespace: NAMESPACE,
      client: c,
      pod,
      engine,
      backend: docker.backend,
      actionKubeconfig: docker.sim.kubeconfig(),
      async sh(script, ...args) {
        const out = textSink();
        const r = await execInPod(c, {
          namespace: NAMESPACE,
          pod: pod.name,
          container: pod.container,
          command: ['sh', '-c', script, ...args],
          stdout: out.stream,
          timeoutMs: 120_000,
        });
        if (r.exitCode !== 0)
          throw new Error(`in the pod, \`${script}\` exited ${r.exitCode}: ${r.stderrTail}`);
        return out.text();
      },
      async close() {
        await c.close();
        await docker.close();
      },
    };
  } catch (err) {
    await client?.close();
    await docker.close();
    throw err;
  }
}

/** The Deployment's Ready pod. `pollMs`: how often to look (its error bounds the time measured by a caller). */
export async function waitForPod(
  client: KubeClient,
  deploymentName: string,
  pollMs = 200,
): Promise<DockerHostPod> {
  // Starting an engine and building busybox:local in it takes a few seconds on a loaded machine.
  const deadline = Date.now() + 180_000;
  for (;;) {
    try {
      return await dockerHostPod(client, { namespace: NAMESPACE, deploymentName });
    } catch (err) {
      if (!(err instanceof PodNotFoundError) || Date.now() > deadline) throw err;
    }
    await sleep(pollMs);
  }
}

/** The names of the pods of an environment (label preevy.dev/env-id), deleted ones included. */
export async function podsOf(env: BenchEnv, envId: string): Promise<string[]> {
  const list = await env.client.request<{ items: Array<{ metadata: { name: string } }> }>({
    method: 'GET',
    path: `/api/v1/namespaces/${NAMESPACE}/pods`,
    query: { labelSelector: `preevy.dev/env-id=${envId}` },
  });
  return list.body.items.map((p) => p.metadata.name);
}

/** Resolves once the simulator runs no engine for these pods any more (their deletion stops them). */
export async function waitForEnginesGone(env: BenchEnv, pods: string[], timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const left = pods.filter((p) => env.backend.engineFor(`${NAMESPACE}/${p}`));
    if (left.length === 0) return;
    if (Date.now() > deadline)
      throw new Error(`engines still running after ${timeoutMs / 1000} s: ${left.join(', ')}`);
    await sleep(200);
  }
}
