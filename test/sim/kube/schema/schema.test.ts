import { describe, expect, it } from 'vitest';
import type { SimObject } from '../types.js';
import { asStored, fixture, json, requestObject, responseObject } from './fixture-helpers.js';
import { loadSchemas } from './index.js';
import { canonicalizeQuantityValue } from './quantity.js';

const schemas = loadSchemas();

function deployment(spec: Record<string, unknown>, name = 'web'): SimObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: 'ns' } as SimObject['metadata'],
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: 'web' } },
      template: {
        metadata: { labels: { app: 'web' } },
        spec: { containers: [{ name: 'c', image: 'nginx:1.27' }] },
      },
      ...spec,
    },
  };
}

/** A `kind` object named `name` in the namespace `n`, with the fields of `rest`. */
function inN(apiVersion: string, kind: string, name: string, rest: Record<string, unknown>): SimObject {
  return { apiVersion, kind, metadata: { name, namespace: 'n' } as SimObject['metadata'], ...rest };
}

function validated(obj: SimObject, old?: SimObject) {
  const o = schemas.applyDefaults(obj.apiVersion, obj.kind, structuredClone(obj));
  return schemas.validate(obj.apiVersion, obj.kind, o, old);
}

describe('loading', () => {
  it('loads fast, once, and knows the built-in kinds', () => {
    const t0 = performance.now();
    const again = loadSchemas();
    expect(again).toBe(schemas);
    expect(performance.now() - t0).toBeLessThan(300);
    for (const [v, k] of [
      ['apps/v1', 'Deployment'],
      ['v1', 'Service'],
      ['v1', 'ConfigMap'],
      ['networking.k8s.io/v1', 'Ingress'],
      ['rbac.authorization.k8s.io/v1', 'RoleBinding'],
      ['batch/v1', 'CronJob'],
      ['policy/v1', 'PodDisruptionBudget'],
      ['autoscaling/v2', 'HorizontalPodAutoscaler'],
    ])
      expect(schemas.has(v as string, k as string)).toBe(true);
    expect(schemas.has('apps/v1', 'Widget')).toBe(false);
    expect(schemas.has('example.com/v1', 'Deployment')).toBe(false);
  });
});

describe('defaults (fixtures)', () => {
  it('058/062: POSTed Deployment gets the 1.32 defaults, Go key order and status {}', () => {
    for (const num of ['058', '062']) {
      const f = fixture(num);
      const obj = schemas.pruneUnknown('apps/v1', 'Deployment', requestObject(f));
      schemas.applyDefaults('apps/v1', 'Deployment', obj);
      const want = responseObject(f);
      expect(json(obj.spec)).toBe(json(want.spec));
      expect(json(obj.status)).toBe(json(want.status));
    }
  });

  it('083: quantities come back canonical (cpu "1000" -> "1k")', () => {
    const f = fixture('083');
    const obj = requestObject(f);
    schemas.applyDefaults('apps/v1', 'Deployment', obj);
    expect(json(obj.spec)).toBe(json(responseObject(f).spec));
  });

  it('041: ConfigMap is unchanged; 111: Namespace gets its name label and phase Active', () => {
    const cm = requestObject(fixture('041'));
    schemas.applyDefaults('v1', 'ConfigMap', cm);
    expect(cm.data).toEqual({ greeting: 'hello' });
    expect(Object.keys(cm)).toEqual(['kind', 'apiVersion', 'metadata', 'data']);
    const ns = requestObject(fixture('111'));
    schemas.applyDefaults('v1', 'Namespace', ns);
    const want = responseObject(fixture('111'));
    expect(ns.metadata.labels).toEqual(want.metadata.labels);
    expect(ns.status).toEqual(want.status);
  });

  it('imagePullPolicy: Always for :latest or no tag, IfNotPresent otherwise', () => {
    const cases: Array<[string, string]> = [
      ['nginx', 'Always'],
      ['nginx:latest', 'Always'],
      ['localhost:5000/team/app', 'Always'],
      ['nginx:1.27', 'IfNotPresent'],
      ['localhost/realkube/dind:bookworm', 'IfNotPresent'],
      ['nginx@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef', 'IfNotPresent'],
      ['Bad/Image', 'IfNotPresent'],
    ];
    for (const [image, want] of cases) {
      const d = deployment({});
      d.spec.template.spec.containers[0].image = image;
      schemas.applyDefaults('apps/v1', 'Deployment', d);
      expect(d.spec.template.spec.containers[0].imagePullPolicy, image).toBe(want);
    }
  });

  it('probes, ports, volumes and strategy defaults', () => {
    const d = deployment({
      template: {
        metadata: { labels: { app: 'web' } },
        spec: {
          volumes: [
            { name: 'a' },
            { name: 'b', configMap: { name: 'cm' } },
            { name: 'c', secret: { secretName: 's' } },
          ],
          containers: [
            {
              name: 'c',
              image: 'nginx:1',
              ports: [{ containerPort: 80 }],
              livenessProbe: { httpGet: { port: 80 } },
              env: [{ name: 'POD', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }],
            },
          ],
        },
      },
    });
    schemas.applyDefaults('apps/v1', 'Deployment', d);
    const spec = d.spec.template.spec;
    expect(spec.volumes).toEqual([
      { name: 'a', emptyDir: {} },
      { name: 'b', configMap: { name: 'cm', defaultMode: 420 } },
      { name: 'c', secret: { secretName: 's', defaultMode: 420 } },
    ]);
    const c = spec.containers[0];
    expect(json(c.ports)).toBe(json([{ containerPort: 80, protocol: 'TCP' }]));
    expect(json(c.livenessProbe)).toBe(
      json({
        httpGet: { path: '/', port: 80, scheme: 'HTTP' },
        timeoutSeconds: 1,
        periodSeconds: 10,
        successThreshold: 1,
        failureThreshold: 3,
      }),
    );
    expect(json(c.env[0].valueFrom)).toBe(
      json({ fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.name' } }),
    );
    expect(json(d.spec.strategy)).toBe(
      json({ type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '25%', maxSurge: '25%' } }),
    );
  });

  it('Service: ClusterIP, sessionAffinity None, protocol TCP, targetPort = port, ipFamilies, internalTrafficPolicy', () => {
    const svc: SimObject = {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'web', namespace: 'ns' } as SimObject['metadata'],
      spec: { selector: { app: 'web' }, ports: [{ name: 'http', port: 80 }] },
    };
    schemas.applyDefaults('v1', 'Service', svc);
    expect(json(svc.spec)).toBe(
      json({
        ports: [{ name: 'http', protocol: 'TCP', port: 80, targetPort: 80 }],
        selector: { app: 'web' },
        type: 'ClusterIP',
        sessionAffinity: 'None',
        ipFamilies: ['IPv4'],
        ipFamilyPolicy: 'SingleStack',
        internalTrafficPolicy: 'Cluster',
      }),
    );
    expect(svc.status).toEqual({ loadBalancer: {} });
    const lb: SimObject = structuredClone(svc);
    lb.spec = { type: 'LoadBalancer', ports: [{ port: 443, targetPort: 'https' }] };
    schemas.applyDefaults('v1', 'Service', lb);
    expect(lb.spec.externalTrafficPolicy).toBe('Cluster');
    expect(lb.spec.allocateLoadBalancerNodePorts).toBe(true);
    expect(lb.spec.ports[0].targetPort).toBe('https');
  });

  it('Secret (type Opaque, stringData folded into data), PVC, RoleBinding, ServiceAccount, Ingress, Pod', () => {
    const secret: SimObject = {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 's' } as SimObject['metadata'],
      stringData: { password: 'hunter2' },
      data: { user: 'YWRtaW4=' },
    };
    schemas.applyDefaults('v1', 'Secret', secret);
    expect(json(secret)).toBe(
      json({
        kind: 'Secret',
        apiVersion: 'v1',
        metadata: { name: 's' },
        data: { password: 'aHVudGVyMg==', user: 'YWRtaW4=' },
        type: 'Opaque',
      }),
    );
    const pvc: SimObject = {
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      metadata: { name: 'data' } as SimObject['metadata'],
      spec: { resources: { requests: { storage: '1024Mi' } }, accessModes: ['ReadWriteOnce'] },
    };
    schemas.applyDefaults('v1', 'PersistentVolumeClaim', pvc);
    expect(json(pvc.spec)).toBe(
      json({
        accessModes: ['ReadWriteOnce'],
        resources: { requests: { storage: '1Gi' } },
        volumeMode: 'Filesystem',
      }),
    );
    expect(pvc.status).toEqual({ phase: 'Pending' });
    const rb: SimObject = {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: 'rb' } as SimObject['metadata'],
      roleRef: { kind: 'Role', name: 'r' },
      subjects: [
        { kind: 'ServiceAccount', name: 'sa' },
        { kind: 'User', name: 'u' },
      ],
    };
    schemas.applyDefaults('rbac.authorization.k8s.io/v1', 'RoleBinding', rb);
    expect(json(rb.roleRef)).toBe(json({ apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'r' }));
    expect(json(rb.subjects)).toBe(
      json([
        // A ServiceAccount's apiGroup is "", which Go's omitempty leaves out (kube-real-2/044-047).
        { kind: 'ServiceAccount', name: 'sa' },
        { kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: 'u' },
      ]),
    );
    const ing: SimObject = {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'Ingress',
      metadata: { name: 'i' } as SimObject['metadata'],
      spec: {
        rules: [
          {
            http: {
              paths: [
                {
                  path: '/',
                  pathType: 'Prefix',
                  backend: { service: { name: 'web', port: { number: 80 } } },
                },
              ],
            },
            host: 'a.example.com',
          },
        ],
      },
    };
    schemas.applyDefaults('networking.k8s.io/v1', 'Ingress', ing);
    expect(Object.keys(ing.spec.rules[0])).toEqual(['host', 'http']);
    expect(ing.status).toEqual({ loadBalancer: {} });
    const pod: SimObject = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'p' } as SimObject['metadata'],
      spec: { containers: [{ name: 'c', image: 'busybox', resources: { limits: { cpu: '500m' } } }] },
    };
    schemas.applyDefaults('v1', 'Pod', pod);
    expect(pod.spec.containers[0].resources).toEqual({ limits: { cpu: '500m' }, requests: { cpu: '500m' } });
    expect(pod.spec.enableServiceLinks).toBe(true);
    expect(pod.spec.securityContext).toEqual({});
  });

  it('is idempotent', () => {
    const f = fixture('010');
    const once = schemas.applyDefaults('apps/v1', 'Deployment', requestObject(f));
    const twice = schemas.applyDefaults('apps/v1', 'Deployment', structuredClone(once));
    expect(json(twice)).toBe(json(once));
  });
});

describe('quantities', () => {
  it('canonicalizes like resource.Quantity', () => {
    const cases: Array<[string | number, string]> = [
      ['1000', '1k'],
      ['0.5', '500m'],
      [0.5, '500m'],
      ['1.5Gi', '1536Mi'],
      ['1024Mi', '1Gi'],
      ['100m', '100m'],
      ['1', '1'],
      ['2e3', '2e3'],
      ['0', '0'],
      ['512Ki', '512Ki'],
      ['0.5Ki', '512'],
      ['1500m', '1500m'],
      ['10Gi', '10Gi'],
      ['1G', '1G'],
      ['128974848', '128974848'],
      ['129e6', '129e6'],
      ['1.5e3', '1500'],
      ['123Mi', '123Mi'],
    ];
    for (const [input, want] of cases) expect(canonicalizeQuantityValue(input), String(input)).toBe(want);
    expect(() => canonicalizeQuantityValue('1 cpu')).toThrow(/quantities must match the regular expression/);
  });
});

describe('unknown fields', () => {
  it('057/058: POST style paths, in document order', () => {
    const f = fixture('057');
    const fields = schemas.unknownFields('apps/v1', 'Deployment', requestObject(f));
    expect(fields).toEqual(['spec.bogusField', 'spec.template.spec.containers[0].bogusContainerField']);
    const msg = `Deployment in version "v1" cannot be handled as a Deployment: strict decoding error: ${fields.map((x) => `unknown field "${x}"`).join(', ')}`;
    expect(msg).toBe((f.response.body as { message: string }).message);
    const warnings = (fixture('058').response.headers.Warning as string[]).map((w) =>
      JSON.parse(w.slice('299 - '.length)),
    );
    expect(warnings).toEqual(fields.map((x) => `unknown field "${x}"`));
  });

  it('pruneUnknown drops them and keeps everything else', () => {
    const obj = requestObject(fixture('058'));
    const pruned = schemas.pruneUnknown('apps/v1', 'Deployment', obj);
    expect(schemas.unknownFields('apps/v1', 'Deployment', pruned)).toEqual([]);
    expect(pruned.spec.replicas).toBe(0);
    expect(pruned.spec.template.spec.containers[0].name).toBe('c');
    expect(obj.spec.bogusField).toBe(1);
  });

  it('reports unknown metadata fields and status of a kind without status', () => {
    const cm = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x', bogus: 1 }, status: {} };
    expect(schemas.unknownFields('v1', 'ConfigMap', cm)).toEqual(['metadata.bogus', 'status']);
  });
});

describe('decoding errors (400)', () => {
  it('words type errors as encoding/json does', () => {
    const d = deployment({ replicas: '2' });
    expect(schemas.decodeError('apps/v1', 'Deployment', d)).toBe(
      'Deployment in version "v1" cannot be handled as a Deployment: json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32',
    );
    const d2 = deployment({});
    d2.spec.template.spec.containers[0].ports = [{ containerPort: 1.5 }];
    expect(schemas.decodeError('apps/v1', 'Deployment', d2)).toBe(
      'Deployment in version "v1" cannot be handled as a Deployment: json: cannot unmarshal number 1.5 into Go struct field ContainerPort.spec.template.spec.containers.ports.containerPort of type int32',
    );
    const d3 = deployment({});
    d3.metadata.labels = { a: 1 as unknown as string };
    expect(schemas.decodeError('apps/v1', 'Deployment', d3)).toMatch(
      /cannot unmarshal number into Go struct field ObjectMeta.metadata.labels of type string$/,
    );
    const d4 = deployment({});
    d4.spec.template.spec.containers = { name: 'c' };
    expect(schemas.decodeError('apps/v1', 'Deployment', d4)).toMatch(
      /cannot unmarshal object into Go struct field PodSpec.spec.template.spec.containers of type \[\]v1.Container$/,
    );
    const d5 = deployment({});
    d5.spec.template.spec.containers[0].resources = { requests: { cpu: 'lots' } };
    expect(schemas.decodeError('apps/v1', 'Deployment', d5)).toBe(
      'Deployment in version "v1" cannot be handled as a Deployment: quantities must match the regular expression \'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$\'',
    );
    const s = { apiVersion: 'v1', kind: 'Secret', metadata: { name: 's' }, data: { a: 'not base64!' } };
    expect(schemas.decodeError('v1', 'Secret', s)).toBe(
      'Secret in version "v1" cannot be handled as a Secret: illegal base64 data at input byte 3',
    );
    expect(schemas.decodeError('apps/v1', 'Deployment', deployment({}))).toBeUndefined();
  });

  it('validate() reports type errors as FieldValueTypeInvalid when called without decodeError()', () => {
    const errs = schemas.validate('apps/v1', 'Deployment', deployment({ replicas: 'x' }));
    expect(errs).toEqual([
      {
        reason: 'FieldValueTypeInvalid',
        field: 'spec.replicas',
        message: 'Invalid value: "string": spec.replicas in body must be of type integer: "string"',
      },
    ]);
  });
});

describe('validation (fixtures)', () => {
  it('052/053: metadata.name must be a DNS-1123 subdomain', () => {
    for (const num of ['052', '053']) {
      const f = fixture(num);
      const body = f.response.body as { details: { causes: unknown[] } };
      const obj = requestObject(f);
      obj.metadata.namespace ??= 'fixtures';
      expect(validated(obj)).toEqual(body.details.causes);
    }
  });

  it('054/055: spec.replicas must not be negative', () => {
    for (const num of ['054', '055']) {
      const f = fixture(num);
      const obj = requestObject(f);
      obj.metadata.namespace ??= 'fixtures';
      expect(validated(obj)).toEqual((f.response.body as { details: { causes: unknown[] } }).details.causes);
    }
  });

  it('accepts every object the real server accepted', () => {
    for (const num of ['010', '036', '041', '058', '062', '081', '082', '083', '111']) {
      const f = fixture(num);
      const obj = schemas.pruneUnknown(requestObject(f).apiVersion, requestObject(f).kind, requestObject(f));
      obj.metadata.namespace ??= obj.kind === 'Namespace' ? undefined : 'fixtures';
      if (obj.metadata.namespace === undefined) delete obj.metadata.namespace;
      expect(validated(obj), num).toEqual([]);
    }
    const stored = asStored(responseObject(fixture('013')));
    expect(schemas.validate('apps/v1', 'Deployment', stored, stored)).toEqual([]);
  });
});

describe('validation (upstream wording)', () => {
  const msgs = (obj: SimObject, old?: SimObject) =>
    validated(obj, old).map((e) => `${e.field}: ${e.message}`);

  it('selector must match the template labels', () => {
    const d = deployment({ selector: { matchLabels: { app: 'other' } } });
    expect(msgs(d)).toEqual([
      'spec.template.metadata.labels: Invalid value: map[string]string{"app":"web"}: `selector` does not match template `labels`',
    ]);
    const empty = deployment({ selector: {} });
    expect(msgs(empty)).toEqual([
      'spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for deployment',
    ]);
    const missing = deployment({});
    delete missing.spec.selector;
    expect(msgs(missing)[0]).toBe('spec.selector: Required value');
  });

  it('containers need a name and an image; names are unique; ports are 1-65535', () => {
    const d = deployment({});
    d.spec.template.spec.containers = [
      { image: 'nginx:1' },
      {
        name: 'c',
        image: 'nginx:1',
        ports: [{ containerPort: 70000 }, { containerPort: 80, protocol: 'HTTP' }],
      },
      { name: 'c' },
    ];
    expect(msgs(d)).toEqual([
      'spec.template.spec.containers[0].name: Required value',
      'spec.template.spec.containers[1].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive',
      'spec.template.spec.containers[1].ports[1].protocol: Unsupported value: "HTTP": supported values: "SCTP", "TCP", "UDP"',
      'spec.template.spec.containers[2].image: Required value',
      'spec.template.spec.containers[2].name: Duplicate value: "c"',
    ]);
    const none = deployment({});
    none.spec.template.spec.containers = [];
    expect(msgs(none)).toEqual(['spec.template.spec.containers: Required value']);
  });

  it('labels: key syntax and the 63 character limit', () => {
    const d = deployment({});
    d.metadata.labels = { 'bad key': 'x', ok: 'v'.repeat(64), 'example.com/fine': 'yes' };
    expect(msgs(d)).toEqual([
      "metadata.labels: Invalid value: \"bad key\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
      `metadata.labels: Invalid value: "${'v'.repeat(64)}": must be no more than 63 characters`,
    ]);
  });

  it('Service names are DNS-1035 labels; ports are validated', () => {
    const svc: SimObject = {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: '1web', namespace: 'ns' } as SimObject['metadata'],
      spec: {
        type: 'Bogus',
        ports: [{ port: 0 }, { name: 'b', port: 80, nodePort: 30000 }, { name: 'c', port: 80 }],
      },
    };
    expect(msgs(svc)).toEqual([
      "metadata.name: Invalid value: \"1web\": a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')",
      'spec.ports[0].name: Required value',
      'spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive',
      'spec.ports[0].targetPort: Invalid value: 0: must be between 1 and 65535, inclusive',
      'spec.type: Unsupported value: "Bogus": supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"',
      'spec.ports[2]: Duplicate value: core.ServicePort{Name:"", Protocol:"TCP", AppProtocol:(*string)(nil), Port:80, TargetPort:intstr.IntOrString{Type:0, IntVal:0, StrVal:""}, NodePort:0}',
    ]);
    const noPorts: SimObject = {
      ...svc,
      metadata: { name: 'web', namespace: 'ns' } as SimObject['metadata'],
      spec: { selector: { app: 'x' } },
    };
    expect(msgs(noPorts)).toEqual(['spec.ports: Required value']);
    const nodePortOnClusterIP: SimObject = { ...noPorts, spec: { ports: [{ port: 80, nodePort: 30080 }] } };
    expect(msgs(nodePortOnClusterIP)).toEqual([
      "spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'",
    ]);
  });

  it('Namespace names are DNS-1123 labels', () => {
    const ns: SimObject = {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: 'a.b' } as SimObject['metadata'],
    };
    expect(msgs(ns)).toEqual([
      "metadata.name: Invalid value: \"a.b\": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
    ]);
    const namespaced: SimObject = {
      ...ns,
      metadata: { name: 'ok', namespace: 'x' } as SimObject['metadata'],
    };
    expect(msgs(namespaced)).toEqual(['metadata.namespace: Forbidden: not allowed on this type']);
  });

  it('ConfigMap keys, RBAC rules and bindings, Ingress paths, PVCs, probes', () => {
    const cm: SimObject = inN('v1', 'ConfigMap', 'c', { data: { 'a b': 'x' } });
    expect(msgs(cm)).toEqual([
      "data[a b]: Invalid value: \"a b\": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')",
    ]);
    const role: SimObject = inN('rbac.authorization.k8s.io/v1', 'Role', 'r', {
      rules: [{ resources: ['pods'] }],
    });
    expect(msgs(role)).toEqual([
      'rules[0].verbs: Required value: verbs must contain at least one value',
      'rules[0].apiGroups: Required value: resource rules must supply at least one api group',
    ]);
    const rb: SimObject = inN('rbac.authorization.k8s.io/v1', 'RoleBinding', 'rb', {
      roleRef: { kind: 'Thing', name: 'r' },
      subjects: [{ kind: 'Robot', name: 'x' }],
    });
    expect(msgs(rb)).toEqual([
      'roleRef.kind: Unsupported value: "Thing": supported values: "Role", "ClusterRole"',
      'subjects[0].kind: Unsupported value: "Robot": supported values: "ServiceAccount", "User", "Group"',
    ]);
    const okRb = structuredClone(rb);
    okRb.roleRef = { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'r' };
    okRb.subjects = [];
    const changed = structuredClone(okRb);
    changed.roleRef.name = 'other';
    expect(msgs(changed, okRb)).toEqual([
      'roleRef: Invalid value: rbac.RoleRef{APIGroup:"rbac.authorization.k8s.io", Kind:"Role", Name:"other"}: cannot change roleRef',
    ]);
    const ing: SimObject = inN('networking.k8s.io/v1', 'Ingress', 'i', {
      spec: {
        rules: [
          {
            host: 'a.example.com',
            http: {
              paths: [
                {
                  path: 'api',
                  pathType: 'Prefix',
                  backend: { service: { name: 'web', port: { number: 80 } } },
                },
                { path: '/', backend: {} },
              ],
            },
          },
        ],
      },
    });
    expect(msgs(ing)).toEqual([
      'spec.rules[0].http.paths[0].path: Invalid value: "api": must be an absolute path',
      'spec.rules[0].http.paths[1].pathType: Required value: pathType must be specified',
    ]);
    const pvc: SimObject = inN('v1', 'PersistentVolumeClaim', 'p', { spec: {} });
    expect(msgs(pvc)).toEqual([
      'spec.accessModes: Required value: at least 1 access mode is required',
      'spec.resources[storage]: Required value',
    ]);
    const probe = deployment({});
    probe.spec.template.spec.containers[0].livenessProbe = { periodSeconds: -1, successThreshold: 2 };
    expect(msgs(probe)).toEqual([
      'spec.template.spec.containers[0].livenessProbe: Required value: must specify a handler type',
      'spec.template.spec.containers[0].livenessProbe.periodSeconds: Invalid value: -1: must be greater than or equal to 0',
      'spec.template.spec.containers[0].livenessProbe.successThreshold: Invalid value: 2: must be 1',
    ]);
  });

  it('Deployment selector is immutable; restartPolicy must be Always', () => {
    const old = schemas.applyDefaults('apps/v1', 'Deployment', deployment({}));
    const next = structuredClone(old);
    next.spec.selector = { matchLabels: { app: 'web', tier: 'x' } };
    next.spec.template.metadata.labels.tier = 'x';
    next.spec.template.spec.restartPolicy = 'Never';
    expect(
      schemas.validate('apps/v1', 'Deployment', next, old).map((e) => `${e.field}: ${e.message}`),
    ).toEqual([
      'spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always"',
      'spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"app":"web", "tier":"x"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable',
    ]);
  });
});

describe('key order', () => {
  it('puts fields in Go struct order and sorts maps', () => {
    const d = deployment({});
    d.metadata.labels = { z: '1', a: '2' };
    d.spec = { template: d.spec.template, selector: d.spec.selector, replicas: 1 };
    schemas.applyDefaults('apps/v1', 'Deployment', d);
    expect(Object.keys(d)).toEqual(['kind', 'apiVersion', 'metadata', 'spec', 'status']);
    expect(Object.keys(d.spec)).toEqual([
      'replicas',
      'selector',
      'template',
      'strategy',
      'revisionHistoryLimit',
      'progressDeadlineSeconds',
    ]);
    expect(Object.keys(d.metadata.labels as object)).toEqual(['a', 'z']);
    expect(Object.keys(d.metadata)).toEqual(['name', 'namespace', 'labels']);
  });
});

describe('strategy hooks (prepareForCreate / prepareForUpdate)', () => {
  it('111: a new Namespace gets spec.finalizers [kubernetes] and phase Active', () => {
    const ns = schemas.applyDefaults('v1', 'Namespace', requestObject(fixture('111')));
    schemas.prepareForCreate('v1', 'Namespace', ns);
    const want = responseObject(fixture('111'));
    expect(json(ns.spec)).toBe(json(want.spec));
    expect(json(ns.status)).toBe(json(want.status));
  });

  it('Services get a stable cluster IP; updates keep it; status is reset on create and kept on update', () => {
    const svc: SimObject = {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'web', namespace: 'ns' } as SimObject['metadata'],
      spec: { ports: [{ port: 80 }] },
      status: { loadBalancer: { ingress: [{ ip: '1.2.3.4' }] } },
    };
    schemas.applyDefaults('v1', 'Service', svc);
    schemas.prepareForCreate('v1', 'Service', svc);
    expect(svc.spec.clusterIP).toMatch(/^10\.(9[6-9]|10[0-9]|11[01])\.\d+\.\d+$/);
    expect(svc.spec.clusterIPs).toEqual([svc.spec.clusterIP]);
    expect(Object.keys(svc.spec)).toEqual([
      'ports',
      'clusterIP',
      'clusterIPs',
      'type',
      'sessionAffinity',
      'ipFamilies',
      'ipFamilyPolicy',
      'internalTrafficPolicy',
    ]);
    expect(svc.status).toEqual({ loadBalancer: {} });
    const put = structuredClone(svc);
    delete put.spec.clusterIP;
    delete put.spec.clusterIPs;
    put.status = {};
    schemas.prepareForUpdate('v1', 'Service', put, {
      ...svc,
      status: { loadBalancer: { ingress: [{ ip: '5.6.7.8' }] } },
    });
    expect(put.spec.clusterIP).toBe(svc.spec.clusterIP);
    expect(put.status).toEqual({ loadBalancer: { ingress: [{ ip: '5.6.7.8' }] } });
    const headless = structuredClone(svc);
    headless.spec = { clusterIP: 'None', selector: { app: 'x' } };
    schemas.applyDefaults('v1', 'Service', headless);
    schemas.prepareForCreate('v1', 'Service', headless);
    expect(headless.spec.clusterIPs).toEqual(['None']);
  });

  it('a created Deployment starts with status {}', () => {
    const d = deployment({});
    d.status = { replicas: 3 };
    schemas.prepareForCreate('apps/v1', 'Deployment', schemas.applyDefaults('apps/v1', 'Deployment', d));
    expect(d.status).toEqual({});
  });
});
