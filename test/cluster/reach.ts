/**
 * The environment's docker host as a test reaches it on any cluster: a port-forward to its pod (the Docker API on the
 * pod's loopback, the services' published ports), through the action's own tunnel module, whose transport has its
 * own tests under every framing a real kubelet produces.
 */
import type { KubeClient } from '../../src/kube/client.js';
import { openTunnel, type Tunnel } from '../../src/kube/stream/port-forward.js';
import type { DockerTarget } from '../sim/kubelet/docker/api.js';
import { httpGet } from '../sim/kubelet/docker/support.js';
import type { Inspector } from './inspect.js';

export class Reach {
  readonly #tunnels = new Map<string, Tunnel>();

  constructor(
    private readonly admin: KubeClient,
    private readonly namespace: string,
    private readonly inspector: Inspector,
  ) {}

  /** The running docker-host pod of the environment, or undefined. */
  async hostPod(envId: string): Promise<string | undefined> {
    const pods = await this.inspector.livePods(
      `preevy.dev/env-id=${envId},app.kubernetes.io/component=docker-host`,
    );
    return pods.find((p) => p.status?.phase === 'Running')?.metadata.name;
  }

  /** A local port forwarded to `port` of the environment's docker-host pod (one tunnel per pod and port). */
  async forward(envId: string, port: number): Promise<{ host: string; port: number }> {
    const pod = await this.hostPod(envId);
    if (!pod) throw new Error(`environment ${envId} has no running docker-host pod in ${this.namespace}`);
    const key = `${pod}:${port}`;
    let tunnel = this.#tunnels.get(key);
    if (!tunnel) {
      tunnel = await openTunnel(this.admin, { namespace: this.namespace, pod, port });
      this.#tunnels.set(key, tunnel);
    }
    return { host: tunnel.host, port: tunnel.port };
  }

  /** The environment's Docker API. */
  docker(envId: string): Promise<DockerTarget> {
    return this.forward(envId, 2375);
  }

  /** GET a published port of the environment's docker host (retried while the service starts, bounded). */
  async httpGet(envId: string, port: number, urlPath: string): Promise<string> {
    const to = await this.forward(envId, port);
    return httpGet(to.host, to.port, urlPath);
  }

  async close(): Promise<void> {
    await Promise.all([...this.#tunnels.values()].map((t) => t.close()));
    this.#tunnels.clear();
  }
}
