/**
 * `npm run bench -- --kubeconfig FILE --namespace NS` as a user runs it, against the simulator through its
 * kubeconfig file only (`--sim-as-cluster`), with the smallest sizes: nothing else runs the cluster mode, so
 * this keeps it working. kubectl 1.32 cannot port-forward through the simulator; the stand-in forwards with
 * the action's tunnel, so the kubectl path runs too. The figures are not looked at (bench/ measures, tests don't).
 */
import { describe, expect, it } from 'vitest';
import { dockerUnavailable } from '../sim/kubelet/docker/support.js';
import { runNode } from './support.js';

const skip = dockerUnavailable();

describe.skipIf(skip !== undefined)(`the bench's cluster mode${skip ? ` (skipped: ${skip})` : ''}`, () => {
  it('deploys with the action, copies through the tunnel and kubectl, says why direct is skipped, and removes its environment', async () => {
    const args = ['--import', 'tsx', 'bench/index.ts', '--sim-as-cluster', '--tsx', '--only=tunnel'];
    args.push('--size-mb', '1', '--rounds', '1', '--kubectl', 'bench/lib/kubectl-standin.sh');
    const { code, out } = await runNode(args);
    expect(code, out.slice(-4000)).toBe(0);
    const results = out.slice(out.indexOf('Results ('));
    expect(results).toMatch(/^tunnel \(openTunnel, WebSocket port-forward\) +\d+\.\d\d/m);
    expect(results).toMatch(/^kubectl port-forward pod\/X :2375 +\d+\.\d\d/m);
    expect(results).toMatch(/^tunnel \/ kubectl port-forward throughput: \d+\.\d\d/m);
    // The simulator's pod IPs are not its engines' addresses: whatever answers there, it is not the pod's dockerd.
    expect(results).toMatch(/^skipped, direct: the simulator's pod IPs are not addresses of this machine/m);
    expect(out).not.toContain('removing the environment of PR');
  }, 300_000);
});
