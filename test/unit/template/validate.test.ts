import { describe, expect, it } from 'vitest';
import { TemplateError } from '../../../src/errors.js';
import type { KubeObject, TypeRef } from '../../../src/kube/types.js';
import { parseManifests } from '../../../src/template/parse.js';
import { type Scope, validateManifests } from '../../../src/template/validate.js';
import { kubeObject as obj } from '../support.js';

const FILE = 'env.yaml.njk';
const NS = 'previews';

/** What discovery would say on a plain cluster: built-in namespaced kinds and a few cluster-scoped ones. */
const NAMESPACED = new Set([
  'v1/ConfigMap',
  'v1/Secret',
  'v1/Service',
  'v1/ServiceAccount',
  'v1/PersistentVolumeClaim',
  'apps/v1/Deployment',
  'apps/v1/StatefulSet',
  'rbac.authorization.k8s.io/v1/Role',
  'networking.k8s.io/v1/Ingress',
]);
const CLUSTER = new Set(['v1/Namespace', 'rbac.authorization.k8s.io/v1/ClusterRole']);
const scopeOf = (t: TypeRef): Scope | undefined => {
  const key = `${t.apiVersion}/${t.kind}`;
  return NAMESPACED.has(key) ? 'Namespaced' : CLUSTER.has(key) ? 'Cluster' : undefined;
};

function dockerHost(name = 'env-dind', extra: Partial<KubeObject> = {}): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, labels: { 'app.kubernetes.io/component': 'docker-host' } },
    spec: { template: { spec: { containers: [{ name: 'docker', image: 'docker:27.5.1-dind' }] } } },
    ...extra,
  };
}

function problems(objs: KubeObject[], opts: { scopeOf?: typeof scopeOf } = {}): string {
  try {
    validateManifests(objs, { namespace: NS, file: FILE, scopeOf: opts.scopeOf ?? scopeOf });
  } catch (err) {
    expect(err).toBeInstanceOf(TemplateError);
    expect((err as TemplateError).file).toBe(FILE);
    return (err as TemplateError).message;
  }
  throw new Error('expected a TemplateError');
}

describe('validateManifests', () => {
  it('accepts a docker host with companions and fills in the namespace', () => {
    const input = [
      obj('ConfigMap', 'cfg'),
      dockerHost(),
      obj('Service', 'svc', 'v1', { metadata: { namespace: NS } }),
    ];
    const out = validateManifests(input, { namespace: NS, file: FILE, scopeOf });
    expect(out.map((o) => o.metadata.namespace)).toEqual([NS, NS, NS]);
    expect(input[0]?.metadata.namespace).toBeUndefined();
  });

  it('requires apiVersion, kind and metadata.name as strings', () => {
    const msg = problems([
      dockerHost(),
      { kind: 'ConfigMap', metadata: { name: 'a' } } as unknown as KubeObject,
      { apiVersion: 'v1', metadata: { name: 'b' } } as unknown as KubeObject,
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 5 } } as unknown as KubeObject,
      { apiVersion: 'v1', kind: 'ConfigMap' } as unknown as KubeObject,
    ]);
    expect(msg).toContain('document 2 ConfigMap/a: apiVersion is missing');
    expect(msg).toContain('document 3 ?/b: kind is missing');
    expect(msg).toContain('document 4 ConfigMap/?: metadata.name is missing or not a string');
    expect(msg).toContain('document 5 ConfigMap/?: metadata is missing');
  });

  it('requires valid names', () => {
    const msg = problems([dockerHost(), obj('ConfigMap', 'My_Config'), obj('Service', '1svc')]);
    expect(msg).toContain('ConfigMap/My_Config: metadata.name "My_Config" is not a valid name');
    expect(msg).toContain('Service/1svc: Service name "1svc" must start with a letter');
  });

  it('refuses a foreign namespace', () => {
    const msg = problems([
      dockerHost(),
      obj('ConfigMap', 'c', 'v1', { metadata: { namespace: 'kube-system' } }),
    ]);
    expect(msg).toContain(
      'ConfigMap/c: is in namespace "kube-system", but all objects must be in "previews"',
    );
  });

  it('refuses Namespace objects and cluster-scoped kinds', () => {
    const msg = problems([
      dockerHost(),
      obj('Namespace', 'mine'),
      obj('ClusterRole', 'admin', 'rbac.authorization.k8s.io/v1'),
    ]);
    expect(msg).toContain('Namespace/mine: creating namespaces is not allowed');
    expect(msg).toContain('ClusterRole/admin: ClusterRole is cluster-scoped and is not allowed');
  });

  it('refuses well-known cluster-scoped kinds even when discovery does not know them', () => {
    const msg = problems([dockerHost(), obj('StorageClass', 'fast', 'storage.k8s.io/v1')]);
    expect(msg).toContain('StorageClass/fast: StorageClass is cluster-scoped');
  });

  it('asks to check the kind or install its CRD when the cluster does not serve it', () => {
    const msg = problems([
      dockerHost(),
      obj('Certificate', 'tls', 'cert-manager.io/v1'),
      obj('Configmap', 'x'),
    ]);
    expect(msg).toContain('Certificate/tls: the cluster does not serve cert-manager.io/v1 Certificate');
    expect(msg).toContain('install the CRD');
    expect(msg).toContain('Configmap/x: the cluster does not serve v1 Configmap');
  });

  it('refuses duplicate kind and name', () => {
    const msg = problems([obj('ConfigMap', 'c'), dockerHost(), obj('ConfigMap', 'c'), obj('Secret', 'c')]);
    expect(msg).toContain('document 3 ConfigMap/c: is defined twice, also in document 1');
    expect(msg).not.toContain('Secret/c');
  });

  it('refuses label and annotation values that are not strings', () => {
    const msg = problems([
      dockerHost(),
      obj('ConfigMap', 'c', 'v1', { metadata: { labels: { version: 2 }, annotations: { enabled: true } } }),
    ]);
    expect(msg).toContain('metadata.labels["version"] is a number');
    expect(msg).toContain('metadata.annotations["enabled"] is a boolean');
  });

  it('requires a docker host and names the Deployments found', () => {
    const plain = { ...dockerHost('web'), metadata: { name: 'web' } };
    const msg = problems([plain, obj('ConfigMap', 'c')]);
    expect(msg).toContain('no docker host');
    expect(msg).toContain('Deployments found: Deployment/web');
    expect(problems([obj('ConfigMap', 'c')])).toContain('The template has no Deployment');
  });

  it('says so when the docker host is labelled but is not a Deployment', () => {
    const sts = { ...dockerHost('dind'), kind: 'StatefulSet' };
    expect(problems([sts])).toContain(
      'StatefulSet/dind has the label, but the docker host must be a Deployment',
    );
  });

  it('refuses two docker hosts and names both', () => {
    const msg = problems([dockerHost('one'), dockerHost('two')]);
    expect(msg).toContain('2 Deployments have the label');
    expect(msg).toContain('Deployment/one, Deployment/two');
  });

  it('requires the docker host to have a first container', () => {
    const msg = problems([dockerHost('dind', { spec: { template: { spec: { containers: [] } } } })]);
    expect(msg).toContain('Deployment/dind: the docker host needs spec.template.spec.containers[0]');
  });

  it('reports every problem at once, with the document position in the rendered output', () => {
    const parsed = parseManifests(
      [
        '---',
        'apiVersion: v1',
        'kind: ConfigMap',
        'metadata: {name: a, namespace: other}',
        '---',
        '# empty',
        '---',
        'apiVersion: v1',
        'kind: Namespace',
        'metadata: {name: n}',
      ].join('\n'),
      FILE,
    );
    const msg = problems(parsed);
    expect(msg).toContain('3 problems');
    expect(msg).toContain('document 1 (rendered line 2) ConfigMap/a: is in namespace "other"');
    expect(msg).toContain('document 3 (rendered line 8) Namespace/n: creating namespaces is not allowed');
    expect(msg).toContain('no docker host');
  });
});
