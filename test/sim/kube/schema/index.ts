/**
 * Schema engine of the Kubernetes API simulator: OpenAPI validation, API-server defaulting and kind-specific
 * validation, driven by the OpenAPI v3 documents of a real kube-apiserver 1.32 (../data/openapi).
 * Pure functions; the HTTP layer (../server/) calls them through ../codecs.ts.
 */
import type { SimObject } from '../types.js';
import {
  decodeErrorTyped,
  pruneUnknownTyped,
  type TypedError,
  typedErrors,
  unknownFieldPaths,
} from './decode.js';
import { applyDefaultsTyped, canonicalizeQuantities, zeroObject } from './defaults.js';
import { type FieldError, fe } from './fielderrors.js';
import { orderKeysTyped } from './goorder.js';
import { isObject, type StructNode, type TypeNode, type TypeSystem, typeSystem } from './openapi.js';
import { isClusterScoped, validateKind } from './validation.js';

export type { TypedError } from './decode.js';
export type { FieldError } from './fielderrors.js';
export type { FieldDef, ListNode, MapNode, ScalarNode, StructNode, TypeNode } from './openapi.js';

export interface Admission {
  object: SimObject;
  warnings: string[];
}

export interface SchemaRegistry {
  /** Unknown fields as dotted paths like `spec.template.spec.containers[0].bogusContainerField` (POST/PUT style), in document order. */
  unknownFields(apiVersion: string, kind: string, obj: unknown): string[];
  /** Drops unknown fields (for fieldValidation Warn/Ignore on POST/PUT). Returns a copy. */
  pruneUnknown(apiVersion: string, kind: string, obj: SimObject): SimObject;
  /** Type errors + kind-specific validation as k8s FieldErrors, in the order the real server reports them. */
  validate(apiVersion: string, kind: string, obj: SimObject, old?: SimObject): FieldError[];
  /** API-server defaulting (plus Go serialization: zero values, canonical quantities, key order). Mutates and returns. */
  applyDefaults(apiVersion: string, kind: string, obj: SimObject): SimObject;
  /** Is this kind known to the schemas (built-in)? */
  has(apiVersion: string, kind: string): boolean;

  // ---- additions beyond the agreed interface

  /**
   * The 400 a real server answers when the JSON does not decode into the Go type, e.g.
   * `Deployment in version "v1" cannot be handled as a Deployment: json: cannot unmarshal string into Go struct
   * field DeploymentSpec.spec.replicas of type int32`. Undefined when the body decodes.
   */
  decodeError(apiVersion: string, kind: string, obj: unknown): string | undefined;
  /** Puts keys in the order the real server writes them (Go struct order, maps sorted). Mutates and returns. */
  orderKeys(apiVersion: string, kind: string, obj: SimObject): SimObject;
  /** Is the kind cluster-scoped? (for metadata.namespace validation) */
  clusterScoped(kind: string): boolean;
  /**
   * What the registry strategy does on create after the field manager ran (so none of it is tracked in
   * managedFields): status reset to its zero value, a Service's clusterIP/clusterIPs allocated (deterministically
   * from namespace/name in 10.96.0.0/12), a Namespace's `spec.finalizers: [kubernetes]`. Mutates and returns.
   */
  prepareForCreate(apiVersion: string, kind: string, obj: SimObject): SimObject;
  /** PrepareForUpdate of the main resource: status is kept from the old object, allocated cluster IPs too. */
  prepareForUpdate(apiVersion: string, kind: string, obj: SimObject, old: SimObject): SimObject;
}

/** What the merge engine needs beyond the public interface. */
export interface SchemaInternals {
  types: TypeSystem;
  root(apiVersion: string, kind: string): StructNode | undefined;
  zero(apiVersion: string, kind: string): Record<string, unknown>;
  typedErrors(apiVersion: string, kind: string, obj: unknown): TypedError[];
  canonicalizeQuantities(apiVersion: string, kind: string, obj: unknown): void;
}

const internals = new WeakMap<object, SchemaInternals>();

function makeInternals(ts: TypeSystem): SchemaInternals {
  return {
    types: ts,
    root: (apiVersion, kind) => ts.root(apiVersion, kind),
    zero: (apiVersion, kind) => {
      const t = ts.root(apiVersion, kind);
      if (!t) return { apiVersion, kind, metadata: {} };
      return zeroObject(t, apiVersion, kind);
    },
    typedErrors: (apiVersion, kind, obj) => {
      const t = ts.root(apiVersion, kind);
      return t ? typedErrors(obj, t) : [];
    },
    canonicalizeQuantities: (apiVersion, kind, obj) => {
      const t = ts.root(apiVersion, kind);
      if (t) canonicalizeQuantities(obj, t);
    },
  };
}

/** Internals of a registry made by loadSchemas() (or of the process-wide one, for foreign registries). */
export function schemaInternals(registry?: object): SchemaInternals {
  const found = registry ? internals.get(registry) : undefined;
  if (found) return found;
  const own = loadSchemas();
  return internals.get(own) as SchemaInternals;
}

/** `spec.replicas in body must be of type integer: "string"` — type errors as FieldErrors. */
function typeErrors(v: unknown, t: TypeNode, path: string, out: FieldError[]): void {
  if (v === null || v === undefined) return;
  const bad = (expected: string) => {
    const actual = Array.isArray(v)
      ? 'array'
      : isObject(v)
        ? 'object'
        : typeof v === 'number'
          ? Number.isInteger(v)
            ? 'integer'
            : 'number'
          : typeof v;
    out.push(
      fe.typeInvalid(path, actual, `${path} in body must be of type ${expected}: ${JSON.stringify(actual)}`),
    );
  };
  switch (t.k) {
    case 'struct':
      if (!isObject(v)) {
        bad('object');
        return;
      }
      for (const [k, child] of Object.entries(v)) {
        const f = t.fields.get(k);
        if (f) typeErrors(child, f.type, path ? `${path}.${k}` : k, out);
      }
      return;
    case 'map':
      if (!isObject(v)) {
        bad('object');
        return;
      }
      for (const [k, child] of Object.entries(v)) typeErrors(child, t.elem, `${path}[${k}]`, out);
      return;
    case 'list':
      if (!Array.isArray(v)) {
        bad('array');
        return;
      }
      v.forEach((child, i) => {
        typeErrors(child, t.elem, `${path}[${i}]`, out);
      });
      return;
    case 'untyped':
      return;
    case 'scalar':
      switch (t.scalar) {
        case 'string':
        case 'time':
          if (typeof v !== 'string') bad('string');
          return;
        case 'integer':
          if (typeof v !== 'number' || !Number.isInteger(v)) bad('integer');
          return;
        case 'number':
          if (typeof v !== 'number') bad('number');
          return;
        case 'boolean':
          if (typeof v !== 'boolean') bad('boolean');
          return;
        case 'int-or-string':
          if (typeof v !== 'string' && !(typeof v === 'number' && Number.isInteger(v))) bad('integer,string');
          return;
        case 'quantity':
          if (typeof v !== 'string' && typeof v !== 'number') bad('string,number');
          return;
      }
  }
}

function versionOf(apiVersion: string): string {
  const i = apiVersion.indexOf('/');
  return i < 0 ? apiVersion : apiVersion.slice(i + 1);
}

function secretStringData(obj: Record<string, unknown>): void {
  if (!isObject(obj.stringData)) {
    delete obj.stringData;
    return;
  }
  const data = isObject(obj.data) ? obj.data : {};
  for (const [k, v] of Object.entries(obj.stringData))
    data[k] = Buffer.from(String(v), 'utf8').toString('base64');
  obj.data = data;
  delete obj.stringData;
}

/** A stable address for a Service: 10.96.0.0/12 minus the first /24 (10.96.0.1 is the kubernetes Service). */
export function allocateClusterIP(namespace: string, name: string): string {
  let h = 0x811c9dc5;
  for (const ch of `${namespace}/${name}`) {
    h ^= ch.codePointAt(0) as number;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  const offset = 256 + (h % (16 * 65536 - 512));
  return `10.${96 + (offset >>> 16)}.${(offset >>> 8) & 255}.${offset & 255 || 1}`;
}

function prepareService(obj: SimObject, old?: SimObject): void {
  const spec = isObject(obj.spec) ? obj.spec : undefined;
  if (!spec || spec.type === 'ExternalName') return;
  const oldSpec = old && isObject(old.spec) ? old.spec : undefined;
  if (!spec.clusterIP && oldSpec?.clusterIP) {
    spec.clusterIP = oldSpec.clusterIP;
    if (!Array.isArray(spec.clusterIPs) && Array.isArray(oldSpec.clusterIPs))
      spec.clusterIPs = [...oldSpec.clusterIPs];
  }
  if (!spec.clusterIP)
    spec.clusterIP = allocateClusterIP(String(obj.metadata.namespace ?? ''), obj.metadata.name);
  if (!Array.isArray(spec.clusterIPs) || spec.clusterIPs.length === 0) spec.clusterIPs = [spec.clusterIP];
}

let cached: SchemaRegistry | undefined;

/** Loads the schemas (sync, once per process). */
export function loadSchemas(): SchemaRegistry {
  if (cached) return cached;
  const ts = typeSystem();
  const root = (apiVersion: string, kind: string) => ts.root(apiVersion, kind);
  const registry: SchemaRegistry = {
    has: (apiVersion, kind) => root(apiVersion, kind) !== undefined,
    clusterScoped: (kind) => isClusterScoped(kind),
    unknownFields(apiVersion, kind, obj) {
      const t = root(apiVersion, kind);
      if (!t) return [];
      const out: string[] = [];
      unknownFieldPaths(obj, t, '', out);
      return out;
    },
    pruneUnknown(apiVersion, kind, obj) {
      const t = root(apiVersion, kind);
      if (!t) return structuredClone(obj);
      return pruneUnknownTyped(obj, t) as SimObject;
    },
    decodeError(apiVersion, kind, obj) {
      const t = root(apiVersion, kind);
      if (!t) return undefined;
      const err = decodeErrorTyped(obj, t);
      return err
        ? `${kind} in version ${JSON.stringify(versionOf(apiVersion))} cannot be handled as a ${kind}: ${err}`
        : undefined;
    },
    validate(apiVersion, kind, obj, old) {
      const t = root(apiVersion, kind);
      if (t) {
        const errs: FieldError[] = [];
        typeErrors(obj, t, '', errs);
        if (errs.length) return errs;
      }
      return validateKind(
        kind,
        obj as Record<string, unknown>,
        old as Record<string, unknown> | undefined,
        !!t,
      );
    },
    applyDefaults(apiVersion, kind, obj) {
      const t = root(apiVersion, kind);
      if (!t) return obj;
      if (kind === 'Secret' && apiVersion === 'v1') secretStringData(obj);
      applyDefaultsTyped(obj as Record<string, unknown>, t);
      return obj;
    },
    prepareForCreate(apiVersion, kind, obj) {
      const t = root(apiVersion, kind);
      if (!t) return obj;
      if (
        t.fields.has('status') &&
        kind !== 'Namespace' &&
        kind !== 'Pod' &&
        kind !== 'PersistentVolumeClaim'
      ) {
        const zero = zeroObject(t, apiVersion, kind);
        obj.status = zero.status;
      }
      if (kind === 'Service' && apiVersion === 'v1') prepareService(obj);
      if (kind === 'Namespace' && apiVersion === 'v1') {
        const spec = isObject(obj.spec) ? obj.spec : {};
        if (!Array.isArray(spec.finalizers) || spec.finalizers.length === 0) spec.finalizers = ['kubernetes'];
        obj.spec = spec;
      }
      applyDefaultsTyped(obj as Record<string, unknown>, t);
      return obj;
    },
    prepareForUpdate(apiVersion, kind, obj, old) {
      const t = root(apiVersion, kind);
      if (!t) return obj;
      if (t.fields.has('status')) {
        if (old.status === undefined) delete obj.status;
        else obj.status = structuredClone(old.status);
      }
      if (kind === 'Service' && apiVersion === 'v1') prepareService(obj, old);
      applyDefaultsTyped(obj as Record<string, unknown>, t);
      return obj;
    },
    orderKeys(apiVersion, kind, obj) {
      const t = root(apiVersion, kind);
      if (t) orderKeysTyped(obj, t);
      return obj;
    },
  };
  internals.set(registry, makeInternals(ts));
  cached = registry;
  return registry;
}
