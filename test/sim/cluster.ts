/**
 * The whole simulated cluster as the Docker bridge needs it: the API server, docker-host pods backed by real
 * Docker engines, the kubelet's exec and port-forward endpoints, and the pod network (ingress controller, load
 * balancers). Used by the integration suites, the cluster fixture, the demo and the standalone simulator
 * (`npm run sim`).
 */
import { type KubeSim, type KubeSimOptions, startKubeSim } from './kube/index.js';
import { installNetwork, type NetworkOptions, type SimNetwork } from './kube/network/index.js';
import {
  type DockerPodBackend,
  type DockerPodBackendOptions,
  dockerPodBackend,
} from './kubelet/docker/backend.js';
import { installKubeletEndpoints } from './kubelet/endpoints.js';

export interface DockerSim {
  sim: KubeSim;
  backend: DockerPodBackend;
  network: SimNetwork;
  /** Stops all three, the network first (it dials the engines). */
  close(): Promise<void>;
}

export interface DockerSimOptions {
  namespaces?: string[];
  /** Its IngressClass name, load-balancer delay, default certificate. */
  network?: NetworkOptions;
  /** E.g. which other pods get a network namespace. */
  backend?: DockerPodBackendOptions;
  /** The API server's own options (port, host...). */
  kube?: Omit<KubeSimOptions, 'podBackend' | 'namespaces'>;
}

export async function startDockerSim(opts: DockerSimOptions = {}): Promise<DockerSim> {
  const backend = dockerPodBackend(opts.backend ?? {});
  const sim = await startKubeSim({ ...opts.kube, namespaces: opts.namespaces ?? [], podBackend: backend });
  installKubeletEndpoints(sim, backend);
  // Services and Ingresses reach the pod at its address on the pod network, not through its loopback.
  const network = await installNetwork(sim, (pod, port) => backend.dial(pod, port), opts.network ?? {});
  return {
    sim,
    backend,
    network,
    close: async () => {
      await network.close();
      await sim.close();
      await backend.close();
    },
  };
}
