/**
 * The kubelet's WebSocket endpoints for the simulator: pods/exec and pods/portforward, served through a
 * docker pod backend (test/sim/kubelet/docker/backend.ts). The router has already authenticated, authorized (verb get)
 * and found the pod when a handler runs.
 *
 *   const backend = dockerPodBackend();
 *   const sim = await startKubeSim({ podBackend: backend });
 *   installKubeletEndpoints(sim, backend);
 *   installKubeletEndpoints(sim, backend, { execProtocols: EXEC_PROTOCOLS_V4_ONLY }); // a cluster < 1.30
 */

import type { KubeSim } from '../kube/index.js';
import type { dockerPodBackend } from './docker/backend.js';
import { type ExecHandlerOptions, execHandler } from './exec.js';
import { portForwardHandler } from './portforward.js';

export {
  EXEC_PROTOCOLS,
  EXEC_PROTOCOLS_V4_ONLY,
  type ExecHandlerOptions,
  execHandler,
} from './exec.js';
export { PORTFORWARD_PROTOCOLS, portForwardHandler } from './portforward.js';

export function installKubeletEndpoints(
  sim: KubeSim,
  backend: ReturnType<typeof dockerPodBackend>,
  opts: ExecHandlerOptions = {},
): void {
  sim.setUpgradeHandler('exec', execHandler(backend, opts));
  sim.setUpgradeHandler('portforward', portForwardHandler(backend));
}
