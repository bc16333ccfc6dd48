/**
 * The bench's command line. Two modes: against the simulator (the default), or against a cluster given by a
 * kubeconfig file and a namespace. A bad argument is an error that names its flag and says what to do, before
 * anything starts.
 */
import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import { parseArgs } from 'node:util';

export const SIM_BENCHES = ['tunnel', 'deploy', 'upload', 'build', 'down', 'cold'] as const;
/** Upload, build context memory, down and cold start need the simulator's view of the pod or none at all. */
export const CLUSTER_BENCHES = ['tunnel', 'deploy'] as const;

export type SimBenchId = (typeof SIM_BENCHES)[number];
export type ClusterBenchId = (typeof CLUSTER_BENCHES)[number];

interface Common {
  /** Runs the action's side under tsx instead of a bundle. */
  tsx: boolean;
  /** Runs the committed dist/index.js as the action. */
  dist: boolean;
}

export interface SimArgs extends Common {
  mode: 'sim';
  only: SimBenchId[];
  /** Starts the simulator and runs the cluster mode against it, through its kubeconfig file only. */
  simAsCluster: boolean;
  /** With simAsCluster: the cluster mode's sizes. */
  cluster: ClusterSizes;
}

export interface ClusterSizes {
  /** Bytes of each `docker cp` of the tunnel benchmark. */
  bytes: number;
  rounds: number;
  /** --kubectl; undefined: look for kubectl on PATH. */
  kubectl?: string;
}

export interface ClusterArgs extends Common, ClusterSizes {
  mode: 'cluster';
  only: ClusterBenchId[];
  /** The kubeconfig file's path, as given. */
  kubeconfigFile: string;
  /** Its text. */
  kubeconfig: string;
  namespace: string;
  /** Why the direct baseline is not even tried (the simulator's pod IPs are no addresses of this machine). */
  noDirect?: string;
}

export type BenchArgs = SimArgs | ClusterArgs;

export class BenchArgsError extends Error {
  constructor(
    message: string,
    readonly hint: string,
  ) {
    super(message);
    this.name = 'BenchArgsError';
  }
}

const USAGE =
  'usage: npm run bench -- [--only=tunnel,deploy,...] [--tsx] [--dist]\n' +
  '       npm run bench -- --kubeconfig FILE --namespace NS [--only=tunnel,deploy] [--kubectl PATH] [--size-mb N] [--rounds N]';

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
export const DEFAULT_CLUSTER_MB = 200;
export const DEFAULT_CLUSTER_ROUNDS = 5;

function positiveInt(flag: string, value: string | undefined, fallback: number, max: number): number {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > max)
    throw new BenchArgsError(
      `${flag}: "${value}" is not a whole number from 1 to ${max}`,
      `for example ${flag} ${fallback}`,
    );
  return Number(value);
}

function onlyOf<T extends string>(value: string | undefined, known: readonly T[], mode: string): T[] {
  if (value === undefined) return [...known];
  const ids = value.split(',').filter(Boolean);
  const unknown = ids.filter((id) => !(known as readonly string[]).includes(id));
  if (unknown.length > 0 || ids.length === 0)
    throw new BenchArgsError(
      `--only: unknown benchmark ${unknown.join(', ') || '(none given)'} ${mode}`,
      `known: ${known.join(', ')}`,
    );
  return ids as T[];
}

function checkKubectl(file: string): void {
  try {
    if (!statSync(file).isFile()) throw new Error('not a file');
    accessSync(file, constants.X_OK);
  } catch {
    throw new BenchArgsError(
      `--kubectl: ${file} is not an executable file`,
      'give the path of a kubectl binary, or leave --kubectl out to use the one on PATH (the kubectl baseline is skipped when there is none)',
    );
  }
}

/** `argv`: the arguments after the script (process.argv.slice(2)). Throws BenchArgsError. */
export function parseBenchArgs(argv: readonly string[]): BenchArgs {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        only: { type: 'string' },
        tsx: { type: 'boolean' },
        dist: { type: 'boolean' },
        kubeconfig: { type: 'string' },
        namespace: { type: 'string' },
        kubectl: { type: 'string' },
        'size-mb': { type: 'string' },
        rounds: { type: 'string' },
        'sim-as-cluster': { type: 'boolean' },
      },
    }));
  } catch (err) {
    throw new BenchArgsError(err instanceof Error ? err.message : String(err), USAGE);
  }
  const str = (k: string) => values[k] as string | undefined;
  const common = { tsx: values.tsx === true, dist: values.dist === true };
  const kubeconfigFile = str('kubeconfig');
  const namespace = str('namespace');
  const kubectl = str('kubectl');
  if (kubectl !== undefined) checkKubectl(kubectl);
  const sizes: ClusterSizes = {
    bytes: positiveInt('--size-mb', str('size-mb'), DEFAULT_CLUSTER_MB, 100_000) * 1_000_000,
    rounds: positiveInt('--rounds', str('rounds'), DEFAULT_CLUSTER_ROUNDS, 100),
    kubectl,
  };
  const simAsCluster = values['sim-as-cluster'] === true;

  if (kubeconfigFile === undefined && namespace === undefined) {
    const clusterOnly = ['kubectl', 'size-mb', 'rounds'].filter((k) => values[k] !== undefined);
    if (clusterOnly.length > 0 && !simAsCluster)
      throw new BenchArgsError(
        `--${clusterOnly[0]} is for a run against a cluster, and --kubeconfig is missing`,
        'add --kubeconfig FILE --namespace NS, or --sim-as-cluster to run the cluster mode against the simulator',
      );
    return {
      mode: 'sim',
      ...common,
      only: onlyOf(str('only'), simAsCluster ? CLUSTER_BENCHES : SIM_BENCHES, 'in this mode') as SimBenchId[],
      simAsCluster,
      cluster: sizes,
    };
  }
  if (simAsCluster)
    throw new BenchArgsError(
      '--sim-as-cluster starts its own simulator: it does not take --kubeconfig or --namespace',
      'leave out either --sim-as-cluster or --kubeconfig/--namespace',
    );
  if (kubeconfigFile === undefined || kubeconfigFile === '')
    throw new BenchArgsError(
      '--kubeconfig is missing: --namespace needs the kubeconfig file of the cluster to run against',
      'add --kubeconfig FILE (for example --kubeconfig ~/.kube/config)',
    );
  if (namespace === undefined || namespace === '')
    throw new BenchArgsError(
      '--namespace is missing: the benchmarks create their environments in one namespace of the cluster',
      'add --namespace NS, a namespace the kubeconfig may create Deployments, pods/exec and pods/portforward in',
    );
  if (!DNS_LABEL.test(namespace) || namespace.length > 63)
    throw new BenchArgsError(
      `--namespace: "${namespace}" is not a namespace name`,
      'a namespace is a DNS label: lowercase letters, digits and "-", at most 63 characters',
    );
  let kubeconfig: string;
  try {
    kubeconfig = readFileSync(kubeconfigFile, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new BenchArgsError(
      `--kubeconfig: cannot read ${kubeconfigFile}${code ? ` (${code})` : ''}`,
      'give the path of a kubeconfig file, e.g. the one `kubectl config view --raw --minify` prints',
    );
  }
  if (kubeconfig.trim() === '')
    throw new BenchArgsError(`--kubeconfig: ${kubeconfigFile} is empty`, 'give a kubeconfig file');
  return {
    mode: 'cluster',
    ...common,
    ...sizes,
    only: onlyOf(
      str('only'),
      CLUSTER_BENCHES,
      `against a cluster (${SIM_BENCHES.filter((b) => !(CLUSTER_BENCHES as readonly string[]).includes(b)).join(', ')} run against the simulator only)`,
    ),
    kubeconfigFile,
    kubeconfig,
    namespace,
  };
}
