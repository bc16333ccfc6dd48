/**
 * API-server defaulting (k8s.io/kubernetes/pkg/apis/{core,apps,batch,...}/v1/defaults.go, 1.32) plus what the
 * Go JSON encoder adds on the way out: non-pointer structs as `{}` and non-omitempty fields with their zero
 * value (both come from the OpenAPI `default` of a property), `creationTimestamp: null` in templates, and
 * quantities in canonical form. Finally keys are put in Go struct order (goorder.ts), maps sorted.
 */
import { orderKeysTyped } from './goorder.js';
import { isObject, type StructNode, type TypeNode } from './openapi.js';
import { canonicalizeQuantityValue } from './quantity.js';

type Obj = Record<string, unknown>;

const CORE = 'io.k8s.api.core.v1.';
const APPS = 'io.k8s.api.apps.v1.';
const META = 'io.k8s.apimachinery.pkg.apis.meta.v1.';
const RBAC = 'io.k8s.api.rbac.v1.';
const BATCH = 'io.k8s.api.batch.v1.';
const NET = 'io.k8s.api.networking.v1.';
const HPA = 'io.k8s.api.autoscaling.v2.';
const AUTHN = 'io.k8s.api.authentication.v1.';

/**
 * Fields that Go always writes although they have no OpenAPI default: non-pointer metav1.Time fields
 * (null when zero) and non-omitempty pointers/slices (null when nil).
 */
const ALWAYS_NULL: Record<string, string[]> = {
  [`${META}ObjectMeta`]: ['creationTimestamp'],
  [`${CORE}PodCondition`]: ['lastProbeTime', 'lastTransitionTime'],
  [`${CORE}PersistentVolumeClaimCondition`]: ['lastProbeTime', 'lastTransitionTime'],
  [`${CORE}NamespaceCondition`]: ['lastTransitionTime'],
  [`${CORE}ContainerStateRunning`]: ['startedAt'],
  [`${CORE}ContainerStateTerminated`]: ['startedAt', 'finishedAt'],
  [`${CORE}Event`]: ['firstTimestamp', 'lastTimestamp', 'eventTime'],
  [`${APPS}DeploymentCondition`]: ['lastUpdateTime', 'lastTransitionTime'],
  [`${APPS}ReplicaSetCondition`]: ['lastTransitionTime'],
  [`${APPS}StatefulSetCondition`]: ['lastTransitionTime'],
  [`${APPS}DaemonSetCondition`]: ['lastTransitionTime'],
  [`${BATCH}JobCondition`]: ['lastProbeTime', 'lastTransitionTime'],
  [`${META}Condition`]: ['lastTransitionTime'],
  [`${CORE}PodSpec`]: ['containers'],
  [`${RBAC}Role`]: ['rules'],
  [`${RBAC}ClusterRole`]: ['rules'],
  [`${AUTHN}TokenRequestSpec`]: ['audiences', 'boundObjectRef'],
  [`${AUTHN}TokenRequestStatus`]: ['expirationTimestamp'],
};

/** Fields whose explicit null survives (Go writes null for them). */
function keepsNull(t: StructNode, field: string): boolean {
  return ALWAYS_NULL[t.name]?.includes(field) ?? false;
}

/** Go zero-value materialization of one struct: `default` of absent fields, nulls dropped. */
function materialize(v: Obj, t: StructNode, isRootMeta = false): void {
  for (const [name, f] of t.fields) {
    const cur = v[name];
    if (cur === undefined || cur === null) {
      if (f.hasDefault) v[name] = structuredClone(f.default);
      else if (cur === null && !keepsNull(t, name)) delete v[name];
    }
  }
  // The store stamps the object's own creationTimestamp; only embedded ObjectMeta (templates) show null.
  if (isRootMeta) return;
  for (const name of ALWAYS_NULL[t.name] ?? []) if (v[name] === undefined) v[name] = null;
}

/** The Go zero value of a kind as the field manager sees a new object: `p.New()` through JSON. */
export function zeroObject(t: StructNode, apiVersion: string, kind: string): Obj {
  const out: Obj = { apiVersion, kind };
  const fill = (o: Obj, st: StructNode, depth: number) => {
    materialize(o, st);
    if (depth > 8) return;
    for (const [name, f] of st.fields) {
      const ft = f.type;
      if (isObject(o[name]) && ft.k === 'struct') fill(o[name] as Obj, ft, depth + 1);
    }
  };
  fill(out, t, 0);
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// SetDefaults_* functions, keyed by definition name. Each receives the object of that type.

type Defaulter = (o: Obj, ctx: DefaultCtx) => void;
interface DefaultCtx {
  /** The top-level object being defaulted. */
  root: Obj;
}

function obj(o: Obj, key: string): Obj {
  let v = o[key];
  if (!isObject(v)) {
    v = {};
    o[key] = v;
  }
  return v as Obj;
}

/** Go's `if x == nil { x = value }` for each field of `values`, in that order. */
function fill(o: Obj, values: Obj): void {
  for (const [k, v] of Object.entries(values)) if (o[k] === undefined || o[k] === null) o[k] = v;
}

function isEmptyStr(v: unknown): boolean {
  return v === undefined || v === null || v === '';
}

/** Tag of an image reference as the kubelet's parsers.ParseImageName sees it ('' when unparsable). */
export function imageTag(image: string): string {
  const ref =
    /^(?:(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?))*(?::[0-9]+)?\/)?[a-z0-9]+(?:(?:[._]|__|[-]*)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|[-]*)[a-z0-9]+)*)*(?::([\w][\w.-]{0,127}))?(?:@([A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}))?$/;
  const m = ref.exec(image);
  if (!m) return '';
  // A reference whose first component is not a domain is normalized under docker.io; it must be lowercase.
  const tag = m[1];
  const digest = m[2];
  if (tag) return tag;
  if (digest) return '';
  return 'latest';
}

function defaultPodSpec(o: Obj): void {
  if (isEmptyStr(o.dnsPolicy)) o.dnsPolicy = 'ClusterFirst';
  if (isEmptyStr(o.restartPolicy)) o.restartPolicy = 'Always';
  if (!isObject(o.securityContext)) o.securityContext = {};
  fill(o, { terminationGracePeriodSeconds: 30 });
  if (isEmptyStr(o.schedulerName)) o.schedulerName = 'default-scheduler';
}

function defaultContainer(o: Obj): void {
  if (isEmptyStr(o.imagePullPolicy)) {
    const tag = imageTag(typeof o.image === 'string' ? o.image : '');
    o.imagePullPolicy = tag === 'latest' ? 'Always' : 'IfNotPresent';
  }
  if (isEmptyStr(o.terminationMessagePath)) o.terminationMessagePath = '/dev/termination-log';
  if (isEmptyStr(o.terminationMessagePolicy)) o.terminationMessagePolicy = 'File';
}

function defaultProbe(o: Obj): void {
  if (!o.timeoutSeconds) o.timeoutSeconds = 1;
  if (!o.periodSeconds) o.periodSeconds = 10;
  if (!o.successThreshold) o.successThreshold = 1;
  if (!o.failureThreshold) o.failureThreshold = 3;
}

/** The volume source fields of a Volume, in Go order (defaulting and validation both need the list). */
export const VOLUME_SOURCES = [
  'hostPath',
  'emptyDir',
  'gcePersistentDisk',
  'awsElasticBlockStore',
  'gitRepo',
  'secret',
  'nfs',
  'iscsi',
  'glusterfs',
  'persistentVolumeClaim',
  'rbd',
  'flexVolume',
  'cinder',
  'cephfs',
  'flocker',
  'downwardAPI',
  'fc',
  'azureFile',
  'configMap',
  'vsphereVolume',
  'quobyte',
  'azureDisk',
  'photonPersistentDisk',
  'projected',
  'portworxVolume',
  'scaleIO',
  'storageos',
  'csi',
  'ephemeral',
  'image',
];

function defaultService(o: Obj): void {
  const spec = obj(o, 'spec');
  if (isEmptyStr(spec.sessionAffinity)) spec.sessionAffinity = 'None';
  if (spec.sessionAffinity === 'None') delete spec.sessionAffinityConfig;
  if (isEmptyStr(spec.type)) spec.type = 'ClusterIP';
  if (Array.isArray(spec.ports)) {
    for (const p of spec.ports) {
      if (!isObject(p)) continue;
      if (isEmptyStr(p.protocol)) p.protocol = 'TCP';
      if (p.targetPort === undefined || p.targetPort === null || p.targetPort === 0 || p.targetPort === '')
        p.targetPort = p.port;
    }
  }
  const type = spec.type;
  const externallyAccessible =
    type === 'LoadBalancer' ||
    type === 'NodePort' ||
    (type === 'ClusterIP' && Array.isArray(spec.externalIPs) && spec.externalIPs.length > 0);
  if (externallyAccessible && isEmptyStr(spec.externalTrafficPolicy)) spec.externalTrafficPolicy = 'Cluster';
  if (
    (spec.internalTrafficPolicy === undefined || spec.internalTrafficPolicy === null) &&
    (type === 'NodePort' || type === 'LoadBalancer' || type === 'ClusterIP')
  )
    spec.internalTrafficPolicy = 'Cluster';
  if (type === 'LoadBalancer' && (spec.allocateLoadBalancerNodePorts ?? null) === null)
    spec.allocateLoadBalancerNodePorts = true;
  // Set by the service REST storage on create (single-stack IPv4 cluster), not by a defaulter.
  if (type !== 'ExternalName') {
    const headlessWithoutSelector =
      spec.clusterIP === 'None' && (!isObject(spec.selector) || Object.keys(spec.selector).length === 0);
    if (isEmptyStr(spec.ipFamilyPolicy))
      spec.ipFamilyPolicy = headlessWithoutSelector ? 'RequireDualStack' : 'SingleStack';
    if (!Array.isArray(spec.ipFamilies) || spec.ipFamilies.length === 0) spec.ipFamilies = ['IPv4'];
  }
}

function defaultRoleRef(o: Obj): void {
  const ref = obj(o, 'roleRef');
  if (isEmptyStr(ref.apiGroup)) ref.apiGroup = 'rbac.authorization.k8s.io';
}

/** The volume sources' file mode: 0644. */
const defaultMode0644: Defaulter = (o) => fill(o, { defaultMode: 420 });

const DEFAULTERS: Record<string, Defaulter> = {
  [`${APPS}Deployment`]: (o) => {
    const spec = obj(o, 'spec');
    fill(spec, { replicas: 1 });
    const strategy = obj(spec, 'strategy');
    if (isEmptyStr(strategy.type)) strategy.type = 'RollingUpdate';
    if (strategy.type === 'RollingUpdate')
      fill(obj(strategy, 'rollingUpdate'), { maxUnavailable: '25%', maxSurge: '25%' });
    fill(spec, { revisionHistoryLimit: 10, progressDeadlineSeconds: 600 });
  },
  [`${APPS}ReplicaSet`]: (o) => fill(obj(o, 'spec'), { replicas: 1 }),
  [`${APPS}StatefulSet`]: (o) => {
    const spec = obj(o, 'spec');
    if (isEmptyStr(spec.podManagementPolicy)) spec.podManagementPolicy = 'OrderedReady';
    const us = obj(spec, 'updateStrategy');
    if (isEmptyStr(us.type)) {
      us.type = 'RollingUpdate';
      if (!isObject(us.rollingUpdate)) us.rollingUpdate = {};
    }
    if (us.type === 'RollingUpdate' && isObject(us.rollingUpdate)) fill(us.rollingUpdate, { partition: 0 });
    fill(spec, { replicas: 1, revisionHistoryLimit: 10 });
    const ret = obj(spec, 'persistentVolumeClaimRetentionPolicy');
    if (isEmptyStr(ret.whenDeleted)) ret.whenDeleted = 'Retain';
    if (isEmptyStr(ret.whenScaled)) ret.whenScaled = 'Retain';
  },
  [`${APPS}DaemonSet`]: (o) => {
    const spec = obj(o, 'spec');
    const us = obj(spec, 'updateStrategy');
    if (isEmptyStr(us.type)) us.type = 'RollingUpdate';
    if (us.type === 'RollingUpdate') fill(obj(us, 'rollingUpdate'), { maxUnavailable: 1, maxSurge: 0 });
    fill(spec, { revisionHistoryLimit: 10 });
  },
  [`${CORE}Pod`]: (o) => {
    const spec = obj(o, 'spec');
    for (const key of ['containers', 'initContainers']) {
      const list = spec[key];
      if (!Array.isArray(list)) continue;
      for (const c of list) {
        if (!isObject(c) || !isObject(c.resources) || !isObject(c.resources.limits)) continue;
        const res = c.resources as Obj;
        const requests = isObject(res.requests) ? res.requests : {};
        for (const [k, v] of Object.entries(res.limits as Obj)) if (!(k in requests)) requests[k] = v;
        res.requests = requests;
      }
      if (spec.hostNetwork === true) {
        for (const c of list) {
          if (!isObject(c) || !Array.isArray(c.ports)) continue;
          for (const p of c.ports) if (isObject(p) && !p.hostPort) p.hostPort = p.containerPort;
        }
      }
    }
    fill(spec, { enableServiceLinks: true });
  },
  [`${CORE}PodSpec`]: defaultPodSpec,
  [`${CORE}Container`]: defaultContainer,
  [`${CORE}EphemeralContainer`]: defaultContainer,
  [`${CORE}Probe`]: defaultProbe,
  [`${CORE}HTTPGetAction`]: (o) => {
    if (isEmptyStr(o.path)) o.path = '/';
    if (isEmptyStr(o.scheme)) o.scheme = 'HTTP';
  },
  [`${CORE}Volume`]: (o) => {
    if (!VOLUME_SOURCES.some((s) => o[s] !== undefined && o[s] !== null)) o.emptyDir = {};
  },
  [`${CORE}SecretVolumeSource`]: defaultMode0644,
  [`${CORE}ConfigMapVolumeSource`]: defaultMode0644,
  [`${CORE}DownwardAPIVolumeSource`]: defaultMode0644,
  [`${CORE}ProjectedVolumeSource`]: defaultMode0644,
  [`${CORE}ServiceAccountTokenProjection`]: (o) => fill(o, { expirationSeconds: 3600 }),
  [`${CORE}HostPathVolumeSource`]: (o) => fill(o, { type: '' }),
  [`${CORE}ObjectFieldSelector`]: (o) => {
    if (isEmptyStr(o.apiVersion)) o.apiVersion = 'v1';
  },
  [`${CORE}Service`]: defaultService,
  [`${CORE}Secret`]: (o) => {
    if (isEmptyStr(o.type)) o.type = 'Opaque';
  },
  [`${CORE}Namespace`]: (o) => {
    const meta = obj(o, 'metadata');
    if (typeof meta.name === 'string' && meta.name) {
      const labels = obj(meta, 'labels');
      labels['kubernetes.io/metadata.name'] = meta.name;
    }
    const status = obj(o, 'status');
    if (isEmptyStr(status.phase)) status.phase = 'Active';
  },
  [`${CORE}PersistentVolumeClaim`]: (o) => {
    const status = obj(o, 'status');
    if (isEmptyStr(status.phase)) status.phase = 'Pending';
  },
  [`${CORE}PersistentVolumeClaimSpec`]: (o) => {
    if (isEmptyStr(o.volumeMode)) o.volumeMode = 'Filesystem';
  },
  [`${RBAC}RoleBinding`]: defaultRoleRef,
  [`${RBAC}ClusterRoleBinding`]: defaultRoleRef,
  [`${RBAC}Subject`]: (o) => {
    if (isEmptyStr(o.apiGroup)) {
      // "" for a ServiceAccount, which Go's omitempty leaves out of every answer (kube-real-2/044).
      if (o.kind === 'ServiceAccount') delete o.apiGroup;
      else if (o.kind === 'User' || o.kind === 'Group') o.apiGroup = 'rbac.authorization.k8s.io';
    }
  },
  [`${NET}NetworkPolicy`]: (o) => {
    const spec = obj(o, 'spec');
    if (!Array.isArray(spec.policyTypes) || spec.policyTypes.length === 0) {
      const types = ['Ingress'];
      if (Array.isArray(spec.egress) && spec.egress.length > 0) types.push('Egress');
      spec.policyTypes = types;
    }
  },
  [`${NET}NetworkPolicyPort`]: (o) => {
    if (isEmptyStr(o.protocol)) o.protocol = 'TCP';
  },
  [`${BATCH}Job`]: (o) => {
    const spec = obj(o, 'spec');
    const unset = (k: string) => spec[k] === undefined || spec[k] === null;
    if (unset('completions') && unset('parallelism')) {
      spec.completions = 1;
      spec.parallelism = 1;
    }
    if (unset('parallelism')) spec.parallelism = 1;
    if (unset('backoffLimit')) spec.backoffLimit = unset('backoffLimitPerIndex') ? 6 : 2147483647;
    const meta = obj(o, 'metadata');
    const tmplLabels =
      isObject(spec.template) && isObject((spec.template as Obj).metadata)
        ? ((spec.template as Obj).metadata as Obj).labels
        : undefined;
    if (isObject(tmplLabels) && (!isObject(meta.labels) || Object.keys(meta.labels).length === 0))
      meta.labels = structuredClone(tmplLabels);
    if (unset('completionMode')) spec.completionMode = 'NonIndexed';
    if (unset('suspend')) spec.suspend = false;
    if (unset('podReplacementPolicy'))
      spec.podReplacementPolicy = unset('podFailurePolicy') ? 'TerminatingOrFailed' : 'Failed';
  },
  [`${BATCH}CronJob`]: (o) => {
    const spec = obj(o, 'spec');
    if (isEmptyStr(spec.concurrencyPolicy)) spec.concurrencyPolicy = 'Allow';
    fill(spec, { suspend: false, successfulJobsHistoryLimit: 3, failedJobsHistoryLimit: 1 });
  },
  [`${HPA}HorizontalPodAutoscaler`]: (o) => {
    const spec = obj(o, 'spec');
    fill(spec, { minReplicas: 1 });
    if (!Array.isArray(spec.metrics) || spec.metrics.length === 0) {
      spec.metrics = [
        {
          type: 'Resource',
          resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 80 } },
        },
      ];
    }
  },
};

function defaultNode(v: unknown, t: TypeNode, ctx: DefaultCtx): unknown {
  if (t.k === 'struct' && isObject(v)) {
    materialize(v, t, v === ctx.root.metadata);
    DEFAULTERS[t.name]?.(v, ctx);
  }
  return rewrite(v, t, (child, ct) => defaultNode(child, ct, ctx));
}

/**
 * Puts what `fn` makes of each child (with its type) in place of the child, in structs, maps and lists; a
 * quantity comes back in canonical form. Absent and null children are left as they are.
 */
function rewrite(v: unknown, t: TypeNode, fn: (child: unknown, type: TypeNode) => unknown): unknown {
  switch (t.k) {
    case 'struct':
    case 'map':
      if (!isObject(v)) return v;
      for (const key of Object.keys(v)) {
        const ct = t.k === 'struct' ? t.fields.get(key)?.type : t.elem;
        const child = v[key];
        if (!ct || child === null || child === undefined) continue;
        const nv = fn(child, ct);
        if (nv !== child) v[key] = nv;
      }
      return v;
    case 'list':
      if (!Array.isArray(v)) return v;
      for (let i = 0; i < v.length; i++) {
        const child = v[i];
        if (child === null || child === undefined) continue;
        const nv = fn(child, t.elem);
        if (nv !== child) v[i] = nv;
      }
      return v;
    case 'scalar':
      if (t.scalar === 'quantity' && (typeof v === 'string' || typeof v === 'number')) {
        try {
          return canonicalizeQuantityValue(v);
        } catch {
          return v;
        }
      }
      return v;
    default:
      return v;
  }
}

/** Defaults `o` (of root type `t`) in place. */
export function applyDefaultsTyped(o: Obj, t: StructNode): Obj {
  defaultNode(o, t, { root: o });
  orderKeysTyped(o, t);
  return o;
}

/** Canonicalizes quantities in place (used on applied configurations). */
export function canonicalizeQuantities(v: unknown, t: TypeNode): unknown {
  return rewrite(v, t, canonicalizeQuantities);
}
