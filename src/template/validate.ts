import { TemplateError } from '../errors.js';
import { DOCKER_HOST_COMPONENT, LABELS } from '../identity.js';
import { DNS1035_LABEL, DNS1123_SUBDOMAIN, MAX_LABEL_LENGTH } from '../kube/names.js';
import type { KubeObject, TypeRef } from '../kube/types.js';
import { documentPosition } from './parse.js';

export type Scope = 'Namespaced' | 'Cluster';

export interface ValidateOptions {
  namespace: string;
  file: string;
  /** From API discovery; undefined when the cluster does not serve the kind. */
  scopeOf: (t: TypeRef) => Scope | undefined;
}

/**
 * Cluster-scoped kinds by API group, so they are refused even when discovery is unavailable or incomplete.
 * An environment is one namespace; anything cluster-wide would outlive it or affect other teams.
 */
const CLUSTER_SCOPED: Record<string, readonly string[]> = {
  '': ['Namespace', 'Node', 'PersistentVolume', 'ComponentStatus'],
  'storage.k8s.io': ['StorageClass', 'CSIDriver', 'CSINode', 'VolumeAttachment'],
  'rbac.authorization.k8s.io': ['ClusterRole', 'ClusterRoleBinding'],
  'apiextensions.k8s.io': ['CustomResourceDefinition'],
  'networking.k8s.io': ['IngressClass'],
  'scheduling.k8s.io': ['PriorityClass'],
  'admissionregistration.k8s.io': [
    'ValidatingWebhookConfiguration',
    'MutatingWebhookConfiguration',
    'ValidatingAdmissionPolicy',
    'ValidatingAdmissionPolicyBinding',
  ],
  'apiregistration.k8s.io': ['APIService'],
  'node.k8s.io': ['RuntimeClass'],
  'certificates.k8s.io': ['CertificateSigningRequest'],
  'flowcontrol.apiserver.k8s.io': ['FlowSchema', 'PriorityLevelConfiguration'],
};

export function apiGroup(apiVersion: string): string {
  const slash = apiVersion.indexOf('/');
  return slash < 0 ? '' : apiVersion.slice(0, slash);
}

export function isKnownClusterScoped(t: TypeRef): boolean {
  return CLUSTER_SCOPED[apiGroup(t.apiVersion)]?.includes(t.kind) ?? false;
}

/**
 * Checks the template contract before anything is written to the cluster, so a broken template never leaves
 * a half-made environment. Reports every problem at once. Returns copies with the namespace filled in.
 */
export function validateManifests(objs: KubeObject[], opts: ValidateOptions): KubeObject[] {
  const problems: string[] = [];
  const out: KubeObject[] = [];
  const seen = new Map<string, string>();

  objs.forEach((obj, i) => {
    const where = describeDocument(obj, i);
    const add = (what: string) => problems.push(`${where}: ${what}`);
    const o: unknown = obj;
    if (!isRecord(o)) {
      add('is not an object');
      return;
    }
    const { apiVersion, kind } = o;
    if (typeof apiVersion !== 'string' || apiVersion === '') add('apiVersion is missing or not a string');
    if (typeof kind !== 'string' || kind === '') add('kind is missing or not a string');
    const metadata = o.metadata;
    if (!isRecord(metadata)) {
      add('metadata is missing; every object needs metadata.name');
      return;
    }
    const name = metadata.name;
    if (typeof name !== 'string' || name === '') {
      add('metadata.name is missing or not a string');
    } else if (name.length > 253 || !DNS1123_SUBDOMAIN.test(name)) {
      add(
        `metadata.name "${name}" is not a valid name: use lowercase letters, digits, "-" and "." (at most 253)`,
      );
    } else if (kind === 'Service' && (name.length > MAX_LABEL_LENGTH || !DNS1035_LABEL.test(name))) {
      add(
        `Service name "${name}" must start with a letter, contain only lowercase letters, digits and "-", and be at most 63 characters`,
      );
    }
    for (const field of ['labels', 'annotations'] as const) {
      const m = metadata[field];
      if (m === undefined || m === null) continue;
      if (!isRecord(m)) {
        add(`metadata.${field} must be a mapping`);
        continue;
      }
      for (const [k, v] of Object.entries(m)) {
        if (typeof v !== 'string') {
          add(
            `metadata.${field}["${k}"] is a ${v === null ? 'null' : typeof v}; write it as a string, e.g. {{ x | quote }}`,
          );
        }
      }
    }
    if (typeof apiVersion !== 'string' || typeof kind !== 'string' || typeof name !== 'string') return;

    const type = { apiVersion, kind };
    const ns = metadata.namespace;
    const scope = opts.scopeOf(type) ?? (isKnownClusterScoped(type) ? 'Cluster' : undefined);
    if (kind === 'Namespace' && apiGroup(apiVersion) === '') {
      add(
        `creating namespaces is not allowed; all objects go to namespace "${opts.namespace}". Remove this object`,
      );
    } else if (scope === 'Cluster') {
      add(
        `${kind} is cluster-scoped and is not allowed: an environment lives in one namespace. Remove this object`,
      );
    } else if (scope === undefined) {
      add(
        `the cluster does not serve ${apiVersion} ${kind}. Check apiVersion and kind (they are case-sensitive), or install the CRD that defines it`,
      );
    }
    if (ns !== undefined && ns !== null && ns !== '' && ns !== opts.namespace) {
      add(
        `is in namespace ${JSON.stringify(ns)}, but all objects must be in "${opts.namespace}". Use namespace: {{ namespace | dump }} or leave it out`,
      );
    }

    const key = `${apiGroup(apiVersion)}/${kind}/${name}`;
    const first = seen.get(key);
    if (first) add(`is defined twice, also in ${first}; names must be unique per kind`);
    else seen.set(key, documentLabel(obj, i));

    const copy = structuredClone(obj);
    copy.metadata.namespace = opts.namespace;
    out.push(copy);
  });

  checkDockerHost(objs, problems);

  if (problems.length > 0) {
    throw new TemplateError(
      `the template does not meet the contract (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n${problems.map((p) => `  - ${p}`).join('\n')}`,
      opts.file,
      undefined,
      {
        hint: 'Documents are numbered in the rendered output, empty ones included. See the template contract in the README.',
      },
    );
  }
  return out;
}

function checkDockerHost(objs: KubeObject[], problems: string[]): void {
  const labelled = (o: KubeObject) =>
    isRecord(o.metadata) && o.metadata.labels?.[LABELS.component] === DOCKER_HOST_COMPONENT;
  const deployments = objs.filter((o) => o.apiVersion === 'apps/v1' && o.kind === 'Deployment');
  const hosts = deployments.filter(labelled);
  const names = (list: KubeObject[]) => list.map((o) => `${o.kind}/${String(o.metadata?.name)}`).join(', ');
  const label = `${LABELS.component}: ${DOCKER_HOST_COMPONENT}`;

  if (hosts.length === 0) {
    const others = objs.filter((o) => labelled(o) && !deployments.includes(o));
    problems.push(
      `no docker host: exactly one apps/v1 Deployment must have the label "${label}". ` +
        (others.length > 0
          ? `${names(others)} has the label, but the docker host must be a Deployment.`
          : deployments.length > 0
            ? `Deployments found: ${names(deployments)}; add the label to the one that runs dockerd.`
            : 'The template has no Deployment.'),
    );
    return;
  }
  if (hosts.length > 1) {
    problems.push(
      `${hosts.length} Deployments have the label "${label}" (${names(hosts)}); exactly one may have it`,
    );
    return;
  }
  const host = hosts[0]!;
  const i = objs.indexOf(host);
  const podSpec = dig(host, ['spec', 'template', 'spec']);
  const containers = isRecord(podSpec) ? podSpec.containers : undefined;
  const first = Array.isArray(containers) ? containers[0] : undefined;
  if (!isRecord(first) || typeof first.name !== 'string' || typeof first.image !== 'string') {
    problems.push(
      `${describeDocument(host, i)}: the docker host needs spec.template.spec.containers[0] with a name and an image; ` +
        'it runs dockerd on port 2375 and must have tar (files are copied into it)',
    );
  }
}

function documentLabel(o: KubeObject, i: number): string {
  const pos = documentPosition(o);
  return pos ? `document ${pos.index} (rendered line ${pos.line})` : `document ${i + 1}`;
}

function describeDocument(o: KubeObject, i: number): string {
  const doc = documentLabel(o, i);
  const kind = isRecord(o) && typeof o.kind === 'string' ? o.kind : undefined;
  const name =
    isRecord(o) && isRecord(o.metadata) && typeof o.metadata.name === 'string' ? o.metadata.name : undefined;
  return kind || name ? `${doc} ${kind ?? '?'}/${name ?? '?'}` : doc;
}

function dig(v: unknown, keys: string[]): unknown {
  let cur = v;
  for (const k of keys) {
    if (!isRecord(cur)) return undefined;
    cur = cur[k];
  }
  return cur;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
