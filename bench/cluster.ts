/**
 * `npm run bench -- --kubeconfig FILE --namespace NS`: the tunnel and deploy benchmarks on a cluster, each with
 * its baselines (kubectl port-forward, the pod IP) measured in the same run. Everything it knows of the cluster
 * comes from the kubeconfig file: `--sim-as-cluster` runs this same code against the simulator's.
 */
import { clusterDeployBench } from './cluster-deploy.js';
import { clusterTunnelBench } from './cluster-tunnel.js';
import type { ClusterArgs, ClusterBenchId } from './lib/args.js';
import { type ClusterEnv, connectCluster } from './lib/cluster-env.js';
import type { Section } from './lib/section.js';
import { findKubectl, onPath } from './lib/ways.js';

const BENCHES: Record<
  ClusterBenchId,
  { name: string; run: (env: ClusterEnv, tmp: string, sizes: ClusterArgs) => Promise<Section> }
> = {
  tunnel: { name: 'tunnel throughput on the cluster', run: clusterTunnelBench },
  deploy: { name: 'deploy times on the cluster', run: clusterDeployBench },
};

export async function runClusterBenches(
  args: ClusterArgs,
  tmp: string,
  sections: Section[],
): Promise<{ failed: boolean }> {
  const kubectl = findKubectl(args.kubectl);
  console.log(`Cluster: kubeconfig ${args.kubeconfigFile}, namespace ${args.namespace}`);
  console.log(
    kubectl
      ? `  kubectl: ${kubectl}`
      : '  kubectl: not found on PATH (give it with --kubectl PATH): the kubectl port-forward baselines are skipped',
  );
  // Every way, the tunnel's included, is measured with the docker CLI's own `docker cp` and `docker compose`.
  if (!onPath('docker'))
    throw new Error(
      'the docker CLI is not on PATH: the benchmarks send their docker work with it (install docker-cli and its compose plugin)',
    );
  const env = await connectCluster(args);
  let failed = false;
  try {
    for (const id of args.only) {
      const bench = BENCHES[id];
      console.log(`\n== ${bench.name}`);
      try {
        sections.push(await bench.run(env, tmp, args));
      } catch (err) {
        failed = true;
        console.error(
          `${bench.name} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`,
        );
      }
    }
  } finally {
    await env.close();
  }
  return { failed };
}
