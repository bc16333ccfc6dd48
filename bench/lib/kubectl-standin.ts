/**
 * A stand-in for `kubectl port-forward pod/X :2375`, for checking the cluster mode against the simulator
 * (`npm run bench -- --sim-as-cluster --kubectl bench/lib/kubectl-standin.sh`): kubectl 1.32 sends SPDY over
 * WebSocket, which the simulator does not serve, so the real one fails there. It forwards with the action's
 * tunnel and prints kubectl's "Forwarding from" line, so the bench's kubectl path (starting it, the engine's
 * reset, compose through it, the ratios) runs end to end; its figures are the tunnel's, not kubectl's.
 */
import { readFileSync } from 'node:fs';
import { connect } from '../../src/kube/client.js';
import { openTunnel } from '../../src/kube/stream/port-forward.js';

const args = process.argv.slice(2);
const flag = (name: string) => {
  const i = args.indexOf(name);
  const value = i >= 0 ? args[i + 1] : undefined;
  if (!value) throw new Error(`kubectl-standin: ${name} is missing`);
  return value;
};
const pod = args.find((a) => a.startsWith('pod/'))?.slice('pod/'.length);
if (args[4] !== 'port-forward' || !pod)
  throw new Error(`kubectl-standin: only port-forward pod/X, got ${args.join(' ')}`);
const namespace = flag('--namespace');
const client = await connect({ kubeconfig: readFileSync(flag('--kubeconfig'), 'utf8'), namespace });
const tunnel = await openTunnel(client, { namespace, pod });
console.log(`Forwarding from 127.0.0.1:${tunnel.port} -> 2375`);
process.once('SIGTERM', () => {
  void tunnel
    .close()
    .then(() => client.close())
    .finally(() => process.exit(0));
});
