/**
 * The Kubernetes API simulator: an HTTPS kube-apiserver look-alike with its store, RBAC, watch, garbage
 * collection, fault injection and the controllers that make Deployments roll out. Used by the integration
 * and end-to-end tests, the demo and the benchmarks.
 */
import { randomBytes } from 'node:crypto';
import { stringify as toYaml } from 'yaml';
import { podLog } from '../kubelet/logs.js';
import { defaultWireMode, prng, type WireOptions } from '../kubelet/wire.js';
import { simCerts } from './certs.js';
import type { Codecs } from './codecs.js';
import { type ControllerOptions, defaultPodBehaviour, startControllers } from './controllers/index.js';
import { type AuditEntry, Faults } from './faults.js';
import { jsonPatch, mergePatch, recordUpdate, serverSideApply, strategicMergePatch } from './merge/index.js';
import { Authenticator, Authorizer, type Rule } from './rbac.js';
import { loadDiscovery } from './resources.js';
import { loadSchemas } from './schema/index.js';
import { ApiServer, type UpgradeHandler, type UpgradeKind } from './server/index.js';
import { MemoryStore } from './store.js';
import type { PodBackend, PodBehaviour, SimObject, Store } from './types.js';

export type { WireMode, WireOptions } from '../kubelet/wire.js';
export { defaultPodBehaviour } from './controllers/index.js';
export type { AuditEntry, FaultAction, FaultMatch, FaultRule } from './faults.js';
export { countRequests, Faults, writes } from './faults.js';
export type { Rule } from './rbac.js';
export type { UpgradeContext, UpgradeHandler, UpgradeKind } from './server/index.js';
export type { DeleteOptions } from './store.js';
export { MemoryStore } from './store.js';
export type { PodBackend, PodBehaviour, SimObject, Store } from './types.js';

export interface KubeSimOptions {
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Seed of the fault-injection PRNG. */
  seed?: number;
  pods?: Partial<PodBehaviour>;
  podBackend?: PodBackend;
  /** Extra namespaces to create (default, kube-system, kube-public and kube-node-lease always exist). */
  namespaces?: string[];
  /**
   * Controller timing: `backoffScale` shrinks CrashLoopBackOff/image-pull back-offs (messages keep the real
   * numbers); `clock` drives timestamps and the progress deadline (the store's timestamps too).
   */
  controllers?: Pick<ControllerOptions, 'backoffScale' | 'clock' | 'onError'>;
  /**
   * How exec and port-forward frames are grouped into the client's reads (../kubelet/wire.ts): `recorded` as a real
   * cluster does (the default; `PREEVY_SIM_WIRE` sets another for a whole run), `split` cut at random.
   */
  wire?: WireOptions;
}

export interface KubeSim {
  /** https://127.0.0.1:<port> */
  url: string;
  caPem: string;
  /** A cluster-admin token. */
  adminToken: string;
  /** Direct access for tests: seed objects, assert state. Writes here skip HTTP, auth and validation. */
  store: MemoryStore & Store;
  /** Mutable at run time. */
  pods: PodBehaviour;
  faults: Faults;
  /** Every request, in arrival order. */
  audit: AuditEntry[];
  addToken(token: string, user: string, rules?: Rule[] | 'cluster-admin'): void;
  /** A kubeconfig (YAML) with the CA inline and a bearer token (the admin token by default). */
  kubeconfig(opts?: { token?: string; namespace?: string; contextName?: string }): string;
  setUpgradeHandler(kind: UpgradeKind, handler: UpgradeHandler | undefined): void;
  /** Watches still streaming: a client that forgot to close one keeps its process alive. */
  openWatches(): number;
  /** Closes the server, open watches and sockets, stops the controllers; the process can exit afterwards. */
  close(): Promise<void>;
}

/** The schema and merge engines behind the server's Codecs seam (loaded once: the schemas are cached). */
export function loadCodecs(): Codecs {
  return {
    schemas: loadSchemas(),
    serverSideApply,
    recordUpdate,
    strategicMergePatch,
    mergePatch,
    jsonPatch,
  };
}

const SYSTEM_NAMESPACES = ['default', 'kube-system', 'kube-public', 'kube-node-lease'];

export async function startKubeSim(opts: KubeSimOptions = {}): Promise<KubeSim> {
  const host = opts.host ?? '127.0.0.1';
  const certs = simCerts(host === '127.0.0.1' ? [] : [host]);
  const discovery = loadDiscovery();
  const clock = opts.controllers?.clock;
  const store = new MemoryStore({
    types: discovery.types,
    caPem: certs.caPem,
    ...(clock ? { now: () => clock.now() } : {}),
  });
  for (const name of [...new Set([...SYSTEM_NAMESPACES, ...(opts.namespaces ?? [])])]) {
    store.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } as SimObject['metadata'] });
  }
  // The bootstrap ClusterRole, so tests can bind users to it as on a real cluster.
  store.create({
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRole',
    metadata: {
      name: 'cluster-admin',
      labels: { 'kubernetes.io/bootstrapping': 'rbac-defaults' },
      annotations: { 'rbac.authorization.kubernetes.io/autoupdate': 'true' },
    } as Partial<SimObject['metadata']> as SimObject['metadata'],
    rules: [
      { apiGroups: ['*'], resources: ['*'], verbs: ['*'] },
      { nonResourceURLs: ['*'], verbs: ['*'] },
    ],
  });

  const authn = new Authenticator(store);
  const authz = new Authorizer(store);
  const adminToken = randomBytes(24).toString('hex');
  authn.addToken(adminToken, 'kubernetes-admin', 'cluster-admin');
  const faults = new Faults(opts.seed ?? 1);
  const audit: AuditEntry[] = [];
  const upgradeHandlers = new Map<UpgradeKind, UpgradeHandler>();
  const codecs = loadCodecs();
  const pods: PodBehaviour = { ...defaultPodBehaviour(), ...opts.pods };
  const podLogOf = (pod: SimObject, query: URLSearchParams) => podLog(pod, query, pods);
  const api = new ApiServer(
    {
      store,
      discovery,
      authn,
      authz,
      faults,
      audit,
      codecs,
      upgradeHandlers,
      podLog: podLogOf,
      wire: { mode: opts.wire?.mode ?? defaultWireMode(), rand: prng(opts.wire?.seed ?? opts.seed ?? 1) },
    },
    { key: certs.keyPem, cert: certs.certPem },
  );
  const port = await api.listen(opts.port ?? 0, host);
  const urlHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  const url = `https://${urlHost}:${port}`;

  const controllers = startControllers(store, pods, opts.podBackend, opts.controllers ?? {});

  let closing: Promise<void> | undefined;
  return {
    url,
    caPem: certs.caPem,
    adminToken,
    store,
    pods,
    faults,
    audit,
    addToken: (token, user, rules) => authn.addToken(token, user, rules),
    kubeconfig: (o = {}) => {
      const context = o.contextName ?? 'kube-sim';
      return toYaml({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [
          {
            name: 'kube-sim',
            cluster: {
              server: url,
              'certificate-authority-data': Buffer.from(certs.caPem).toString('base64'),
            },
          },
        ],
        users: [{ name: `${context}-user`, user: { token: o.token ?? adminToken } }],
        contexts: [
          {
            name: context,
            context: {
              cluster: 'kube-sim',
              user: `${context}-user`,
              ...(o.namespace ? { namespace: o.namespace } : {}),
            },
          },
        ],
        'current-context': context,
      });
    },
    setUpgradeHandler: (kind, handler) => {
      if (handler) upgradeHandlers.set(kind, handler);
      else upgradeHandlers.delete(kind);
    },
    openWatches: () => api.watches.size,
    close: () => {
      closing ??= (async () => {
        await controllers.stop();
        await api.close();
        store.close();
      })();
      return closing;
    },
  };
}
