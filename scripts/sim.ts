/**
 * `npm run sim`: the simulated cluster as a separate process that serves a kubeconfig, like a real cluster.
 *
 *   npm run sim -- [--kubeconfig FILE] [--port N]
 *
 * Writes a cluster-admin kubeconfig to FILE (default .sim/kubeconfig.yaml, mode 0600), prints `ready` and runs until
 * SIGINT or SIGTERM. Docker-host pods get real Docker engines where they can run (root, dockerd); elsewhere every
 * pod is virtual and the Docker bridge's suites cannot pass. Try the action against it (`KUBECONFIG=FILE`), or run
 * the cluster suites: `PREVIEW_TEST_KUBECONFIG=FILE npm run test:cluster`.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { startDockerSim } from '../test/sim/cluster.js';
import { startKubeSim } from '../test/sim/kube/index.js';
import { dockerUnavailable } from '../test/sim/kubelet/docker/support.js';

const { values } = parseArgs({
  options: {
    kubeconfig: { type: 'string', default: '.sim/kubeconfig.yaml' },
    port: { type: 'string', default: '0' },
  },
});
const port = Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`--port ${values.port}: expected a TCP port number (0 picks a free one)`);
  process.exit(2);
}
const file = path.resolve(values.kubeconfig);

const noDocker = dockerUnavailable();
const { sim, close } = noDocker
  ? await startKubeSim({ port }).then((s) => ({ sim: s, close: () => s.close() }))
  : await startDockerSim({ kube: { port } });
// Quick pods, as the in-process suites have them: the tests wait for real readiness either way.
sim.pods.startDelayMs = 20;
sim.pods.readyDelayMs = 30;

mkdirSync(path.dirname(file), { recursive: true });
writeFileSync(file, sim.kubeconfig({ contextName: 'preevy-sim' }), { mode: 0o600 });
console.log(`The simulated cluster serves ${sim.url}; cluster-admin kubeconfig: ${file}`);
if (noDocker) console.log(`No Docker engines behind docker-host pods: ${noDocker}`);
console.log('ready');

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await close();
  rmSync(file, { force: true });
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
