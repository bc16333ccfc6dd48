/**
 * Field order of the Go structs behind the built-in kinds (k8s.io/api v0.32). The API server writes JSON
 * from these structs, so its output follows this order, while the OpenAPI schema lists properties
 * alphabetically. Embedded structs (ProbeHandler, VolumeSource, TypeMeta...) are inlined here.
 * Types missing from this table keep the order of the object as given.
 */

const CORE = 'io.k8s.api.core.v1.';
const APPS = 'io.k8s.api.apps.v1.';
const META = 'io.k8s.apimachinery.pkg.apis.meta.v1.';
const NET = 'io.k8s.api.networking.v1.';
const RBAC = 'io.k8s.api.rbac.v1.';
const BATCH = 'io.k8s.api.batch.v1.';
const POLICY = 'io.k8s.api.policy.v1.';
const HPA = 'io.k8s.api.autoscaling.v2.';
const AUTHN = 'io.k8s.api.authentication.v1.';

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

const TABLE: Record<string, string> = {
  // meta
  [`${META}ObjectMeta`]:
    'name generateName namespace selfLink uid resourceVersion generation creationTimestamp deletionTimestamp ' +
    'deletionGracePeriodSeconds labels annotations ownerReferences finalizers managedFields',
  [`${META}ManagedFieldsEntry`]: 'manager operation apiVersion time fieldsType fieldsV1 subresource',
  [`${META}OwnerReference`]: 'apiVersion kind name uid controller blockOwnerDeletion',
  [`${META}LabelSelector`]: 'matchLabels matchExpressions',
  [`${META}LabelSelectorRequirement`]: 'key operator values',
  [`${META}Condition`]: 'type status observedGeneration lastTransitionTime reason message',
  [`${META}ListMeta`]: 'selfLink resourceVersion continue remainingItemCount',

  // apps
  [`${APPS}Deployment`]: `${TOP} spec status`,
  [`${APPS}DeploymentSpec`]:
    'replicas selector template strategy minReadySeconds revisionHistoryLimit paused progressDeadlineSeconds',
  [`${APPS}DeploymentStrategy`]: 'type rollingUpdate',
  [`${APPS}RollingUpdateDeployment`]: 'maxUnavailable maxSurge',
  [`${APPS}DeploymentStatus`]:
    'observedGeneration replicas updatedReplicas readyReplicas availableReplicas unavailableReplicas ' +
    'terminatingReplicas conditions collisionCount',
  [`${APPS}DeploymentCondition`]: 'type status lastUpdateTime lastTransitionTime reason message',
  [`${APPS}ReplicaSet`]: `${TOP} spec status`,
  [`${APPS}ReplicaSetSpec`]: 'replicas minReadySeconds selector template',
  [`${APPS}ReplicaSetStatus`]:
    'replicas fullyLabeledReplicas readyReplicas availableReplicas terminatingReplicas observedGeneration conditions',
  [`${APPS}ReplicaSetCondition`]: CONDITION5,
  [`${APPS}StatefulSet`]: `${TOP} spec status`,
  [`${APPS}StatefulSetSpec`]:
    'replicas selector template volumeClaimTemplates serviceName podManagementPolicy updateStrategy ' +
    'revisionHistoryLimit minReadySeconds persistentVolumeClaimRetentionPolicy ordinals',
  [`${APPS}StatefulSetUpdateStrategy`]: 'type rollingUpdate',
  [`${APPS}RollingUpdateStatefulSetStrategy`]: 'partition maxUnavailable',
  [`${APPS}StatefulSetPersistentVolumeClaimRetentionPolicy`]: 'whenDeleted whenScaled',
  [`${APPS}StatefulSetOrdinals`]: 'start',
  [`${APPS}StatefulSetStatus`]:
    'observedGeneration replicas readyReplicas currentReplicas updatedReplicas currentRevision updateRevision ' +
    'collisionCount conditions availableReplicas',
  [`${APPS}StatefulSetCondition`]: CONDITION5,
  [`${APPS}DaemonSet`]: `${TOP} spec status`,
  [`${APPS}DaemonSetSpec`]: 'selector template updateStrategy minReadySeconds revisionHistoryLimit',
  [`${APPS}DaemonSetUpdateStrategy`]: 'type rollingUpdate',
  [`${APPS}RollingUpdateDaemonSet`]: 'maxUnavailable maxSurge',
  [`${APPS}DaemonSetStatus`]:
    'currentNumberScheduled numberMisscheduled desiredNumberScheduled numberReady observedGeneration ' +
    'updatedNumberScheduled numberAvailable numberUnavailable collisionCount conditions',
  [`${APPS}DaemonSetCondition`]: CONDITION5,
  [`${APPS}ControllerRevision`]: `${TOP} data revision`,

  // core: pods
  [`${CORE}Pod`]: `${TOP} spec status`,
  [`${CORE}PodTemplate`]: `${TOP} template`,
  [`${CORE}PodTemplateSpec`]: 'metadata spec',
  [`${CORE}PodSpec`]:
    'volumes initContainers containers ephemeralContainers restartPolicy terminationGracePeriodSeconds ' +
    'activeDeadlineSeconds dnsPolicy nodeSelector serviceAccountName serviceAccount automountServiceAccountToken ' +
    'nodeName hostNetwork hostPID hostIPC shareProcessNamespace securityContext imagePullSecrets hostname ' +
    'subdomain affinity schedulerName tolerations hostAliases priorityClassName priority dnsConfig ' +
    'readinessGates runtimeClassName enableServiceLinks preemptionPolicy overhead topologySpreadConstraints ' +
    'setHostnameAsFQDN os hostUsers schedulingGates resourceClaims resources',
  [`${CORE}Container`]: CONTAINER,
  [`${CORE}EphemeralContainer`]: `${CONTAINER} targetContainerName`,
  [`${CORE}ContainerPort`]: 'name hostPort containerPort protocol hostIP',
  [`${CORE}EnvVar`]: 'name value valueFrom',
  [`${CORE}EnvVarSource`]: 'fieldRef resourceFieldRef configMapKeyRef secretKeyRef',
  [`${CORE}ObjectFieldSelector`]: 'apiVersion fieldPath',
  [`${CORE}ResourceFieldSelector`]: 'containerName resource divisor',
  [`${CORE}ConfigMapKeySelector`]: 'name key optional',
  [`${CORE}SecretKeySelector`]: 'name key optional',
  [`${CORE}EnvFromSource`]: 'prefix configMapRef secretRef',
  [`${CORE}ConfigMapEnvSource`]: 'name optional',
  [`${CORE}SecretEnvSource`]: 'name optional',
  [`${CORE}ResourceRequirements`]: 'limits requests claims',
  [`${CORE}ResourceClaim`]: 'name request',
  [`${CORE}ContainerResizePolicy`]: 'resourceName restartPolicy',
  [`${CORE}VolumeMount`]: 'name readOnly recursiveReadOnly mountPath subPath mountPropagation subPathExpr',
  [`${CORE}VolumeDevice`]: 'name devicePath',
  [`${CORE}Probe`]:
    `${PROBE_HANDLER} initialDelaySeconds timeoutSeconds periodSeconds successThreshold failureThreshold ` +
    'terminationGracePeriodSeconds',
  [`${CORE}ExecAction`]: 'command',
  [`${CORE}HTTPGetAction`]: 'path port host scheme httpHeaders',
  [`${CORE}HTTPHeader`]: 'name value',
  [`${CORE}TCPSocketAction`]: 'port host',
  [`${CORE}GRPCAction`]: 'port service',
  [`${CORE}Lifecycle`]: 'postStart preStop stopSignal',
  [`${CORE}LifecycleHandler`]: 'exec httpGet tcpSocket sleep',
  [`${CORE}SleepAction`]: 'seconds',
  [`${CORE}SecurityContext`]:
    'capabilities privileged seLinuxOptions windowsOptions runAsUser runAsGroup runAsNonRoot ' +
    'readOnlyRootFilesystem allowPrivilegeEscalation procMount seccompProfile appArmorProfile',
  [`${CORE}Capabilities`]: 'add drop',
  [`${CORE}PodSecurityContext`]:
    'seLinuxOptions windowsOptions runAsUser runAsGroup runAsNonRoot supplementalGroups supplementalGroupsPolicy ' +
    'fsGroup sysctls fsGroupChangePolicy seccompProfile appArmorProfile seLinuxChangePolicy',
  [`${CORE}SELinuxOptions`]: 'user role type level',
  [`${CORE}SeccompProfile`]: 'type localhostProfile',
  [`${CORE}AppArmorProfile`]: 'type localhostProfile',
  [`${CORE}Sysctl`]: 'name value',
  [`${CORE}Volume`]: `name ${VOLUME_SOURCE}`,
  [`${CORE}HostPathVolumeSource`]: 'path type',
  [`${CORE}EmptyDirVolumeSource`]: 'medium sizeLimit',
  [`${CORE}SecretVolumeSource`]: 'secretName items defaultMode optional',
  [`${CORE}ConfigMapVolumeSource`]: 'name items defaultMode optional',
  [`${CORE}KeyToPath`]: 'key path mode',
  [`${CORE}PersistentVolumeClaimVolumeSource`]: 'claimName readOnly',
  [`${CORE}ProjectedVolumeSource`]: 'sources defaultMode',
  [`${CORE}VolumeProjection`]: 'secret downwardAPI configMap serviceAccountToken clusterTrustBundle',
  [`${CORE}SecretProjection`]: 'name items optional',
  [`${CORE}ConfigMapProjection`]: 'name items optional',
  [`${CORE}DownwardAPIProjection`]: 'items',
  [`${CORE}ServiceAccountTokenProjection`]: 'audience expirationSeconds path',
  [`${CORE}DownwardAPIVolumeSource`]: 'items defaultMode',
  [`${CORE}DownwardAPIVolumeFile`]: 'path fieldRef resourceFieldRef mode',
  [`${CORE}NFSVolumeSource`]: 'server path readOnly',
  [`${CORE}CSIVolumeSource`]: 'driver readOnly fsType volumeAttributes nodePublishSecretRef',
  [`${CORE}EphemeralVolumeSource`]: 'volumeClaimTemplate',
  [`${CORE}PersistentVolumeClaimTemplate`]: 'metadata spec',
  [`${CORE}ImageVolumeSource`]: 'reference pullPolicy',
  [`${CORE}Toleration`]: 'key operator value effect tolerationSeconds',
  [`${CORE}Affinity`]: 'nodeAffinity podAffinity podAntiAffinity',
  [`${CORE}NodeAffinity`]:
    'requiredDuringSchedulingIgnoredDuringExecution preferredDuringSchedulingIgnoredDuringExecution',
  [`${CORE}NodeSelector`]: 'nodeSelectorTerms',
  [`${CORE}NodeSelectorTerm`]: 'matchExpressions matchFields',
  [`${CORE}NodeSelectorRequirement`]: 'key operator values',
  [`${CORE}PreferredSchedulingTerm`]: 'weight preference',
  [`${CORE}PodAffinity`]:
    'requiredDuringSchedulingIgnoredDuringExecution preferredDuringSchedulingIgnoredDuringExecution',
  [`${CORE}PodAntiAffinity`]:
    'requiredDuringSchedulingIgnoredDuringExecution preferredDuringSchedulingIgnoredDuringExecution',
  [`${CORE}PodAffinityTerm`]:
    'labelSelector namespaces topologyKey namespaceSelector matchLabelKeys mismatchLabelKeys',
  [`${CORE}WeightedPodAffinityTerm`]: 'weight podAffinityTerm',
  [`${CORE}TopologySpreadConstraint`]:
    'maxSkew topologyKey whenUnsatisfiable labelSelector minDomains nodeAffinityPolicy nodeTaintsPolicy matchLabelKeys',
  [`${CORE}LocalObjectReference`]: 'name',
  [`${CORE}HostAlias`]: 'ip hostnames',
  [`${CORE}PodDNSConfig`]: 'nameservers searches options',
  [`${CORE}PodDNSConfigOption`]: 'name value',
  [`${CORE}PodReadinessGate`]: 'conditionType',
  [`${CORE}PodSchedulingGate`]: 'name',
  [`${CORE}PodResourceClaim`]: 'name resourceClaimName resourceClaimTemplateName',
  [`${CORE}PodOS`]: 'name',
  [`${CORE}PodStatus`]:
    'phase conditions message reason nominatedNodeName hostIP hostIPs podIP podIPs startTime ' +
    'initContainerStatuses containerStatuses qosClass ephemeralContainerStatuses resize resourceClaimStatuses',
  [`${CORE}PodCondition`]: 'type status lastProbeTime lastTransitionTime reason message',
  [`${CORE}ContainerStatus`]:
    'name state lastState ready restartCount image imageID containerID started allocatedResources resources ' +
    'volumeMounts user allocatedResourcesStatus',
  [`${CORE}ContainerState`]: 'waiting running terminated',
  [`${CORE}ContainerStateWaiting`]: 'reason message',
  [`${CORE}ContainerStateRunning`]: 'startedAt',
  [`${CORE}ContainerStateTerminated`]: 'exitCode signal reason message startedAt finishedAt containerID',
  [`${CORE}VolumeMountStatus`]: 'name mountPath readOnly recursiveReadOnly',
  [`${CORE}HostIP`]: 'ip',
  [`${CORE}PodIP`]: 'ip',

  // core: services and networking-ish
  [`${CORE}Service`]: `${TOP} spec status`,
  [`${CORE}ServiceSpec`]:
    'ports selector clusterIP clusterIPs type externalIPs sessionAffinity loadBalancerIP ' +
    'loadBalancerSourceRanges externalName externalTrafficPolicy healthCheckNodePort publishNotReadyAddresses ' +
    'sessionAffinityConfig ipFamilies ipFamilyPolicy allocateLoadBalancerNodePorts loadBalancerClass ' +
    'internalTrafficPolicy trafficDistribution',
  [`${CORE}ServicePort`]: 'name protocol appProtocol port targetPort nodePort',
  [`${CORE}ServiceStatus`]: 'loadBalancer conditions',
  [`${CORE}LoadBalancerStatus`]: 'ingress',
  [`${CORE}LoadBalancerIngress`]: 'ip hostname ipMode ports',
  [`${CORE}PortStatus`]: 'port protocol error',
  [`${CORE}SessionAffinityConfig`]: 'clientIP',
  [`${CORE}ClientIPConfig`]: 'timeoutSeconds',
  [`${CORE}Endpoints`]: `${TOP} subsets`,
  [`${CORE}EndpointSubset`]: 'addresses notReadyAddresses ports',
  [`${CORE}EndpointAddress`]: 'ip hostname nodeName targetRef',
  [`${CORE}EndpointPort`]: 'name port protocol appProtocol',

  // core: config and storage
  [`${CORE}ConfigMap`]: `${TOP} immutable data binaryData`,
  [`${CORE}Secret`]: `${TOP} immutable data stringData type`,
  [`${CORE}ServiceAccount`]: `${TOP} secrets imagePullSecrets automountServiceAccountToken`,
  [`${CORE}ObjectReference`]: 'kind namespace name uid apiVersion resourceVersion fieldPath',
  [`${CORE}PersistentVolumeClaim`]: `${TOP} spec status`,
  [`${CORE}PersistentVolumeClaimSpec`]:
    'accessModes selector resources volumeName storageClassName volumeMode dataSource dataSourceRef ' +
    'volumeAttributesClassName',
  [`${CORE}VolumeResourceRequirements`]: 'limits requests',
  [`${CORE}TypedLocalObjectReference`]: 'apiGroup kind name',
  [`${CORE}TypedObjectReference`]: 'apiGroup kind name namespace',
  [`${CORE}PersistentVolumeClaimStatus`]:
    'phase accessModes capacity conditions allocatedResources allocatedResourceStatuses ' +
    'currentVolumeAttributesClassName modifyVolumeStatus',
  [`${CORE}PersistentVolumeClaimCondition`]: 'type status lastProbeTime lastTransitionTime reason message',
  [`${CORE}Namespace`]: `${TOP} spec status`,
  [`${CORE}NamespaceSpec`]: 'finalizers',
  [`${CORE}NamespaceStatus`]: 'phase conditions',
  [`${CORE}NamespaceCondition`]: CONDITION5,
  [`${CORE}Event`]:
    `${TOP} involvedObject reason message source firstTimestamp lastTimestamp count type eventTime series ` +
    'action related reportingComponent reportingInstance',
  [`${CORE}EventSource`]: 'component host',
  [`${CORE}EventSeries`]: 'count lastObservedTime',
  [`${CORE}ResourceQuota`]: `${TOP} spec status`,
  [`${CORE}ResourceQuotaSpec`]: 'hard scopes scopeSelector',
  [`${CORE}ResourceQuotaStatus`]: 'hard used',
  [`${CORE}LimitRange`]: `${TOP} spec`,
  [`${CORE}LimitRangeSpec`]: 'limits',
  [`${CORE}LimitRangeItem`]: 'type max min default defaultRequest maxLimitRequestRatio',

  // networking
  [`${NET}Ingress`]: `${TOP} spec status`,
  [`${NET}IngressSpec`]: 'ingressClassName defaultBackend tls rules',
  [`${NET}IngressBackend`]: 'service resource',
  [`${NET}IngressServiceBackend`]: 'name port',
  [`${NET}ServiceBackendPort`]: 'name number',
  [`${NET}IngressTLS`]: 'hosts secretName',
  [`${NET}IngressRule`]: 'host http',
  [`${NET}HTTPIngressRuleValue`]: 'paths',
  [`${NET}HTTPIngressPath`]: 'path pathType backend',
  [`${NET}IngressStatus`]: 'loadBalancer',
  [`${NET}IngressLoadBalancerStatus`]: 'ingress',
  [`${NET}IngressLoadBalancerIngress`]: 'ip hostname ports',
  [`${NET}IngressPortStatus`]: 'port protocol error',
  [`${NET}IngressClass`]: `${TOP} spec`,
  [`${NET}IngressClassSpec`]: 'controller parameters',
  [`${NET}NetworkPolicy`]: `${TOP} spec`,
  [`${NET}NetworkPolicySpec`]: 'podSelector ingress egress policyTypes',
  [`${NET}NetworkPolicyIngressRule`]: 'ports from',
  [`${NET}NetworkPolicyEgressRule`]: 'ports to',
  [`${NET}NetworkPolicyPort`]: 'protocol port endPort',
  [`${NET}NetworkPolicyPeer`]: 'podSelector namespaceSelector ipBlock',
  [`${NET}IPBlock`]: 'cidr except',

  // rbac
  [`${RBAC}Role`]: `${TOP} rules`,
  [`${RBAC}ClusterRole`]: `${TOP} rules aggregationRule`,
  [`${RBAC}AggregationRule`]: 'clusterRoleSelectors',
  [`${RBAC}PolicyRule`]: 'verbs apiGroups resources resourceNames nonResourceURLs',
  [`${RBAC}RoleBinding`]: `${TOP} subjects roleRef`,
  [`${RBAC}ClusterRoleBinding`]: `${TOP} subjects roleRef`,
  [`${RBAC}Subject`]: 'kind apiGroup name namespace',
  [`${RBAC}RoleRef`]: 'apiGroup kind name',

  // batch
  [`${BATCH}Job`]: `${TOP} spec status`,
  [`${BATCH}JobSpec`]:
    'parallelism completions activeDeadlineSeconds podFailurePolicy successPolicy backoffLimit ' +
    'backoffLimitPerIndex maxFailedIndexes selector manualSelector template ttlSecondsAfterFinished ' +
    'completionMode suspend podReplacementPolicy managedBy',
  [`${BATCH}JobStatus`]:
    'conditions startTime completionTime active succeeded failed terminating completedIndexes failedIndexes ' +
    'uncountedTerminatedPods ready',
  [`${BATCH}JobCondition`]: 'type status lastProbeTime lastTransitionTime reason message',
  [`${BATCH}UncountedTerminatedPods`]: 'succeeded failed',
  [`${BATCH}CronJob`]: `${TOP} spec status`,
  [`${BATCH}CronJobSpec`]:
    'schedule timeZone startingDeadlineSeconds concurrencyPolicy suspend jobTemplate ' +
    'successfulJobsHistoryLimit failedJobsHistoryLimit',
  [`${BATCH}JobTemplateSpec`]: 'metadata spec',
  [`${BATCH}CronJobStatus`]: 'active lastScheduleTime lastSuccessfulTime',

  // policy, autoscaling, authentication
  [`${POLICY}PodDisruptionBudget`]: `${TOP} spec status`,
  [`${POLICY}PodDisruptionBudgetSpec`]: 'minAvailable selector maxUnavailable unhealthyPodEvictionPolicy',
  [`${POLICY}PodDisruptionBudgetStatus`]:
    'observedGeneration disruptedPods disruptionsAllowed currentHealthy desiredHealthy expectedPods conditions',
  [`${HPA}HorizontalPodAutoscaler`]: `${TOP} spec status`,
  [`${HPA}HorizontalPodAutoscalerSpec`]: 'scaleTargetRef minReplicas maxReplicas metrics behavior',
  [`${HPA}CrossVersionObjectReference`]: 'kind name apiVersion',
  [`${HPA}MetricSpec`]: 'type object pods resource containerResource external',
  [`${HPA}ResourceMetricSource`]: 'name target',
  [`${HPA}MetricTarget`]: 'type value averageValue averageUtilization',
  [`${HPA}HorizontalPodAutoscalerStatus`]:
    'observedGeneration lastScaleTime currentReplicas desiredReplicas currentMetrics conditions',
  [`${AUTHN}TokenRequest`]: `${TOP} spec status`,
  [`${AUTHN}TokenRequestSpec`]: 'audiences expirationSeconds boundObjectRef',
  [`${AUTHN}TokenRequestStatus`]: 'token expirationTimestamp',
  [`${AUTHN}BoundObjectReference`]: 'kind apiVersion name uid',
};

const parsed = new Map<string, string[]>();

/** The Go field order of a definition, or undefined when not known. */
export function goFieldOrder(def: string): string[] | undefined {
  let order = parsed.get(def);
  if (!order) {
    const s = TABLE[def];
    if (!s) return undefined;
    order = s.split(' ');
    parsed.set(def, order);
  }
  return order;
}
