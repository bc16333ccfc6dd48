/**
 * Field order of the Go structs behind the built-in kinds (k8s.io/api v0.32). The API server writes JSON
 * from these structs, so its output follows this order, while the OpenAPI schema lists properties
 * alphabetically. Embedded structs (ProbeHandler, VolumeSource, TypeMeta...) are inlined here.
 * Types missing from this table keep the order of the object as given.
 */
import { isObject, type TypeNode } from './openapi.js';

const TOP = 'kind apiVersion metadata';
const CONTAINER =
  'name image command args workingDir ports envFrom env resources resizePolicy restartPolicy volumeMounts ' +
  'volumeDevices livenessProbe readinessProbe startupProbe lifecycle terminationMessagePath ' +
  'terminationMessagePolicy imagePullPolicy securityContext stdin stdinOnce tty';
const VOLUME_SOURCE =
  'hostPath emptyDir gcePersistentDisk awsElasticBlockStore gitRepo secret nfs iscsi glusterfs ' +
  'persistentVolumeClaim rbd flexVolume cinder cephfs flocker downwardAPI fc azureFile configMap ' +
  'vsphereVolume quobyte azureDisk photonPersistentDisk projected portworxVolume scaleIO storageos csi ' +
  'ephemeral image';
const PROBE_HANDLER = 'exec httpGet tcpSocket grpc';
const CONDITION5 = 'type status lastTransitionTime reason message';

/**
 * One struct a line, `Name: fields in Go order`, each under the `[package]` line above it. A text table rather
 * than an object literal: a struct's line reads like its Go declaration, and no key repeats its package.
 */
const TABLE = `
[io.k8s.apimachinery.pkg.apis.meta.v1]
ObjectMeta: name generateName namespace selfLink uid resourceVersion generation creationTimestamp deletionTimestamp deletionGracePeriodSeconds labels annotations ownerReferences finalizers managedFields
ManagedFieldsEntry: manager operation apiVersion time fieldsType fieldsV1 subresource
OwnerReference: apiVersion kind name uid controller blockOwnerDeletion
LabelSelector: matchLabels matchExpressions
LabelSelectorRequirement: key operator values
Condition: type status observedGeneration lastTransitionTime reason message
ListMeta: selfLink resourceVersion continue remainingItemCount

[io.k8s.api.apps.v1]
Deployment: ${TOP} spec status
DeploymentSpec: replicas selector template strategy minReadySeconds revisionHistoryLimit paused progressDeadlineSeconds
DeploymentStrategy: type rollingUpdate
RollingUpdateDeployment: maxUnavailable maxSurge
DeploymentStatus: observedGeneration replicas updatedReplicas readyReplicas availableReplicas unavailableReplicas terminatingReplicas conditions collisionCount
DeploymentCondition: type status lastUpdateTime lastTransitionTime reason message
ReplicaSet: ${TOP} spec status
ReplicaSetSpec: replicas minReadySeconds selector template
ReplicaSetStatus: replicas fullyLabeledReplicas readyReplicas availableReplicas terminatingReplicas observedGeneration conditions
ReplicaSetCondition: ${CONDITION5}
StatefulSet: ${TOP} spec status
StatefulSetSpec: replicas selector template volumeClaimTemplates serviceName podManagementPolicy updateStrategy revisionHistoryLimit minReadySeconds persistentVolumeClaimRetentionPolicy ordinals
StatefulSetUpdateStrategy: type rollingUpdate
RollingUpdateStatefulSetStrategy: partition maxUnavailable
StatefulSetPersistentVolumeClaimRetentionPolicy: whenDeleted whenScaled
StatefulSetOrdinals: start
StatefulSetStatus: observedGeneration replicas readyReplicas currentReplicas updatedReplicas currentRevision updateRevision collisionCount conditions availableReplicas
StatefulSetCondition: ${CONDITION5}
DaemonSet: ${TOP} spec status
DaemonSetSpec: selector template updateStrategy minReadySeconds revisionHistoryLimit
DaemonSetUpdateStrategy: type rollingUpdate
RollingUpdateDaemonSet: maxUnavailable maxSurge
DaemonSetStatus: currentNumberScheduled numberMisscheduled desiredNumberScheduled numberReady observedGeneration updatedNumberScheduled numberAvailable numberUnavailable collisionCount conditions
DaemonSetCondition: ${CONDITION5}
ControllerRevision: ${TOP} data revision

[io.k8s.api.core.v1]
Pod: ${TOP} spec status
PodTemplate: ${TOP} template
PodTemplateSpec: metadata spec
PodSpec: volumes initContainers containers ephemeralContainers restartPolicy terminationGracePeriodSeconds activeDeadlineSeconds dnsPolicy nodeSelector serviceAccountName serviceAccount automountServiceAccountToken nodeName hostNetwork hostPID hostIPC shareProcessNamespace securityContext imagePullSecrets hostname subdomain affinity schedulerName tolerations hostAliases priorityClassName priority dnsConfig readinessGates runtimeClassName enableServiceLinks preemptionPolicy overhead topologySpreadConstraints setHostnameAsFQDN os hostUsers schedulingGates resourceClaims resources
Container: ${CONTAINER}
EphemeralContainer: ${CONTAINER} targetContainerName
ContainerPort: name hostPort containerPort protocol hostIP
EnvVar: name value valueFrom
EnvVarSource: fieldRef resourceFieldRef configMapKeyRef secretKeyRef
ObjectFieldSelector: apiVersion fieldPath
ResourceFieldSelector: containerName resource divisor
ConfigMapKeySelector: name key optional
SecretKeySelector: name key optional
EnvFromSource: prefix configMapRef secretRef
ConfigMapEnvSource: name optional
SecretEnvSource: name optional
ResourceRequirements: limits requests claims
ResourceClaim: name request
ContainerResizePolicy: resourceName restartPolicy
VolumeMount: name readOnly recursiveReadOnly mountPath subPath mountPropagation subPathExpr
VolumeDevice: name devicePath
Probe: ${PROBE_HANDLER} initialDelaySeconds timeoutSeconds periodSeconds successThreshold failureThreshold terminationGracePeriodSeconds
ExecAction: command
HTTPGetAction: path port host scheme httpHeaders
HTTPHeader: name value
TCPSocketAction: port host
GRPCAction: port service
Lifecycle: postStart preStop stopSignal
LifecycleHandler: exec httpGet tcpSocket sleep
SleepAction: seconds
SecurityContext: capabilities privileged seLinuxOptions windowsOptions runAsUser runAsGroup runAsNonRoot readOnlyRootFilesystem allowPrivilegeEscalation procMount seccompProfile appArmorProfile
Capabilities: add drop
PodSecurityContext: seLinuxOptions windowsOptions runAsUser runAsGroup runAsNonRoot supplementalGroups supplementalGroupsPolicy fsGroup sysctls fsGroupChangePolicy seccompProfile appArmorProfile seLinuxChangePolicy
SELinuxOptions: user role type level
SeccompProfile: type localhostProfile
AppArmorProfile: type localhostProfile
Sysctl: name value
Volume: name ${VOLUME_SOURCE}
HostPathVolumeSource: path type
EmptyDirVolumeSource: medium sizeLimit
SecretVolumeSource: secretName items defaultMode optional
ConfigMapVolumeSource: name items defaultMode optional
KeyToPath: key path mode
PersistentVolumeClaimVolumeSource: claimName readOnly
ProjectedVolumeSource: sources defaultMode
VolumeProjection: secret downwardAPI configMap serviceAccountToken clusterTrustBundle
SecretProjection: name items optional
ConfigMapProjection: name items optional
DownwardAPIProjection: items
ServiceAccountTokenProjection: audience expirationSeconds path
DownwardAPIVolumeSource: items defaultMode
DownwardAPIVolumeFile: path fieldRef resourceFieldRef mode
NFSVolumeSource: server path readOnly
CSIVolumeSource: driver readOnly fsType volumeAttributes nodePublishSecretRef
EphemeralVolumeSource: volumeClaimTemplate
PersistentVolumeClaimTemplate: metadata spec
ImageVolumeSource: reference pullPolicy
Toleration: key operator value effect tolerationSeconds
Affinity: nodeAffinity podAffinity podAntiAffinity
NodeAffinity: requiredDuringSchedulingIgnoredDuringExecution preferredDuringSchedulingIgnoredDuringExecution
NodeSelector: nodeSelectorTerms
NodeSelectorTerm: matchExpressions matchFields
NodeSelectorRequirement: key operator values
PreferredSchedulingTerm: weight preference
PodAffinity: requiredDuringSchedulingIgnoredDuringExecution preferredDuringSchedulingIgnoredDuringExecution
PodAntiAffinity: requiredDuringSchedulingIgnoredDuringExecution preferredDuringSchedulingIgnoredDuringExecution
PodAffinityTerm: labelSelector namespaces topologyKey namespaceSelector matchLabelKeys mismatchLabelKeys
WeightedPodAffinityTerm: weight podAffinityTerm
TopologySpreadConstraint: maxSkew topologyKey whenUnsatisfiable labelSelector minDomains nodeAffinityPolicy nodeTaintsPolicy matchLabelKeys
LocalObjectReference: name
HostAlias: ip hostnames
PodDNSConfig: nameservers searches options
PodDNSConfigOption: name value
PodReadinessGate: conditionType
PodSchedulingGate: name
PodResourceClaim: name resourceClaimName resourceClaimTemplateName
PodOS: name
PodStatus: phase conditions message reason nominatedNodeName hostIP hostIPs podIP podIPs startTime initContainerStatuses containerStatuses qosClass ephemeralContainerStatuses resize resourceClaimStatuses
PodCondition: type status lastProbeTime lastTransitionTime reason message
ContainerStatus: name state lastState ready restartCount image imageID containerID started allocatedResources resources volumeMounts user allocatedResourcesStatus
ContainerState: waiting running terminated
ContainerStateWaiting: reason message
ContainerStateRunning: startedAt
ContainerStateTerminated: exitCode signal reason message startedAt finishedAt containerID
VolumeMountStatus: name mountPath readOnly recursiveReadOnly
HostIP: ip
PodIP: ip
Service: ${TOP} spec status
ServiceSpec: ports selector clusterIP clusterIPs type externalIPs sessionAffinity loadBalancerIP loadBalancerSourceRanges externalName externalTrafficPolicy healthCheckNodePort publishNotReadyAddresses sessionAffinityConfig ipFamilies ipFamilyPolicy allocateLoadBalancerNodePorts loadBalancerClass internalTrafficPolicy trafficDistribution
ServicePort: name protocol appProtocol port targetPort nodePort
ServiceStatus: loadBalancer conditions
LoadBalancerStatus: ingress
LoadBalancerIngress: ip hostname ipMode ports
PortStatus: port protocol error
SessionAffinityConfig: clientIP
ClientIPConfig: timeoutSeconds
Endpoints: ${TOP} subsets
EndpointSubset: addresses notReadyAddresses ports
EndpointAddress: ip hostname nodeName targetRef
EndpointPort: name port protocol appProtocol
ConfigMap: ${TOP} immutable data binaryData
Secret: ${TOP} immutable data stringData type
ServiceAccount: ${TOP} secrets imagePullSecrets automountServiceAccountToken
ObjectReference: kind namespace name uid apiVersion resourceVersion fieldPath
PersistentVolumeClaim: ${TOP} spec status
PersistentVolumeClaimSpec: accessModes selector resources volumeName storageClassName volumeMode dataSource dataSourceRef volumeAttributesClassName
VolumeResourceRequirements: limits requests
TypedLocalObjectReference: apiGroup kind name
TypedObjectReference: apiGroup kind name namespace
PersistentVolumeClaimStatus: phase accessModes capacity conditions allocatedResources allocatedResourceStatuses currentVolumeAttributesClassName modifyVolumeStatus
PersistentVolumeClaimCondition: type status lastProbeTime lastTransitionTime reason message
Namespace: ${TOP} spec status
NamespaceSpec: finalizers
NamespaceStatus: phase conditions
NamespaceCondition: ${CONDITION5}
Event: ${TOP} involvedObject reason message source firstTimestamp lastTimestamp count type eventTime series action related reportingComponent reportingInstance
EventSource: component host
EventSeries: count lastObservedTime
ResourceQuota: ${TOP} spec status
ResourceQuotaSpec: hard scopes scopeSelector
ResourceQuotaStatus: hard used
LimitRange: ${TOP} spec
LimitRangeSpec: limits
LimitRangeItem: type max min default defaultRequest maxLimitRequestRatio

[io.k8s.api.networking.v1]
Ingress: ${TOP} spec status
IngressSpec: ingressClassName defaultBackend tls rules
IngressBackend: service resource
IngressServiceBackend: name port
ServiceBackendPort: name number
IngressTLS: hosts secretName
IngressRule: host http
HTTPIngressRuleValue: paths
HTTPIngressPath: path pathType backend
IngressStatus: loadBalancer
IngressLoadBalancerStatus: ingress
IngressLoadBalancerIngress: ip hostname ports
IngressPortStatus: port protocol error
IngressClass: ${TOP} spec
IngressClassSpec: controller parameters
NetworkPolicy: ${TOP} spec
NetworkPolicySpec: podSelector ingress egress policyTypes
NetworkPolicyIngressRule: ports from
NetworkPolicyEgressRule: ports to
NetworkPolicyPort: protocol port endPort
NetworkPolicyPeer: podSelector namespaceSelector ipBlock
IPBlock: cidr except

[io.k8s.api.rbac.v1]
Role: ${TOP} rules
ClusterRole: ${TOP} rules aggregationRule
AggregationRule: clusterRoleSelectors
PolicyRule: verbs apiGroups resources resourceNames nonResourceURLs
RoleBinding: ${TOP} subjects roleRef
ClusterRoleBinding: ${TOP} subjects roleRef
Subject: kind apiGroup name namespace
RoleRef: apiGroup kind name

[io.k8s.api.batch.v1]
Job: ${TOP} spec status
JobSpec: parallelism completions activeDeadlineSeconds podFailurePolicy successPolicy backoffLimit backoffLimitPerIndex maxFailedIndexes selector manualSelector template ttlSecondsAfterFinished completionMode suspend podReplacementPolicy managedBy
JobStatus: conditions startTime completionTime active succeeded failed terminating completedIndexes failedIndexes uncountedTerminatedPods ready
JobCondition: type status lastProbeTime lastTransitionTime reason message
UncountedTerminatedPods: succeeded failed
CronJob: ${TOP} spec status
CronJobSpec: schedule timeZone startingDeadlineSeconds concurrencyPolicy suspend jobTemplate successfulJobsHistoryLimit failedJobsHistoryLimit
JobTemplateSpec: metadata spec
CronJobStatus: active lastScheduleTime lastSuccessfulTime

[io.k8s.api.policy.v1]
PodDisruptionBudget: ${TOP} spec status
PodDisruptionBudgetSpec: minAvailable selector maxUnavailable unhealthyPodEvictionPolicy
PodDisruptionBudgetStatus: observedGeneration disruptedPods disruptionsAllowed currentHealthy desiredHealthy expectedPods conditions

[io.k8s.api.autoscaling.v2]
HorizontalPodAutoscaler: ${TOP} spec status
HorizontalPodAutoscalerSpec: scaleTargetRef minReplicas maxReplicas metrics behavior
CrossVersionObjectReference: kind name apiVersion
MetricSpec: type object pods resource containerResource external
ResourceMetricSource: name target
MetricTarget: type value averageValue averageUtilization
HorizontalPodAutoscalerStatus: observedGeneration lastScaleTime currentReplicas desiredReplicas currentMetrics conditions

[io.k8s.api.authentication.v1]
TokenRequest: ${TOP} spec status
TokenRequestSpec: audiences expirationSeconds boundObjectRef
TokenRequestStatus: token expirationTimestamp
BoundObjectReference: kind apiVersion name uid
`;

function parseTable(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let pkg = '';
  for (const line of text.split('\n')) {
    const header = /^\[(.+)\]$/.exec(line);
    if (header) pkg = header[1] as string;
    else if (line) {
      const [name, fields] = line.split(': ') as [string, string];
      out.set(`${pkg}.${name}`, fields.split(' '));
    }
  }
  return out;
}

const ORDERS = parseTable(TABLE);

/** The Go field order of a definition, or undefined when not known. */
export function goFieldOrder(def: string): string[] | undefined {
  return ORDERS.get(def);
}

function reorder(o: Record<string, unknown>, order: string[] | 'sorted'): void {
  const keys = Object.keys(o);
  let want: string[];
  if (order === 'sorted') want = [...keys].sort(byteCompare);
  else {
    const present = new Set(keys);
    want = order.filter((k) => present.has(k));
    const known = new Set(want);
    for (const k of keys) if (!known.has(k)) want.push(k);
  }
  if (want.every((k, i) => keys[i] === k)) return;
  const entries = want.map((k) => [k, o[k]] as const);
  for (const k of keys) delete o[k];
  for (const [k, v] of entries) o[k] = v;
}

export function byteCompare(a: string, b: string): number {
  if (a === b) return 0;
  // Go compares strings bytewise (UTF-8); for the BMP this matches comparing code points.
  const ca = [...a];
  const cb = [...b];
  const n = Math.min(ca.length, cb.length);
  for (let i = 0; i < n; i++) {
    const x = (ca[i] as string).codePointAt(0) as number;
    const y = (cb[i] as string).codePointAt(0) as number;
    if (x !== y) return x < y ? -1 : 1;
  }
  return ca.length - cb.length;
}

/** Puts keys in Go output order, in place: structs by field order, maps sorted. */
export function orderKeysTyped(v: unknown, t: TypeNode): void {
  switch (t.k) {
    case 'struct': {
      if (!isObject(v)) return;
      const order = goFieldOrder(t.name);
      if (order) reorder(v, order);
      for (const [key, child] of Object.entries(v)) {
        const f = t.fields.get(key);
        if (f && child !== null && typeof child === 'object') orderKeysTyped(child, f.type);
      }
      return;
    }
    case 'map': {
      if (!isObject(v)) return;
      reorder(v, 'sorted');
      for (const child of Object.values(v))
        if (child !== null && typeof child === 'object') orderKeysTyped(child, t.elem);
      return;
    }
    case 'list':
      if (!Array.isArray(v)) return;
      for (const child of v) if (child !== null && typeof child === 'object') orderKeysTyped(child, t.elem);
      return;
    default:
      return;
  }
}
