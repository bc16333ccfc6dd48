import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe } from 'vitest';
import { parseAllDocuments } from 'yaml';
import type { RunContext } from '../../src/commands/run.js';
import type { EventInfo } from '../../src/github/event.js';
import { DEFAULT_URL_TEMPLATE, type Inputs } from '../../src/inputs.js';
import type { KubeObject } from '../../src/kube/types.js';
import type { Log } from '../../src/util/log.js';
import { type DockerSim, startDockerSim as startSimCluster } from '../sim/cluster.js';
import { type GitHubSim, type GitHubSimOptions, startGitHubSim } from '../sim/github/index.js';
import { type KubeSim, startKubeSim } from '../sim/kube/index.js';
import type { NetworkOptions } from '../sim/kube/network/index.js';
import type { SimObject } from '../sim/kube/types.js';
import type { DockerPodBackend, DockerPodBackendOptions } from '../sim/kubelet/docker/backend.js';
import type { Engine } from '../sim/kubelet/docker/engines.js';
import { dockerUnavailable } from '../sim/kubelet/docker/support.js';
import { type CapturedLog, captureLog as sharedCaptureLog } from '../unit/support.js';

export const NAMESPACE = 'previews';
const here = path.dirname(new URL(import.meta.url).pathname);

type ExampleRule = { apiGroups: string[]; resources: string[]; verbs: string[] };

/**
 * examples/rbac/role.yaml (ServiceAccount, Role, RoleBinding) as `kubectl -n <namespace> apply -f` puts it: the
 * file names no namespace. `keepRule` drops rules of the Role (a Role as users had it before a rule was added).
 */
export function applyExampleRole(
  sim: KubeSim,
  namespace: string,
  keepRule: (rule: ExampleRule) => boolean = () => true,
): void {
  for (const doc of parseAllDocuments(
    readFileSync(path.join(here, '../../examples/rbac/role.yaml'), 'utf8'),
  )) {
    const o = doc.toJS() as SimObject;
    o.metadata.namespace = namespace;
    if (o.kind === 'Role') o.rules = (o.rules as ExampleRule[]).filter(keepRule);
    sim.store.create(o);
  }
}

/**
 * A Role that lets the action's ServiceAccount (examples/rbac/role.yaml) use `verb` on Roles, bound to it: a
 * grant an administrator adds by hand. Both named `name`.
 */
export function grantOnRoles(sim: KubeSim, namespace: string, name: string, verb: 'bind' | 'escalate'): void {
  const rbac = 'rbac.authorization.k8s.io';
  const create = (kind: string, content: Record<string, unknown>) =>
    sim.store.create({
      apiVersion: `${rbac}/v1`,
      kind,
      metadata: { name, namespace },
      ...content,
    } as unknown as SimObject);
  create('Role', { rules: [{ apiGroups: [rbac], resources: ['roles'], verbs: [verb] }] });
  create('RoleBinding', {
    roleRef: { apiGroup: rbac, kind: 'Role', name },
    subjects: [{ kind: 'ServiceAccount', name: 'preevy-kube-action', namespace }],
  });
}

export async function startSim(): Promise<KubeSim> {
  const sim = await startKubeSim({ namespaces: [NAMESPACE, 'other'] });
  sim.pods.startDelayMs = 20;
  sim.pods.readyDelayMs = 30;
  return sim;
}

/**
 * A simulator whose docker-host pods are real Docker engines, with the kubelet's exec and port-forward
 * endpoints and its network (../sim/cluster.ts), holding the tests' namespace.
 */
export function startDockerSim(
  networkOpts: NetworkOptions = {},
  backendOpts: DockerPodBackendOptions = {},
): Promise<DockerSim> {
  return startSimCluster({ namespaces: [NAMESPACE], network: networkOpts, backend: backendOpts });
}
export type { DockerSim } from '../sim/cluster.js';

/** A copy of a test template with text replaced, so a test can change a template between two runs. */
export function template(name: string, replace: Record<string, string> = {}): string {
  let text = readFileSync(path.join(here, 'templates', name), 'utf8');
  for (const [from, to] of Object.entries(replace)) {
    if (!text.includes(from)) throw new Error(`${name} has no ${from}`);
    text = text.split(from).join(to);
  }
  const dir = mkdtempSync(path.join(tmpdir(), 'tpl-'));
  const file = path.join(dir, name);
  writeFileSync(file, text);
  return file;
}

export function templateText(text: string, name = 'inline.yaml.njk'): string {
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'tpl-')), name);
  writeFileSync(file, text);
  return file;
}

export function inputsFor(sim: KubeSim, over: Partial<Inputs> = {}): Inputs {
  return inputsWith(sim.kubeconfig({ namespace: NAMESPACE }), NAMESPACE, over);
}

/** The inputs of `up`/`down` for a kubeconfig and namespace: the full test template, no compose project. */
export function inputsWith(kubeconfig: string, namespace: string, over: Partial<Inputs> = {}): Inputs {
  return {
    kubeconfig,
    allowKubeconfigExec: false,
    namespace,
    template: template('full.yaml.njk'),
    serverSideApply: true,
    readyTimeoutMs: 20_000,
    command: 'auto',
    // No compose project by default: these tests are about provisioning (the Docker bridge has its own).
    workingDirectory: mkdtempSync(path.join(tmpdir(), 'workspace-')),
    composeFiles: [],
    composeProfiles: [],
    composeEnvFiles: [],
    allowOutsidePaths: false,
    expose: 'none',
    urlTemplate: DEFAULT_URL_TEMPLATE,
    namedUrls: false,
    comment: true,
    allowPullRequestTarget: false,
    ...over,
  };
}

export type { CapturedLog } from '../unit/support.js';
export { hasCompose, type Recorded, type RecordedRequest, recorded } from '../unit/support.js';

/** A log of info and warning lines as the action writes them (debug lines dropped). */
export const captureLog = (): CapturedLog => sharedCaptureLog({ tagInfo: false, debug: false });

/**
 * A `pull_request` event of acme/shop (the repository of ctxFor and the GitHub simulator's tests) for PR `number`
 * at `headSha`, as Actions run number `run`: the PR is closed when the action is `closed`, open otherwise.
 */
export function pullRequestEvent(number: number, action: string, headSha: string, run: number): EventInfo {
  const repository = 'acme/shop';
  return {
    name: 'pull_request',
    action,
    repository,
    runUrl: `https://github.com/${repository}/actions/runs/${run}`,
    pr: {
      number,
      headSha,
      headRef: `feature-${number}`,
      baseRef: 'main',
      repository,
      title: `PR ${number}`,
      state: action === 'closed' ? 'closed' : 'open',
      fromFork: false,
      labels: [],
    },
  };
}

export function ctxFor(prNumber: number, log: Log = captureLog()): RunContext {
  const event = pullRequestEvent(prNumber, 'opened', 'a'.repeat(40), 1000 + prNumber);
  return { envId: `shop-pr-${prNumber}`, event, log, phase: (_name, fn) => fn() };
}

/**
 * Every object a user created in the namespace, keyed `Kind/name`: objects owned by another object
 * (ReplicaSets, Pods, Events, Endpoints) and the ones every namespace has are left out.
 */
export function userObjects(sim: KubeSim, namespace = NAMESPACE): Map<string, SimObject> {
  const out = new Map<string, SimObject>();
  for (const t of sim.store.types) {
    if (!t.namespaced || !t.verbs.includes('list') || t.resource.includes('/')) continue;
    if (['events', 'endpoints', 'endpointslices'].includes(t.resource)) continue;
    for (const o of sim.store.list(t.group, t.resource, { namespace })) {
      if (o.metadata.ownerReferences?.length) continue;
      if (t.kind === 'ConfigMap' && o.metadata.name === 'kube-root-ca.crt') continue;
      if (t.kind === 'ServiceAccount' && o.metadata.name === 'default') continue;
      // The action's bookkeeping (an environment's lock Lease, a deleted one's tombstone): see bookkeeping().
      if (o.metadata.labels?.['preevy.dev/lock'] || o.metadata.labels?.['preevy.dev/tombstone']) continue;
      out.set(`${t.kind}/${o.metadata.name}`, o);
    }
  }
  return out;
}

/** An environment's lock (Lease) and tombstone (ConfigMap), which userObjects leaves out. */
export function bookkeeping(
  sim: KubeSim,
  envId: string,
  namespace = NAMESPACE,
): { lease?: SimObject; tombstone?: SimObject } {
  const of = (o: SimObject) => o.metadata.labels?.['preevy.dev/env-id'] === envId;
  return {
    lease: sim.store
      .list('coordination.k8s.io', 'leases', { namespace })
      .find((o) => of(o) && o.metadata.labels?.['preevy.dev/lock'] === 'true'),
    tombstone: sim.store
      .list('', 'configmaps', { namespace })
      .find((o) => of(o) && o.metadata.labels?.['preevy.dev/tombstone'] === 'true'),
  };
}

/** The user objects of one environment, by its env-id label. */
export function envObjects(sim: KubeSim, envId: string, namespace = NAMESPACE): Map<string, SimObject> {
  return new Map(
    [...userObjects(sim, namespace)].filter(([, o]) => o.metadata.labels?.['preevy.dev/env-id'] === envId),
  );
}

export async function expectRejects(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected the promise to reject');
}

/** A compose project in a fresh temp directory, from file texts by relative path. */
export function writeProject(files: Record<string, string>, prefix = 'project-'): string {
  const wd = mkdtempSync(path.join(tmpdir(), prefix));
  for (const [f, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(wd, f)), { recursive: true });
    writeFileSync(path.join(wd, f), text);
  }
  return wd;
}

/**
 * A service built from a local Dockerfile, serving a bind-mounted directory. httpd is PID 1, which ignores
 * SIGTERM: the init lets a recreate (a push that changes the served files) stop it at once, not after 10 s.
 */
export const WEB_PROJECT = {
  'app/Dockerfile':
    'FROM busybox:local\nRUN echo built > /built\nCMD ["httpd", "-f", "-p", "80", "-h", "/www"]\n',
  'site/index.html': 'v1\n',
  'site/other.html': 'unchanged\n',
  'compose.yaml':
    'services:\n  web:\n    build: ./app\n    init: true\n    ports: ["8080:80"]\n    volumes: ["./site:/www:ro"]\n',
};

/** The real Docker engine behind the live docker-host pod of environment `envId`, if it runs. */
export function engineOfEnv(sim: KubeSim, backend: DockerPodBackend, envId: string): Engine | undefined {
  const pod = sim.store
    .list('', 'pods', { namespace: NAMESPACE, labelSelector: `preevy.dev/env-id=${envId}` })
    .find((p) => !p.metadata.deletionTimestamp);
  return pod && backend.engineFor(`${NAMESPACE}/${pod.metadata.name}`);
}

/** Why the Docker suites cannot run here (no root, no dockerd...), or undefined when they can. */
export const dockerSkip = dockerUnavailable();

/** A describe of the Docker suites: skipped, saying why in its title, where Docker engines cannot run. */
export function describeWithDocker(title: string, fn: () => void): void {
  describe.skipIf(dockerSkip !== undefined)(`${title}${dockerSkip ? ` (skipped: ${dockerSkip})` : ''}`, fn);
}

/**
 * A Docker simulator (startDockerSim) for the enclosing describe: started before its tests, closed after them.
 * Its fields are there once the tests run.
 */
export function useDockerSim(...args: Parameters<typeof startDockerSim>): DockerSim {
  const d = {} as DockerSim;
  beforeAll(async () => {
    Object.assign(d, await startDockerSim(...args));
  });
  afterAll(async () => {
    await d.close?.();
  });
  return d;
}

/** useDockerSim, with what the tests of a describe ask of its simulator most. */
export function useDockerSuite(...args: Parameters<typeof startDockerSim>) {
  const d = useDockerSim(...args);
  return Object.assign(d, {
    /** engineOfEnv in this simulator. */
    engineOf: (envId: string): Engine | undefined => engineOfEnv(d.sim, d.backend, envId),
    /** inputsFor this simulator. */
    inputs: (over: Partial<Inputs> = {}): Inputs => inputsFor(d.sim, over),
  });
}

/**
 * A GitHub simulator holding the repository and the Actions job's installation token `token`, with the
 * permissions the README's workflow grants it (contents: read; pull-requests and deployments: write).
 */
export async function startJobGitHub(
  repository: { owner: string; repo: string },
  token: string,
  opts: GitHubSimOptions = {},
): Promise<GitHubSim> {
  const gh = await startGitHubSim(opts);
  gh.addRepository(repository);
  gh.addToken(token, {
    login: 'github-actions[bot]',
    kind: 'installation',
    permissions: { contents: 'read', 'pull-requests': 'write', deployments: 'write' },
  });
  return gh;
}

function stampedLabels(
  envId: string,
  id: string,
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    'preevy.dev/env-id': envId,
    'preevy.dev/instance': id,
    'app.kubernetes.io/managed-by': 'preevy-kube-action',
    'app.kubernetes.io/instance': id,
    ...extra,
  };
}

/**
 * An environment as the action stamps it (ConfigMap, Service, docker-host Deployment) in namespace NS, for the tests
 * of src/environment that apply objects without rendering a template.
 */
export function stampedEnvironment(
  NS: string,
  envId: string,
  id: string,
  image = 'docker:27.5.1-dind',
): KubeObject[] {
  const l = stampedLabels(envId, id);
  return [
    {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: `${id}-cfg`, namespace: NS, labels: l },
      data: { a: '1' },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: `${id}-svc`, namespace: NS, labels: l },
      spec: { selector: { 'preevy.dev/instance': id }, ports: [{ port: 2375, targetPort: 2375 }] },
    },
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: {
        name: `${id}-dind`,
        namespace: NS,
        labels: { ...l, 'app.kubernetes.io/component': 'docker-host' },
        annotations: {
          'preevy.dev/created-at': '2026-01-01T00:00:00.000Z',
          'preevy.dev/all-types': 'apps/v1/Deployment,v1/ConfigMap,v1/Service',
        },
      },
      spec: {
        replicas: 1,
        selector: { matchLabels: { 'preevy.dev/instance': id } },
        template: {
          metadata: { labels: { ...l, 'app.kubernetes.io/component': 'docker-host' } },
          spec: { containers: [{ name: 'docker', image, securityContext: { privileged: true } }] },
        },
      },
    },
  ];
}
