/**
 * What a user sets up before the action can run, done on any cluster through its API as cluster-admin: a fresh
 * namespace, examples/rbac/role.yaml applied in it, a minted token of its ServiceAccount and a kubeconfig holding only
 * that token (examples/rbac/make-kubeconfig.sh does the same with kubectl).
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { parseAllDocuments, stringify } from 'yaml';
import type { KubeClient } from '../../src/kube/client.js';
import type { KubeObject } from '../../src/kube/types.js';

const ROLE_FILE = path.join(import.meta.dirname, '../../examples/rbac/role.yaml');
export const SERVICE_ACCOUNT = 'preevy-kube-action';
/** On everything the fixture itself creates: the suites' object listings leave these out. */
export const FIXTURE_LABEL = 'preevy.dev/test-fixture';

/** `preevy-test-<suite>-<random>`: a DNS label, unique per run, that says which suite left it. */
export function suiteNamespace(suite: string): string {
  const slug = suite
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 30)
    .replace(/-+$/, '');
  return `preevy-test-${slug}-${randomBytes(3).toString('hex')}`;
}

export async function createNamespace(admin: KubeClient, name: string): Promise<void> {
  await admin.request({
    method: 'POST',
    path: '/api/v1/namespaces',
    body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels: { [FIXTURE_LABEL]: 'true' } } },
  });
}

/** Deletes the namespace and, with it, everything in it; a namespace already gone is fine. */
export async function deleteNamespace(admin: KubeClient, name: string): Promise<void> {
  await admin
    .request({
      method: 'DELETE',
      path: `/api/v1/namespaces/${name}`,
      body: { propagationPolicy: 'Background' },
    })
    .catch((err: { code?: number }) => {
      if (err.code !== 404) throw err;
    });
}

/** examples/rbac/role.yaml as `kubectl -n <namespace> apply -f` puts it: the file names no namespace. */
export async function applyExampleRole(admin: KubeClient, namespace: string): Promise<void> {
  const collections: Record<string, string> = {
    ServiceAccount: `/api/v1/namespaces/${namespace}/serviceaccounts`,
    Role: `/apis/rbac.authorization.k8s.io/v1/namespaces/${namespace}/roles`,
    RoleBinding: `/apis/rbac.authorization.k8s.io/v1/namespaces/${namespace}/rolebindings`,
  };
  for (const doc of parseAllDocuments(readFileSync(ROLE_FILE, 'utf8'))) {
    const o = doc.toJS() as KubeObject;
    const collection = collections[o.kind];
    if (!collection) throw new Error(`examples/rbac/role.yaml: no collection known for ${o.kind}`);
    o.metadata = { ...o.metadata, namespace, labels: { ...o.metadata.labels, [FIXTURE_LABEL]: 'true' } };
    await admin.request({ method: 'POST', path: collection, body: o });
  }
}

/** A token of the ServiceAccount (the action's by default) through the TokenRequest API, valid for an hour. */
export async function mintToken(
  admin: KubeClient,
  namespace: string,
  serviceAccount = SERVICE_ACCOUNT,
): Promise<string> {
  const { body } = await admin.request<{ status: { token: string } }>({
    method: 'POST',
    path: `/api/v1/namespaces/${namespace}/serviceaccounts/${serviceAccount}/token`,
    body: {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenRequest',
      spec: { expirationSeconds: 3600 },
    },
  });
  return body.status.token;
}

/** A kubeconfig for the token: the admin kubeconfig's server and CA (inlined), nothing else of it. */
export function tokenKubeconfig(adminKubeconfig: string, token: string, namespace: string): string {
  const kc = new KubeConfig();
  kc.loadFromString(adminKubeconfig);
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('the admin kubeconfig has no current context with a cluster');
  const caData =
    cluster.caData ?? (cluster.caFile ? readFileSync(cluster.caFile).toString('base64') : undefined);
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      {
        name: 'cluster',
        cluster: {
          server: cluster.server,
          ...(caData ? { 'certificate-authority-data': caData } : {}),
          ...(cluster.skipTLSVerify ? { 'insecure-skip-tls-verify': true } : {}),
          ...(cluster.tlsServerName ? { 'tls-server-name': cluster.tlsServerName } : {}),
        },
      },
    ],
    users: [{ name: SERVICE_ACCOUNT, user: { token } }],
    contexts: [{ name: SERVICE_ACCOUNT, context: { cluster: 'cluster', user: SERVICE_ACCOUNT, namespace } }],
    'current-context': SERVICE_ACCOUNT,
  });
}
