/**
 * Kind-specific validation: the parts of k8s.io/kubernetes/pkg/apis/{core,apps,rbac,networking,batch}/validation
 * (1.32) that manifests written by hand or by templates run into, in the same order and wording.
 */

import { expressionMatches } from '../selectors.js';
import { VOLUME_SOURCES } from './defaults.js';
import {
  type FieldError,
  fe,
  GoRepr,
  goQuote,
  goSlice,
  goStringMap,
  isConfigMapKey,
  isDNS1035Label,
  isDNS1123Label,
  isDNS1123Subdomain,
  isQualifiedName,
  isRelaxedEnvVarName,
  isValidLabelValue,
  isValidPathSegmentName,
  isValidPortName,
  isValidPortNum,
  isWildcardDNS1123Subdomain,
} from './fielderrors.js';
import { isObject } from './openapi.js';
import { canonicalizeQuantityValue, parseQuantity, quantityToNumber } from './quantity.js';

type Obj = Record<string, unknown>;
type Errs = FieldError[];

const asObj = (v: unknown): Obj | undefined => (isObject(v) ? v : undefined);
const asArr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const asStr = (v: unknown): string => (typeof v === 'string' ? v : '');
const asNum = (v: unknown): number | undefined => (typeof v === 'number' ? v : undefined);
const has = (o: Obj | undefined, k: string) => o !== undefined && o[k] !== undefined && o[k] !== null;

const IMMUTABLE = 'field is immutable';
const NEGATIVE = 'must be greater than or equal to 0';

function nonNegative(v: unknown, field: string): Errs {
  const n = asNum(v);
  return n !== undefined && n < 0 ? [fe.invalid(field, n, NEGATIVE)] : [];
}

/** Each element of a list as an object (`{}` when it is not one), with its path `field[i]`. */
function eachObject(list: unknown, field: string, fn: (o: Obj, path: string) => void): void {
  asArr(list).forEach((x, i) => {
    fn(asObj(x) ?? {}, `${field}[${i}]`);
  });
}

/** `nonNegative` for each of the spec's `fields`, in Go's order of the checks. */
function nonNegativeSpec(spec: Obj, ...fields: string[]): Errs {
  return fields.flatMap((f) => nonNegative(spec[f], `spec.${f}`));
}

// ---------------------------------------------------------------------------------------------------------
// ObjectMeta

type NameFn = (name: string, prefix: boolean) => string[];

const maskTrailingDash = (n: string) => (n.length > 1 && n.endsWith('-') ? `${n.slice(0, -2)}a` : n);
export const nameIsDNSSubdomain: NameFn = (n, prefix) => isDNS1123Subdomain(prefix ? maskTrailingDash(n) : n);
export const nameIsDNSLabel: NameFn = (n, prefix) => isDNS1123Label(prefix ? maskTrailingDash(n) : n);
export const nameIsDNS1035Label: NameFn = (n, prefix) => isDNS1035Label(prefix ? maskTrailingDash(n) : n);
const pathSegmentName: NameFn = (n, prefix) =>
  prefix ? isValidPathSegmentName(n) : isValidPathSegmentName(n);

export function validateLabels(labels: unknown, field: string): Errs {
  const errs: Errs = [];
  const m = asObj(labels);
  if (!m) return errs;
  for (const k of Object.keys(m).sort()) {
    for (const msg of isQualifiedName(k)) errs.push(fe.invalid(field, k, msg));
    const v = m[k];
    if (typeof v === 'string') for (const msg of isValidLabelValue(v)) errs.push(fe.invalid(field, v, msg));
  }
  return errs;
}

function validateAnnotations(annotations: unknown, field: string): Errs {
  const errs: Errs = [];
  const m = asObj(annotations);
  if (!m) return errs;
  let total = 0;
  for (const k of Object.keys(m).sort()) {
    for (const msg of isQualifiedName(k.toLowerCase())) errs.push(fe.invalid(field, k, msg));
    total += k.length + asStr(m[k]).length;
  }
  if (total > 256 * 1024) errs.push(fe.tooLong(field, 256 * 1024));
  return errs;
}

function validateOwnerReferences(refs: unknown, field: string): Errs {
  const errs: Errs = [];
  let controllers = 0;
  asArr(refs).forEach((r) => {
    const ref = asObj(r);
    if (!ref) return;
    if (!asStr(ref.apiVersion))
      errs.push(fe.invalid(`${field}.apiVersion`, asStr(ref.apiVersion), 'version must not be empty'));
    if (!asStr(ref.kind)) errs.push(fe.invalid(`${field}.kind`, asStr(ref.kind), 'kind must not be empty'));
    if (!asStr(ref.name)) errs.push(fe.invalid(`${field}.name`, asStr(ref.name), 'name must not be empty'));
    if (!asStr(ref.uid)) errs.push(fe.invalid(`${field}.uid`, asStr(ref.uid), 'uid must not be empty'));
    if (ref.controller === true) controllers++;
  });
  if (controllers > 1)
    errs.push(
      fe.invalid(
        field,
        new GoRepr('[]v1.OwnerReference{...}'),
        'Only one reference can have Controller set to true',
      ),
    );
  return errs;
}

function validateObjectMeta(meta: Obj | undefined, namespaced: boolean | undefined, nameFn: NameFn): Errs {
  const errs: Errs = [];
  const m = meta ?? {};
  const generateName = asStr(m.generateName);
  const name = asStr(m.name);
  if (generateName) {
    for (const msg of nameFn(generateName, true))
      errs.push(fe.invalid('metadata.generateName', generateName, msg));
  }
  if (!name) errs.push(fe.required('metadata.name', 'name or generateName is required'));
  else for (const msg of nameFn(name, false)) errs.push(fe.invalid('metadata.name', name, msg));
  const ns = asStr(m.namespace);
  if (namespaced) {
    if (!ns) errs.push(fe.required('metadata.namespace'));
    else for (const msg of nameIsDNSLabel(ns, false)) errs.push(fe.invalid('metadata.namespace', ns, msg));
  } else if (namespaced === false && ns) {
    errs.push(fe.forbidden('metadata.namespace', 'not allowed on this type'));
  }
  errs.push(...nonNegative(m.generation, 'metadata.generation'));
  errs.push(...validateLabels(m.labels, 'metadata.labels'));
  errs.push(...validateAnnotations(m.annotations, 'metadata.annotations'));
  errs.push(...validateOwnerReferences(m.ownerReferences, 'metadata.ownerReferences'));
  asArr(m.finalizers).forEach((f, i) => {
    const s = asStr(f);
    const msgs = isQualifiedName(s);
    for (const msg of msgs) errs.push(fe.invalid(`metadata.finalizers[${i}]`, s, msg));
    if (
      msgs.length === 0 &&
      !s.includes('/') &&
      !['kubernetes', 'orphan', 'foregroundDeletion'].includes(s)
    ) {
      errs.push(
        fe.invalid(
          `metadata.finalizers[${i}]`,
          s,
          'name is neither a standard finalizer name nor is it fully qualified',
        ),
      );
    }
  });
  return errs;
}

function validateObjectMetaUpdate(meta: Obj | undefined, old: Obj | undefined): Errs {
  const errs: Errs = [];
  const m = meta ?? {};
  const o = old ?? {};
  const immut = (key: string) => {
    const a = m[key];
    const b = o[key];
    if (a !== undefined && a !== '' && b !== undefined && b !== '' && a !== b)
      errs.push(fe.invalid(`metadata.${key}`, a, IMMUTABLE));
  };
  if (
    asNum(m.generation) !== undefined &&
    asNum(o.generation) !== undefined &&
    (m.generation as number) < (o.generation as number)
  )
    errs.push(fe.invalid('metadata.generation', m.generation, 'must not be decremented'));
  immut('name');
  immut('namespace');
  immut('uid');
  errs.push(...validateLabels(m.labels, 'metadata.labels'));
  errs.push(...validateAnnotations(m.annotations, 'metadata.annotations'));
  errs.push(...validateOwnerReferences(m.ownerReferences, 'metadata.ownerReferences'));
  return errs;
}

// ---------------------------------------------------------------------------------------------------------
// Label selectors

function validateLabelSelector(sel: Obj, field: string): Errs {
  const errs: Errs = [];
  asArr(sel.matchExpressions).forEach((r, i) => {
    const req = asObj(r) ?? {};
    const p = `${field}.matchExpressions[${i}]`;
    const op = asStr(req.operator);
    const values = asArr(req.values);
    switch (op) {
      case 'In':
      case 'NotIn':
        if (values.length === 0)
          errs.push(fe.required(`${p}.values`, "must be specified when `operator` is 'In' or 'NotIn'"));
        break;
      case 'Exists':
      case 'DoesNotExist':
        if (values.length > 0)
          errs.push(
            fe.forbidden(`${p}.values`, "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"),
          );
        break;
      default:
        errs.push(fe.invalid(`${p}.operator`, op, 'not a valid selector operator'));
    }
    for (const msg of isQualifiedName(asStr(req.key))) errs.push(fe.invalid(`${p}.key`, asStr(req.key), msg));
  });
  errs.push(...validateLabels(sel.matchLabels, `${field}.matchLabels`));
  return errs;
}

/** metav1.LabelSelectorAsSelector(...).Matches(labels) */
export function selectorMatches(sel: Obj, labels: Obj | undefined): boolean {
  const l = labels ?? {};
  for (const [k, v] of Object.entries(asObj(sel.matchLabels) ?? {})) if (l[k] !== v) return false;
  return asArr(sel.matchExpressions).every((r) => {
    const req = asObj(r) ?? {};
    const key = asStr(req.key);
    return expressionMatches(req.operator, key in l, String(l[key]), asArr(req.values).map(String));
  });
}

function selectorEmpty(sel: Obj): boolean {
  return Object.keys(asObj(sel.matchLabels) ?? {}).length + asArr(sel.matchExpressions).length === 0;
}

function selectorRepr(sel: unknown): GoRepr {
  const s = asObj(sel);
  if (!s) return new GoRepr('null');
  const exprs = asArr(s.matchExpressions);
  const ml = asObj(s.matchLabels);
  const exprText =
    exprs.length === 0 && !Array.isArray(s.matchExpressions)
      ? '[]v1.LabelSelectorRequirement(nil)'
      : `[]v1.LabelSelectorRequirement{${exprs
          .map((e) => {
            const r = asObj(e) ?? {};
            return `v1.LabelSelectorRequirement{Key:${goQuote(asStr(r.key))}, Operator:${goQuote(asStr(r.operator))}, Values:${goSlice(Array.isArray(r.values) ? r.values : null)}}`;
          })
          .join(', ')}}`;
  return new GoRepr(`v1.LabelSelector{MatchLabels:${goStringMap(ml)}, MatchExpressions:${exprText}}`);
}

// ---------------------------------------------------------------------------------------------------------
// Pods

const SUPPORTED_PROTOCOLS = ['SCTP', 'TCP', 'UDP'];

function validatePortNumOrName(port: unknown, field: string): Errs {
  if (typeof port === 'number') return isValidPortNum(port).map((m) => fe.invalid(field, port, m));
  if (typeof port === 'string') return isValidPortName(port).map((m) => fe.invalid(field, port, m));
  return [];
}

function validateHandler(h: Obj, field: string, withSleep: boolean): Errs {
  const errs: Errs = [];
  let n = 0;
  const kinds = withSleep
    ? ['exec', 'httpGet', 'tcpSocket', 'grpc', 'sleep']
    : ['exec', 'httpGet', 'tcpSocket', 'grpc'];
  for (const kind of kinds) {
    const v = asObj(h[kind]);
    if (!v) continue;
    if (n > 0) {
      errs.push(fe.forbidden(`${field}.${kind}`, 'may not specify more than 1 handler type'));
      continue;
    }
    n++;
    const p = `${field}.${kind}`;
    switch (kind) {
      case 'exec':
        if (asArr(v.command).length === 0) errs.push(fe.required(`${p}.command`));
        break;
      case 'httpGet': {
        if (!asStr(v.path)) errs.push(fe.required(`${p}.path`));
        errs.push(...validatePortNumOrName(v.port, `${p}.port`));
        const scheme = asStr(v.scheme);
        if (scheme !== 'HTTP' && scheme !== 'HTTPS')
          errs.push(fe.notSupported(`${p}.scheme`, scheme, ['HTTP', 'HTTPS']));
        break;
      }
      case 'tcpSocket':
        errs.push(...validatePortNumOrName(v.port, `${p}.port`));
        break;
      case 'grpc':
        errs.push(
          ...isValidPortNum(asNum(v.port) ?? 0).map((m) => fe.invalid(`${p}.port`, asNum(v.port) ?? 0, m)),
        );
        break;
      case 'sleep': {
        const s = asNum(v.seconds) ?? 0;
        if (s <= 0) errs.push(fe.invalid(`${p}.seconds`, s, 'must be greater than 0'));
        break;
      }
    }
  }
  if (n === 0) errs.push(fe.required(field, 'must specify a handler type'));
  return errs;
}

function validateProbe(probe: unknown, field: string, kind: 'liveness' | 'readiness' | 'startup'): Errs {
  const p = asObj(probe);
  if (!p) return [];
  const errs: Errs = [];
  errs.push(...validateHandler(p, field, false));
  for (const k of [
    'initialDelaySeconds',
    'timeoutSeconds',
    'periodSeconds',
    'successThreshold',
    'failureThreshold',
  ])
    errs.push(...nonNegative(p[k], `${field}.${k}`));
  const tgp = asNum(p.terminationGracePeriodSeconds);
  if (tgp !== undefined && tgp <= 0)
    errs.push(fe.invalid(`${field}.terminationGracePeriodSeconds`, tgp, 'must be greater than 0'));
  if (kind === 'readiness') {
    if (has(p, 'terminationGracePeriodSeconds'))
      errs.push(
        fe.invalid(`${field}.terminationGracePeriodSeconds`, tgp ?? 0, 'must not be set for readinessProbes'),
      );
  } else if ((asNum(p.successThreshold) ?? 1) !== 1) {
    errs.push(fe.invalid(`${field}.successThreshold`, p.successThreshold, 'must be 1'));
  }
  return errs;
}

function validateContainerPorts(ports: unknown, field: string): Errs {
  const errs: Errs = [];
  const names = new Set<string>();
  eachObject(ports, field, (port, p) => {
    const name = asStr(port.name);
    if (name) {
      const msgs = isValidPortName(name);
      if (msgs.length) for (const m of msgs) errs.push(fe.invalid(`${p}.name`, name, m));
      else if (names.has(name)) errs.push(fe.duplicate(`${p}.name`, name));
      else names.add(name);
    }
    const cp = asNum(port.containerPort) ?? 0;
    if (cp === 0) errs.push(fe.required(`${p}.containerPort`));
    else for (const m of isValidPortNum(cp)) errs.push(fe.invalid(`${p}.containerPort`, cp, m));
    const hp = asNum(port.hostPort) ?? 0;
    if (hp !== 0) for (const m of isValidPortNum(hp)) errs.push(fe.invalid(`${p}.hostPort`, hp, m));
    const proto = asStr(port.protocol);
    if (!proto) errs.push(fe.required(`${p}.protocol`));
    else if (!SUPPORTED_PROTOCOLS.includes(proto))
      errs.push(fe.notSupported(`${p}.protocol`, proto, SUPPORTED_PROTOCOLS));
  });
  return errs;
}

const ENV_FIELD_PATHS = [
  'metadata.annotations',
  'metadata.labels',
  'metadata.name',
  'metadata.namespace',
  'metadata.uid',
  'spec.nodeName',
  'spec.serviceAccountName',
  'status.hostIP',
  'status.hostIPs',
  'status.podIP',
  'status.podIPs',
];

function validateEnv(env: unknown, field: string): Errs {
  const errs: Errs = [];
  eachObject(env, field, (ev, p) => {
    const name = asStr(ev.name);
    if (!name) errs.push(fe.required(`${p}.name`));
    else for (const m of isRelaxedEnvVarName(name)) errs.push(fe.invalid(`${p}.name`, name, m));
    const from = asObj(ev.valueFrom);
    if (!from) return;
    const vp = `${p}.valueFrom`;
    const sources = ['fieldRef', 'resourceFieldRef', 'configMapKeyRef', 'secretKeyRef'].filter((k) =>
      has(from, k),
    );
    if (sources.length === 0) {
      errs.push(
        fe.invalid(
          vp,
          '',
          'must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`',
        ),
      );
      return;
    }
    if (asStr(ev.value) !== '') {
      errs.push(fe.invalid(vp, '', 'may not be specified when `value` is not empty'));
      return;
    }
    if (sources.length > 1) {
      errs.push(fe.invalid(vp, '', 'may not have more than one field specified at a time'));
      return;
    }
    const fr = asObj(from.fieldRef);
    if (fr) {
      const fp = asStr(fr.fieldPath);
      if (!fp) errs.push(fe.required(`${vp}.fieldRef.fieldPath`));
      else if (!ENV_FIELD_PATHS.includes(fp) && !/^metadata\.(labels|annotations)\['.+'\]$/.test(fp))
        errs.push(fe.notSupported(`${vp}.fieldRef.fieldPath`, fp, ENV_FIELD_PATHS));
    }
    for (const k of ['configMapKeyRef', 'secretKeyRef']) {
      const ref = asObj(from[k]);
      if (!ref) continue;
      if (!asStr(ref.name)) errs.push(fe.required(`${vp}.${k}.name`));
      const key = asStr(ref.key);
      if (!key) errs.push(fe.required(`${vp}.${k}.key`));
      else for (const m of isConfigMapKey(key)) errs.push(fe.invalid(`${vp}.${k}.key`, key, m));
    }
  });
  return errs;
}

const STANDARD_CONTAINER_RESOURCES = ['cpu', 'memory', 'ephemeral-storage'];

function quantityString(v: unknown): string {
  try {
    return canonicalizeQuantityValue(v);
  } catch {
    return String(v);
  }
}

function quantityValue(v: unknown): number | undefined {
  try {
    return quantityToNumber(parseQuantity(String(v)));
  } catch {
    return undefined;
  }
}

function validateResources(res: unknown, field: string): Errs {
  const errs: Errs = [];
  const r = asObj(res);
  if (!r) return errs;
  const limits = asObj(r.limits) ?? {};
  const requests = asObj(r.requests) ?? {};
  const checkName = (name: string, p: string) => {
    for (const m of isQualifiedName(name)) errs.push(fe.invalid(p, name, m));
    if (!name.includes('/') && !STANDARD_CONTAINER_RESOURCES.includes(name) && !name.startsWith('hugepages-'))
      errs.push(fe.invalid(p, name, 'must be a standard resource for containers'));
  };
  for (const name of Object.keys(limits).sort()) {
    const p = `${field}.limits[${name}]`;
    checkName(name, p);
    const n = quantityValue(limits[name]);
    if (n !== undefined && n < 0) errs.push(fe.invalid(p, quantityString(limits[name]), NEGATIVE));
  }
  for (const name of Object.keys(requests).sort()) {
    const p = `${field}.requests[${name}]`;
    checkName(name, p);
    const n = quantityValue(requests[name]);
    if (n !== undefined && n < 0) errs.push(fe.invalid(p, quantityString(requests[name]), NEGATIVE));
    if (name in limits) {
      const l = quantityValue(limits[name]);
      const overcommit =
        !name.startsWith('hugepages-') &&
        (STANDARD_CONTAINER_RESOURCES.includes(name) || !name.includes('/'));
      if (n !== undefined && l !== undefined) {
        if (!overcommit && n !== l)
          errs.push(
            fe.invalid(
              `${field}.requests`,
              quantityString(requests[name]),
              `must be equal to ${name} limit of ${quantityString(limits[name])}`,
            ),
          );
        else if (n > l)
          errs.push(
            fe.invalid(
              `${field}.requests`,
              quantityString(requests[name]),
              `must be less than or equal to ${name} limit of ${quantityString(limits[name])}`,
            ),
          );
      }
    }
  }
  return errs;
}

function validateVolumeMounts(mounts: unknown, volumes: Set<string>, field: string): Errs {
  const errs: Errs = [];
  const paths = new Set<string>();
  eachObject(mounts, field, (m, p) => {
    const name = asStr(m.name);
    if (!name) errs.push(fe.required(`${p}.name`));
    if (!volumes.has(name)) errs.push(fe.notFound(`${p}.name`, name));
    const mp = asStr(m.mountPath);
    if (!mp) errs.push(fe.required(`${p}.mountPath`));
    if (paths.has(mp)) errs.push(fe.invalid(`${p}.mountPath`, mp, 'must be unique'));
    paths.add(mp);
    const sub = asStr(m.subPath);
    if (sub) {
      if (sub.startsWith('/')) errs.push(fe.invalid(`${p}.subPath`, sub, 'must be a relative path'));
      if (sub.split('/').includes('..')) errs.push(fe.invalid(`${p}.subPath`, sub, "must not contain '..'"));
    }
  });
  return errs;
}

const PULL_POLICIES = ['Always', 'IfNotPresent', 'Never'];

function validateContainer(c: Obj, p: string, volumes: Set<string>): Errs {
  const errs: Errs = [];
  const name = asStr(c.name);
  if (!name) errs.push(fe.required(`${p}.name`));
  else for (const m of isDNS1123Label(name)) errs.push(fe.invalid(`${p}.name`, name, m));
  if (!asStr(c.image)) errs.push(fe.required(`${p}.image`));
  const tmp = asStr(c.terminationMessagePolicy);
  if (!tmp) errs.push(fe.required(`${p}.terminationMessagePolicy`));
  else if (tmp !== 'File' && tmp !== 'FallbackToLogsOnError')
    errs.push(fe.notSupported(`${p}.terminationMessagePolicy`, tmp, ['File', 'FallbackToLogsOnError']));
  errs.push(...validateContainerPorts(c.ports, `${p}.ports`));
  errs.push(...validateEnv(c.env, `${p}.env`));
  errs.push(...validateVolumeMounts(c.volumeMounts, volumes, `${p}.volumeMounts`));
  const pp = asStr(c.imagePullPolicy);
  if (!pp) errs.push(fe.required(`${p}.imagePullPolicy`));
  else if (!PULL_POLICIES.includes(pp)) errs.push(fe.notSupported(`${p}.imagePullPolicy`, pp, PULL_POLICIES));
  errs.push(...validateResources(c.resources, `${p}.resources`));
  return errs;
}

function validateContainers(
  list: unknown,
  field: string,
  volumes: Set<string>,
  init: boolean,
  others: Set<string>,
): Errs {
  const errs: Errs = [];
  const containers = asArr(list);
  if (containers.length === 0) {
    if (!init) errs.push(fe.required(field));
    return errs;
  }
  containers.forEach((x, i) => {
    const c = asObj(x) ?? {};
    const p = `${field}[${i}]`;
    errs.push(...validateContainer(c, p, volumes));
    const name = asStr(c.name);
    if (others.has(name)) errs.push(fe.duplicate(`${p}.name`, name));
    else others.add(name);
    if (!init) {
      const lc = asObj(c.lifecycle);
      if (lc) {
        for (const k of ['postStart', 'preStop']) {
          const h = asObj(lc[k]);
          if (h) errs.push(...validateHandler(h, `${p}.lifecycle.${k}`, true));
        }
      }
      errs.push(...validateProbe(c.livenessProbe, `${p}.livenessProbe`, 'liveness'));
      errs.push(...validateProbe(c.readinessProbe, `${p}.readinessProbe`, 'readiness'));
      errs.push(...validateProbe(c.startupProbe, `${p}.startupProbe`, 'startup'));
      if (has(c, 'restartPolicy'))
        errs.push(fe.forbidden(`${p}.restartPolicy`, 'may not be set for non-init containers'));
    }
  });
  return errs;
}

function validateVolumes(list: unknown, field: string): { errs: Errs; names: Set<string> } {
  const errs: Errs = [];
  const names = new Set<string>();
  eachObject(list, field, (v, p) => {
    const el: Errs = [];
    const sources = VOLUME_SOURCES.filter((k) => has(v, k));
    if (sources.length === 0) el.push(fe.required(p, 'must specify a volume type'));
    for (const extra of sources.slice(1))
      el.push(fe.forbidden(`${p}.${extra}`, 'may not specify more than 1 volume type'));
    const first = sources[0];
    const src = first ? (asObj(v[first]) ?? {}) : {};
    if (first === 'configMap' && !asStr(src.name)) el.push(fe.required(`${p}.configMap.name`));
    if (first === 'secret' && !asStr(src.secretName)) el.push(fe.required(`${p}.secret.secretName`));
    if (first === 'persistentVolumeClaim' && !asStr(src.claimName))
      el.push(fe.required(`${p}.persistentVolumeClaim.claimName`));
    if (first === 'hostPath' && !asStr(src.path)) el.push(fe.required(`${p}.hostPath.path`));
    const mode = asNum(src.defaultMode);
    if (mode !== undefined && (mode < 0 || mode > 0o777))
      el.push(
        fe.invalid(
          `${p}.${first}.defaultMode`,
          mode,
          'must be a number between 0 and 0777 (octal), both inclusive',
        ),
      );
    const name = asStr(v.name);
    if (!name) el.push(fe.required(`${p}.name`));
    else for (const m of isDNS1123Label(name)) el.push(fe.invalid(`${p}.name`, name, m));
    if (names.has(name)) el.push(fe.duplicate(`${p}.name`, name));
    if (el.length === 0) names.add(name);
    else errs.push(...el);
  });
  return { errs, names };
}

const RESTART_POLICIES = ['Always', 'OnFailure', 'Never'];
const DNS_POLICIES = ['ClusterFirstWithHostNet', 'ClusterFirst', 'Default', 'None'];

function validatePodSpec(spec: Obj, field: string): Errs {
  const errs: Errs = [];
  const vols = validateVolumes(spec.volumes, `${field}.volumes`);
  errs.push(...vols.errs);
  const names = new Set<string>();
  errs.push(...validateContainers(spec.containers, `${field}.containers`, vols.names, false, names));
  errs.push(...validateContainers(spec.initContainers, `${field}.initContainers`, vols.names, true, names));
  const rp = asStr(spec.restartPolicy);
  if (!rp) errs.push(fe.required(`${field}.restartPolicy`));
  else if (!RESTART_POLICIES.includes(rp))
    errs.push(fe.notSupported(`${field}.restartPolicy`, rp, RESTART_POLICIES));
  const dp = asStr(spec.dnsPolicy);
  if (!dp) errs.push(fe.required(`${field}.dnsPolicy`));
  else if (!DNS_POLICIES.includes(dp)) errs.push(fe.notSupported(`${field}.dnsPolicy`, dp, DNS_POLICIES));
  errs.push(...validateLabels(spec.nodeSelector, `${field}.nodeSelector`));
  asArr(spec.imagePullSecrets).forEach((x, i) => {
    if (!asStr(asObj(x)?.name)) errs.push(fe.required(`${field}.imagePullSecrets[${i}].name`));
  });
  const sa = asStr(spec.serviceAccountName);
  if (sa)
    for (const m of nameIsDNSSubdomain(sa, false))
      errs.push(fe.invalid(`${field}.serviceAccountName`, sa, m));
  const ads = asNum(spec.activeDeadlineSeconds);
  if (ads !== undefined && (ads < 1 || ads > 2 ** 32 - 1))
    errs.push(
      fe.invalid(`${field}.activeDeadlineSeconds`, ads, 'must be between 1 and 4294967295, inclusive'),
    );
  for (const k of ['hostname', 'subdomain']) {
    const v = asStr(spec[k]);
    if (v) for (const m of isDNS1123Label(v)) errs.push(fe.invalid(`${field}.${k}`, v, m));
  }
  errs.push(...nonNegative(spec.terminationGracePeriodSeconds, `${field}.terminationGracePeriodSeconds`));
  return errs;
}

function validatePodTemplateSpec(tmpl: Obj | undefined, field: string): Errs {
  const errs: Errs = [];
  const t = tmpl ?? {};
  const meta = asObj(t.metadata) ?? {};
  errs.push(...validateLabels(meta.labels, `${field}.labels`));
  errs.push(...validateAnnotations(meta.annotations, `${field}.annotations`));
  errs.push(...validatePodSpec(asObj(t.spec) ?? {}, `${field}.spec`));
  if (asArr(asObj(t.spec)?.ephemeralContainers).length > 0)
    errs.push(
      fe.forbidden(`${field}.spec.ephemeralContainers`, 'ephemeral containers not allowed in pod template'),
    );
  return errs;
}

function validateTemplateForReplicaSet(
  tmpl: Obj | undefined,
  selector: Obj | undefined,
  field: string,
): Errs {
  const errs: Errs = [];
  if (!tmpl) return [fe.required(field)];
  const labels = asObj(asObj(tmpl.metadata)?.labels);
  if (selector && !selectorEmpty(selector) && !selectorMatches(selector, labels)) {
    errs.push(
      fe.invalid(
        `${field}.metadata.labels`,
        new GoRepr(goStringMap(labels)),
        '`selector` does not match template `labels`',
      ),
    );
  }
  errs.push(...validatePodTemplateSpec(tmpl, field));
  const spec = asObj(tmpl.spec) ?? {};
  const rp = asStr(spec.restartPolicy);
  if (rp !== 'Always') errs.push(fe.notSupported(`${field}.spec.restartPolicy`, rp, ['Always']));
  if (has(spec, 'activeDeadlineSeconds'))
    errs.push(
      fe.forbidden(
        `${field}.spec.activeDeadlineSeconds`,
        'activeDeadlineSeconds in ReplicaSet is not Supported',
      ),
    );
  return errs;
}

/** A workload's selector (required, and not empty for `what`) and the pod template it must select. */
function selectorAndTemplate(spec: Obj, what: string): Errs {
  return [
    ...validateSelector(spec, 'spec', what),
    ...validateTemplateForReplicaSet(asObj(spec.template), asObj(spec.selector), 'spec.template'),
  ];
}

function validateSelector(spec: Obj, field: string, what: string): Errs {
  const errs: Errs = [];
  const sel = asObj(spec.selector);
  if (!sel) errs.push(fe.required(`${field}.selector`));
  else {
    errs.push(...validateLabelSelector(sel, `${field}.selector`));
    if (selectorEmpty(sel))
      errs.push(fe.invalid(`${field}.selector`, selectorRepr(sel), `empty selector is invalid for ${what}`));
  }
  return errs;
}

function percentOrInt(v: unknown, field: string): Errs {
  if (typeof v === 'string') {
    if (!/^[0-9]+%$/.test(v))
      return [
        fe.invalid(
          field,
          new GoRepr(v),
          "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')",
        ),
      ];
    return [];
  }
  return nonNegative(v, field);
}

function intOrPercentValue(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && /^[0-9]+%$/.test(v)) return Number.parseInt(v, 10);
  return -1;
}

function validateDeploymentStrategy(s: Obj | undefined, field: string): Errs {
  const errs: Errs = [];
  const strategy = s ?? {};
  const type = asStr(strategy.type);
  if (type === 'Recreate') {
    if (has(strategy, 'rollingUpdate'))
      errs.push(
        fe.forbidden(`${field}.rollingUpdate`, "may not be specified when strategy `type` is 'Recreate'"),
      );
  } else if (type === 'RollingUpdate') {
    const ru = asObj(strategy.rollingUpdate);
    if (!ru) errs.push(fe.required(`${field}.rollingUpdate`, 'this should be defaulted and never be nil'));
    else {
      const p = `${field}.rollingUpdate`;
      errs.push(...percentOrInt(ru.maxUnavailable, `${p}.maxUnavailable`));
      errs.push(...percentOrInt(ru.maxSurge, `${p}.maxSurge`));
      if (intOrPercentValue(ru.maxUnavailable) === 0 && intOrPercentValue(ru.maxSurge) === 0)
        errs.push(
          fe.invalid(
            `${p}.maxUnavailable`,
            new GoRepr(String(ru.maxUnavailable)),
            'may not be 0 when `maxSurge` is 0',
          ),
        );
      if (typeof ru.maxUnavailable === 'string' && intOrPercentValue(ru.maxUnavailable) > 100)
        errs.push(
          fe.invalid(`${p}.maxUnavailable`, new GoRepr(ru.maxUnavailable), 'must not be greater than 100%'),
        );
    }
  } else {
    errs.push(fe.notSupported(`${field}.type`, type, ['Recreate', 'RollingUpdate']));
  }
  return errs;
}

function validateDeployment(o: Obj, old: Obj | undefined): Errs {
  const spec = asObj(o.spec) ?? {};
  const errs: Errs = [];
  errs.push(...nonNegativeSpec(spec, 'replicas'));
  errs.push(...selectorAndTemplate(spec, 'deployment'));
  errs.push(...validateDeploymentStrategy(asObj(spec.strategy), 'spec.strategy'));
  errs.push(...nonNegativeSpec(spec, 'minReadySeconds', 'revisionHistoryLimit'));
  const pds = asNum(spec.progressDeadlineSeconds);
  if (pds !== undefined) {
    errs.push(...nonNegative(pds, 'spec.progressDeadlineSeconds'));
    if (pds <= (asNum(spec.minReadySeconds) ?? 0))
      errs.push(fe.invalid('spec.progressDeadlineSeconds', pds, 'must be greater than minReadySeconds'));
  }
  errs.push(...selectorImmutable(spec, old));
  return errs;
}

function selectorImmutable(spec: Obj, old: Obj | undefined): Errs {
  if (!old) return [];
  const oldSel = asObj(old.spec)?.selector;
  if (JSON.stringify(canon(spec.selector)) !== JSON.stringify(canon(oldSel)))
    return [fe.invalid('spec.selector', selectorRepr(spec.selector), IMMUTABLE)];
  return [];
}

function canon(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canon);
  if (isObject(v)) {
    const out: Obj = {};
    for (const k of Object.keys(v).sort()) {
      const c = v[k];
      if (c === null || c === undefined) continue;
      if (isObject(c) && Object.keys(c).length === 0) continue;
      out[k] = canon(c);
    }
    return out;
  }
  return v;
}

function validateReplicaSet(o: Obj, old: Obj | undefined): Errs {
  const spec = asObj(o.spec) ?? {};
  return [
    ...nonNegativeSpec(spec, 'replicas', 'minReadySeconds'),
    ...selectorAndTemplate(spec, 'deployment'),
    ...selectorImmutable(spec, old),
  ];
}

function validateStatefulSet(o: Obj, old: Obj | undefined): Errs {
  const spec = asObj(o.spec) ?? {};
  const errs: Errs = [];
  const pmp = asStr(spec.podManagementPolicy);
  if (pmp !== 'OrderedReady' && pmp !== 'Parallel')
    errs.push(fe.invalid('spec.podManagementPolicy', pmp, "must be 'OrderedReady' or 'Parallel'"));
  const us = asObj(spec.updateStrategy) ?? {};
  const ut = asStr(us.type);
  if (ut !== 'RollingUpdate' && ut !== 'OnDelete')
    errs.push(fe.invalid('spec.updateStrategy', new GoRepr(ut), "must be 'RollingUpdate' or 'OnDelete'"));
  errs.push(...nonNegativeSpec(spec, 'replicas', 'minReadySeconds'));
  errs.push(...selectorAndTemplate(spec, 'statefulset'));
  errs.push(...selectorImmutable(spec, old));
  return errs;
}

function validateDaemonSet(o: Obj, old: Obj | undefined): Errs {
  const spec = asObj(o.spec) ?? {};
  return [
    ...selectorAndTemplate(spec, 'daemonset'),
    ...nonNegativeSpec(spec, 'minReadySeconds', 'revisionHistoryLimit'),
    ...selectorImmutable(spec, old),
  ];
}

function validatePod(o: Obj): Errs {
  const errs = validatePodSpec(asObj(o.spec) ?? {}, 'spec');
  if (asArr(asObj(o.spec)?.ephemeralContainers).length > 0)
    errs.push(fe.forbidden('spec.ephemeralContainers', 'cannot be set on create'));
  return errs;
}

function validateJob(o: Obj): Errs {
  const spec = asObj(o.spec) ?? {};
  const errs: Errs = [];
  errs.push(...nonNegativeSpec(spec, 'parallelism', 'completions', 'backoffLimit'));
  const ads = asNum(spec.activeDeadlineSeconds);
  if (ads !== undefined && ads <= 0)
    errs.push(fe.invalid('spec.activeDeadlineSeconds', ads, 'must be greater than 0'));
  const tmpl = asObj(spec.template) ?? {};
  errs.push(...validatePodTemplateSpec(tmpl, 'spec.template'));
  const rp = asStr(asObj(tmpl.spec)?.restartPolicy);
  if (rp !== 'OnFailure' && rp !== 'Never')
    errs.push(fe.notSupported('spec.template.spec.restartPolicy', rp, ['OnFailure', 'Never']));
  return errs;
}

function validateCronJob(o: Obj): Errs {
  const errs: Errs = [];
  const name = asStr(asObj(o.metadata)?.name);
  if (name.length > 52) errs.push(fe.invalid('metadata.name', name, 'must be no more than 52 characters'));
  const spec = asObj(o.spec) ?? {};
  const schedule = asStr(spec.schedule);
  if (!schedule) errs.push(fe.required('spec.schedule'));
  const cp = asStr(spec.concurrencyPolicy);
  if (!['Allow', 'Forbid', 'Replace'].includes(cp))
    errs.push(fe.notSupported('spec.concurrencyPolicy', cp, ['Allow', 'Forbid', 'Replace']));
  errs.push(
    ...nonNegativeSpec(
      spec,
      'startingDeadlineSeconds',
      'successfulJobsHistoryLimit',
      'failedJobsHistoryLimit',
    ),
  );
  const jt = asObj(asObj(spec.jobTemplate)?.spec) ?? {};
  const tmpl = asObj(jt.template) ?? {};
  errs.push(...validatePodTemplateSpec(tmpl, 'spec.jobTemplate.spec.template'));
  const rp = asStr(asObj(tmpl.spec)?.restartPolicy);
  if (rp !== 'OnFailure' && rp !== 'Never')
    errs.push(
      fe.notSupported('spec.jobTemplate.spec.template.spec.restartPolicy', rp, ['OnFailure', 'Never']),
    );
  return errs;
}

// ---------------------------------------------------------------------------------------------------------
// Services

function servicePortRepr(p: Obj): GoRepr {
  return new GoRepr(
    `core.ServicePort{Name:"", Protocol:${goQuote(asStr(p.protocol))}, AppProtocol:(*string)(nil), Port:${asNum(p.port) ?? 0}, TargetPort:intstr.IntOrString{Type:0, IntVal:0, StrVal:""}, NodePort:0}`,
  );
}

function validateService(o: Obj): Errs {
  const errs: Errs = [];
  const spec = asObj(o.spec) ?? {};
  const ports = asArr(spec.ports);
  const type = asStr(spec.type);
  const headless = spec.clusterIP === 'None';
  if (ports.length === 0 && !headless && type !== 'ExternalName') errs.push(fe.required('spec.ports'));
  if (type === 'ExternalName') {
    if (asArr(spec.clusterIPs).length > 0)
      errs.push(fe.forbidden('spec.clusterIPs', 'may not be set for ExternalName services'));
    if (asArr(spec.ipFamilies).length > 0)
      errs.push(fe.forbidden('spec.ipFamilies', 'may not be set for ExternalName services'));
    if (has(spec, 'ipFamilyPolicy'))
      errs.push(fe.forbidden('spec.ipFamilyPolicy', 'may not be set for ExternalName services'));
    const cname = asStr(spec.externalName).replace(/\.$/, '');
    if (cname)
      for (const m of isDNS1123Subdomain(cname)) errs.push(fe.invalid('spec.externalName', cname, m));
    else errs.push(fe.required('spec.externalName'));
  } else if ((type === 'LoadBalancer' || type === 'NodePort') && headless) {
    errs.push(fe.invalid('spec.clusterIPs[0]', 'None', `may not be set to 'None' for ${type} services`));
  }
  const names = new Set<string>();
  ports.forEach((x, i) => {
    const sp = asObj(x) ?? {};
    const p = `spec.ports[${i}]`;
    const name = asStr(sp.name);
    if (ports.length > 1 && !name) errs.push(fe.required(`${p}.name`));
    else if (name) {
      for (const m of isDNS1123Label(name)) errs.push(fe.invalid(`${p}.name`, name, m));
      if (names.has(name)) errs.push(fe.duplicate(`${p}.name`, name));
      else names.add(name);
    }
    const port = asNum(sp.port) ?? 0;
    for (const m of isValidPortNum(port)) errs.push(fe.invalid(`${p}.port`, port, m));
    const proto = asStr(sp.protocol);
    if (!proto) errs.push(fe.required(`${p}.protocol`));
    else if (!SUPPORTED_PROTOCOLS.includes(proto))
      errs.push(fe.notSupported(`${p}.protocol`, proto, SUPPORTED_PROTOCOLS));
    errs.push(...validatePortNumOrName(sp.targetPort, `${p}.targetPort`));
    if (typeof sp.appProtocol === 'string')
      for (const m of isQualifiedName(sp.appProtocol))
        errs.push(fe.invalid(`${p}.appProtocol`, sp.appProtocol, m));
  });
  if (isObject(spec.selector)) errs.push(...validateLabels(spec.selector, 'spec.selector'));
  const sa = asStr(spec.sessionAffinity);
  if (!sa) errs.push(fe.required('spec.sessionAffinity'));
  else if (sa !== 'ClientIP' && sa !== 'None')
    errs.push(fe.notSupported('spec.sessionAffinity', sa, ['ClientIP', 'None']));
  if (sa === 'None' && has(spec, 'sessionAffinityConfig'))
    errs.push(fe.forbidden('spec.sessionAffinityConfig', 'must not be set when session affinity is None'));
  const types = ['ClusterIP', 'ExternalName', 'LoadBalancer', 'NodePort'];
  if (!type) errs.push(fe.required('spec.type'));
  else if (!types.includes(type)) errs.push(fe.notSupported('spec.type', type, types));
  if (type === 'ClusterIP') {
    ports.forEach((x, i) => {
      if ((asNum(asObj(x)?.nodePort) ?? 0) !== 0)
        errs.push(fe.forbidden(`spec.ports[${i}].nodePort`, "may not be used when `type` is 'ClusterIP'"));
    });
  }
  const nodePorts = new Set<string>();
  ports.forEach((x, i) => {
    const sp = asObj(x) ?? {};
    const np = asNum(sp.nodePort) ?? 0;
    if (np === 0) return;
    const key = `${asStr(sp.protocol)}/${np}`;
    if (nodePorts.has(key)) errs.push(fe.duplicate(`spec.ports[${i}].nodePort`, np));
    nodePorts.add(key);
  });
  const seen = new Set<string>();
  ports.forEach((x, i) => {
    const sp = asObj(x) ?? {};
    const key = `${asStr(sp.protocol)}/${asNum(sp.port) ?? 0}`;
    if (seen.has(key)) errs.push(fe.duplicate(`spec.ports[${i}]`, servicePortRepr(sp)));
    seen.add(key);
  });
  return errs;
}

// ---------------------------------------------------------------------------------------------------------
// Config, RBAC, networking, storage

const MAX_SECRET_SIZE = 1024 * 1024;

function validateConfigMap(o: Obj, old: Obj | undefined): Errs {
  const errs: Errs = [];
  const data = asObj(o.data) ?? {};
  const bin = asObj(o.binaryData) ?? {};
  let total = 0;
  for (const key of Object.keys(data).sort()) {
    for (const m of isConfigMapKey(key)) errs.push(fe.invalid(`data[${key}]`, key, m));
    if (key in bin) errs.push(fe.invalid(`data[${key}]`, key, 'duplicate of key present in binaryData'));
    total += Buffer.byteLength(asStr(data[key]));
  }
  for (const key of Object.keys(bin).sort()) {
    for (const m of isConfigMapKey(key)) errs.push(fe.invalid(`binaryData[${key}]`, key, m));
    total += Math.floor((asStr(bin[key]).length * 3) / 4);
  }
  if (total > MAX_SECRET_SIZE) errs.push(fe.tooLong('', MAX_SECRET_SIZE));
  if (old && old.immutable === true) {
    if (o.immutable !== true)
      errs.push(fe.forbidden('immutable', 'field is immutable when `immutable` is set'));
    if (JSON.stringify(canon(o.data)) !== JSON.stringify(canon(old.data)))
      errs.push(fe.forbidden('data', 'field is immutable when `immutable` is set'));
    if (JSON.stringify(canon(o.binaryData)) !== JSON.stringify(canon(old.binaryData)))
      errs.push(fe.forbidden('binaryData', 'field is immutable when `immutable` is set'));
  }
  return errs;
}

function validateSecret(o: Obj, old: Obj | undefined): Errs {
  const errs: Errs = [];
  const data = asObj(o.data) ?? {};
  let total = 0;
  for (const key of Object.keys(data).sort()) {
    for (const m of isConfigMapKey(key)) errs.push(fe.invalid(`data[${key}]`, key, m));
    total += Math.floor((asStr(data[key]).length * 3) / 4);
  }
  if (total > MAX_SECRET_SIZE) errs.push(fe.tooLong('data', MAX_SECRET_SIZE));
  const need = (k: string) => {
    if (!(k in data)) errs.push(fe.required(`data[${k}]`));
  };
  switch (asStr(o.type)) {
    case 'kubernetes.io/service-account-token':
      if (!asStr(asObj(asObj(o.metadata)?.annotations)?.['kubernetes.io/service-account.name']))
        errs.push(fe.required('metadata.annotations[kubernetes.io/service-account.name]'));
      break;
    case 'kubernetes.io/dockercfg':
      need('.dockercfg');
      break;
    case 'kubernetes.io/dockerconfigjson':
      need('.dockerconfigjson');
      break;
    case 'kubernetes.io/basic-auth':
      if (!('username' in data) && !('password' in data)) {
        need('username');
        need('password');
      }
      break;
    case 'kubernetes.io/ssh-auth':
      if (!asStr(data['ssh-privatekey'])) errs.push(fe.required('data[ssh-privatekey]'));
      break;
    case 'kubernetes.io/tls':
      need('tls.crt');
      need('tls.key');
      break;
  }
  if (old) {
    if (asStr(o.type) !== asStr(old.type)) errs.push(fe.invalid('type', asStr(o.type), IMMUTABLE));
    if (old.immutable === true) {
      if (o.immutable !== true)
        errs.push(fe.forbidden('immutable', 'field is immutable when `immutable` is set'));
      if (JSON.stringify(canon(o.data)) !== JSON.stringify(canon(old.data)))
        errs.push(fe.forbidden('data', 'field is immutable when `immutable` is set'));
    }
  }
  return errs;
}

function validatePolicyRules(rules: unknown, namespaced: boolean): Errs {
  const errs: Errs = [];
  eachObject(rules, 'rules', (r, p) => {
    if (asArr(r.verbs).length === 0)
      errs.push(fe.required(`${p}.verbs`, 'verbs must contain at least one value'));
    const urls = asArr(r.nonResourceURLs);
    if (urls.length > 0) {
      if (namespaced)
        errs.push(
          fe.invalid(
            `${p}.nonResourceURLs`,
            new GoRepr(goSlice(urls)),
            'namespaced rules cannot apply to non-resource URLs',
          ),
        );
      if (asArr(r.apiGroups).length > 0 || asArr(r.resources).length > 0 || asArr(r.resourceNames).length > 0)
        errs.push(
          fe.invalid(
            `${p}.nonResourceURLs`,
            new GoRepr(goSlice(urls)),
            'rules cannot apply to both regular resources and non-resource URLs',
          ),
        );
      return;
    }
    if (asArr(r.apiGroups).length === 0)
      errs.push(fe.required(`${p}.apiGroups`, 'resource rules must supply at least one api group'));
    if (asArr(r.resources).length === 0)
      errs.push(fe.required(`${p}.resources`, 'resource rules must supply at least one resource'));
  });
  return errs;
}

const RBAC_GROUP = 'rbac.authorization.k8s.io';

function validateRoleBinding(o: Obj, namespaced: boolean, old: Obj | undefined): Errs {
  const errs: Errs = [];
  const ref = asObj(o.roleRef) ?? {};
  const group = asStr(ref.apiGroup);
  if (group !== RBAC_GROUP) errs.push(fe.notSupported('roleRef.apiGroup', group, [RBAC_GROUP]));
  const kind = asStr(ref.kind);
  const kinds = namespaced ? ['Role', 'ClusterRole'] : ['ClusterRole'];
  if (!kinds.includes(kind)) errs.push(fe.notSupported('roleRef.kind', kind, kinds));
  const name = asStr(ref.name);
  if (!name) errs.push(fe.required('roleRef.name'));
  else for (const m of isValidPathSegmentName(name)) errs.push(fe.invalid('roleRef.name', name, m));
  eachObject(o.subjects, 'subjects', (s, p) => {
    const sname = asStr(s.name);
    if (!sname) errs.push(fe.required(`${p}.name`));
    const sgroup = asStr(s.apiGroup);
    switch (asStr(s.kind)) {
      case 'ServiceAccount':
        if (sname)
          for (const m of nameIsDNSSubdomain(sname, false)) errs.push(fe.invalid(`${p}.name`, sname, m));
        if (sgroup) errs.push(fe.notSupported(`${p}.apiGroup`, sgroup, ['']));
        if (!namespaced && !asStr(s.namespace)) errs.push(fe.required(`${p}.namespace`));
        break;
      case 'User':
      case 'Group':
        if (sgroup !== RBAC_GROUP) errs.push(fe.notSupported(`${p}.apiGroup`, sgroup, [RBAC_GROUP]));
        break;
      default:
        errs.push(fe.notSupported(`${p}.kind`, asStr(s.kind), ['ServiceAccount', 'User', 'Group']));
    }
  });
  if (old) {
    const oref = asObj(old.roleRef) ?? {};
    if (asStr(oref.apiGroup) !== group || asStr(oref.kind) !== kind || asStr(oref.name) !== name) {
      errs.push(
        fe.invalid(
          'roleRef',
          new GoRepr(
            `rbac.RoleRef{APIGroup:${goQuote(group)}, Kind:${goQuote(kind)}, Name:${goQuote(name)}}`,
          ),
          'cannot change roleRef',
        ),
      );
    }
  }
  return errs;
}

const PATH_TYPES = ['Exact', 'ImplementationSpecific', 'Prefix'];

function validateIngressBackend(b: Obj, field: string): Errs {
  const errs: Errs = [];
  const svc = asObj(b.service);
  const res = asObj(b.resource);
  if (svc && res) return [fe.invalid(field, '', 'cannot set both resource and service backends')];
  if (res) {
    if (!asStr(res.kind)) errs.push(fe.required(`${field}.resource.kind`));
    if (!asStr(res.name)) errs.push(fe.required(`${field}.resource.name`));
    return errs;
  }
  if (!svc) return [fe.invalid(field, '', 'resource or service backend is required')];
  const name = asStr(svc.name);
  if (!name) errs.push(fe.required(`${field}.service.name`));
  else
    for (const m of nameIsDNS1035Label(name, false)) errs.push(fe.invalid(`${field}.service.name`, name, m));
  const port = asObj(svc.port) ?? {};
  const pname = asStr(port.name);
  const pnum = asNum(port.number) ?? 0;
  if (pname && pnum) errs.push(fe.invalid(field, '', 'cannot set both port name & port number'));
  else if (pname)
    for (const m of isValidPortName(pname)) errs.push(fe.invalid(`${field}.service.port.name`, pname, m));
  else if (pnum)
    for (const m of isValidPortNum(pnum)) errs.push(fe.invalid(`${field}.service.port.number`, pnum, m));
  else errs.push(fe.required(field, 'port name or number is required'));
  return errs;
}

function validateIngress(o: Obj): Errs {
  const errs: Errs = [];
  const spec = asObj(o.spec) ?? {};
  const rules = asArr(spec.rules);
  if (rules.length === 0 && !has(spec, 'defaultBackend'))
    errs.push(
      fe.invalid(
        'spec',
        new GoRepr('[]networking.IngressRule(nil)'),
        'either `defaultBackend` or `rules` must be specified',
      ),
    );
  const db = asObj(spec.defaultBackend);
  if (db) errs.push(...validateIngressBackend(db, 'spec.defaultBackend'));
  rules.forEach((x, i) => {
    const rule = asObj(x) ?? {};
    const p = `spec.rules[${i}]`;
    const host = asStr(rule.host);
    if (host) {
      if (/^[0-9.]+$/.test(host) || host.includes(':'))
        errs.push(fe.invalid(`${p}.host`, host, 'must be a DNS name, not an IP address'));
      const msgs = host.includes('*') ? isWildcardDNS1123Subdomain(host) : isDNS1123Subdomain(host);
      for (const m of msgs) errs.push(fe.invalid(`${p}.host`, host, m));
    }
    const http = asObj(rule.http);
    if (!http) return;
    const paths = asArr(http.paths);
    if (paths.length === 0) errs.push(fe.required(`${p}.http.paths`));
    paths.forEach((y, j) => {
      const path = asObj(y) ?? {};
      const pp = `${p}.http.paths[${j}]`;
      if (!has(path, 'pathType')) {
        errs.push(fe.required(`${pp}.pathType`, 'pathType must be specified'));
        return;
      }
      const pt = asStr(path.pathType);
      const value = asStr(path.path);
      if (pt === 'Exact' || pt === 'Prefix') {
        if (!value.startsWith('/')) errs.push(fe.invalid(`${pp}.path`, value, 'must be an absolute path'));
        if (value) {
          for (const seq of ['//', '/./', '/../', '%2f', '%2F'])
            if (value.includes(seq)) errs.push(fe.invalid(`${pp}.path`, value, `must not contain '${seq}'`));
          for (const suf of ['/..', '/.'])
            if (value.endsWith(suf)) errs.push(fe.invalid(`${pp}.path`, value, `cannot end with '${suf}'`));
        }
      } else if (pt === 'ImplementationSpecific') {
        if (value && !value.startsWith('/'))
          errs.push(fe.invalid(`${pp}.path`, value, 'must be an absolute path'));
      } else {
        errs.push(fe.notSupported(`${pp}.pathType`, pt, PATH_TYPES));
      }
      errs.push(...validateIngressBackend(asObj(path.backend) ?? {}, `${pp}.backend`));
    });
  });
  asArr(spec.tls).forEach((x, i) => {
    asArr(asObj(x)?.hosts).forEach((h, j) => {
      const host = asStr(h);
      const msgs = host.includes('*') ? isWildcardDNS1123Subdomain(host) : isDNS1123Subdomain(host);
      for (const m of msgs) errs.push(fe.invalid(`spec.tls[${i}].hosts[${j}]`, host, m));
    });
  });
  if (typeof spec.ingressClassName === 'string')
    for (const m of nameIsDNSSubdomain(spec.ingressClassName, false))
      errs.push(fe.invalid('spec.ingressClassName', spec.ingressClassName, m));
  return errs;
}

const ACCESS_MODES = ['ReadOnlyMany', 'ReadWriteMany', 'ReadWriteOnce', 'ReadWriteOncePod'];

function validatePVC(o: Obj, old: Obj | undefined): Errs {
  const errs: Errs = [];
  const spec = asObj(o.spec) ?? {};
  const modes = asArr(spec.accessModes);
  if (modes.length === 0) errs.push(fe.required('spec.accessModes', 'at least 1 access mode is required'));
  const sel = asObj(spec.selector);
  if (sel) errs.push(...validateLabelSelector(sel, 'spec.selector'));
  for (const m of modes) {
    if (!ACCESS_MODES.includes(asStr(m)))
      errs.push(fe.notSupported('spec.accessModes', asStr(m), ACCESS_MODES));
  }
  const storage = asObj(asObj(spec.resources)?.requests)?.storage;
  if (storage === undefined) errs.push(fe.required('spec.resources[storage]'));
  else {
    const n = quantityValue(storage);
    if (n !== undefined && n <= 0)
      errs.push(fe.invalid('spec.resources[storage]', quantityString(storage), 'must be greater than zero'));
  }
  if (typeof spec.storageClassName === 'string' && spec.storageClassName)
    for (const m of nameIsDNSSubdomain(spec.storageClassName, false))
      errs.push(fe.invalid('spec.storageClassName', spec.storageClassName, m));
  const vm = spec.volumeMode;
  if (typeof vm === 'string' && vm !== 'Block' && vm !== 'Filesystem')
    errs.push(fe.notSupported('spec.volumeMode', vm, ['Block', 'Filesystem']));
  if (old) {
    const ospec = asObj(old.spec) ?? {};
    for (const k of ['accessModes', 'selector', 'volumeMode', 'dataSource', 'dataSourceRef']) {
      if (JSON.stringify(canon(spec[k])) !== JSON.stringify(canon(ospec[k]))) {
        errs.push(
          fe.forbidden(
            'spec',
            'spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims',
          ),
        );
        break;
      }
    }
  }
  return errs;
}

// ---------------------------------------------------------------------------------------------------------

const CLUSTER_SCOPED = new Set([
  'Namespace',
  'Node',
  'PersistentVolume',
  'ClusterRole',
  'ClusterRoleBinding',
  'IngressClass',
  'StorageClass',
  'PriorityClass',
  'CustomResourceDefinition',
  'APIService',
  'MutatingWebhookConfiguration',
  'ValidatingWebhookConfiguration',
  'CSIDriver',
  'CSINode',
  'RuntimeClass',
  'VolumeAttachment',
  'CertificateSigningRequest',
  'ComponentStatus',
]);

export function isClusterScoped(kind: string): boolean {
  return CLUSTER_SCOPED.has(kind);
}

function nameFnFor(kind: string): NameFn {
  switch (kind) {
    case 'Service':
      return nameIsDNS1035Label;
    case 'Namespace':
      return nameIsDNSLabel;
    case 'Role':
    case 'ClusterRole':
    case 'RoleBinding':
    case 'ClusterRoleBinding':
      return pathSegmentName;
    default:
      return nameIsDNSSubdomain;
  }
}

/** The kind's own checks in its strategy's Validate (`old` absent) or ValidateUpdate. */
const KIND_VALIDATORS: Record<string, (o: Obj, old: Obj | undefined) => Errs> = {
  Deployment: validateDeployment,
  ReplicaSet: validateReplicaSet,
  StatefulSet: validateStatefulSet,
  DaemonSet: validateDaemonSet,
  Pod: validatePod,
  PodTemplate: (o) => validatePodTemplateSpec(asObj(o.template), 'template'),
  Job: validateJob,
  CronJob: validateCronJob,
  Service: validateService,
  ConfigMap: validateConfigMap,
  Secret: validateSecret,
  Role: (o) => validatePolicyRules(o.rules, true),
  ClusterRole: (o) => validatePolicyRules(o.rules, false),
  RoleBinding: (o, old) => validateRoleBinding(o, true, old),
  ClusterRoleBinding: (o, old) => validateRoleBinding(o, false, old),
  Ingress: validateIngress,
  PersistentVolumeClaim: validatePVC,
  ServiceAccount: (o) =>
    asArr(o.imagePullSecrets).flatMap((x, i) =>
      asStr(asObj(x)?.name) ? [] : [fe.required(`imagePullSecrets[${i}].name`)],
    ),
};

/**
 * Kind-specific validation of a (defaulted) object, as the strategy's Validate/ValidateUpdate do. `known` is
 * false for kinds without a schema (custom resources): their scope is unknown here, so the namespace is not checked.
 */
export function validateKind(kind: string, o: Obj, old: Obj | undefined, known = true): Errs {
  const meta = asObj(o.metadata);
  const scope = isClusterScoped(kind) ? false : known ? true : undefined;
  const errs: Errs = old
    ? validateObjectMetaUpdate(meta, asObj(old.metadata))
    : validateObjectMeta(meta, scope, nameFnFor(kind));
  const validate = Object.hasOwn(KIND_VALIDATORS, kind) ? KIND_VALIDATORS[kind] : undefined;
  if (validate) errs.push(...validate(o, old));
  return errs;
}
