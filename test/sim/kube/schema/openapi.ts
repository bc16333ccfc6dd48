/**
 * The OpenAPI v3 documents of a real kube-apiserver 1.32 (trimmed copies in ../data/openapi, made by
 * extract-openapi.mjs) turned into a small type system the validators and the merge engine walk:
 * structs (properties), maps (additionalProperties), lists (with x-kubernetes-list-type/-map-keys and the
 * strategic-merge-patch extensions), scalars (with int-or-string and Quantity as their own kinds) and
 * untyped values (x-kubernetes-preserve-unknown-fields, RawExtension).
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface RawSchema {
  $ref?: string;
  allOf?: RawSchema[];
  oneOf?: RawSchema[];
  type?: string;
  format?: string;
  properties?: Record<string, RawSchema>;
  additionalProperties?: RawSchema | boolean;
  items?: RawSchema;
  required?: string[];
  default?: unknown;
  enum?: unknown[];
  'x-kubernetes-group-version-kind'?: Array<{ group: string; version: string; kind: string }>;
  'x-kubernetes-list-type'?: string;
  'x-kubernetes-list-map-keys'?: string[];
  'x-kubernetes-map-type'?: string;
  'x-kubernetes-patch-strategy'?: string;
  'x-kubernetes-patch-merge-key'?: string;
  'x-kubernetes-int-or-string'?: boolean;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  'x-kubernetes-embedded-resource'?: boolean;
}

export type ScalarKind = 'string' | 'integer' | 'number' | 'boolean' | 'int-or-string' | 'quantity' | 'time';

export interface FieldDef {
  name: string;
  readonly type: TypeNode;
  /** The `default` of the property schema (Go zero values of non-omitempty fields and `+default` markers). */
  default?: unknown;
  hasDefault: boolean;
  patchStrategy?: string;
  patchMergeKey?: string;
}

export interface StructNode {
  k: 'struct';
  /** Definition name, e.g. io.k8s.api.apps.v1.DeploymentSpec. */
  name: string;
  readonly fields: Map<string, FieldDef>;
  atomic: boolean;
  required: string[];
}
export interface MapNode {
  k: 'map';
  readonly elem: TypeNode;
  atomic: boolean;
}
export interface ListNode {
  k: 'list';
  readonly elem: TypeNode;
  listType: 'atomic' | 'set' | 'map';
  keys: string[];
  patchStrategy?: string;
  patchMergeKey?: string;
}
export interface ScalarNode {
  k: 'scalar';
  scalar: ScalarKind;
  format?: string;
  enum?: unknown[];
  /** Definition name when the scalar is a named type (IntOrString, Quantity, Time). */
  name?: string;
}
export interface UntypedNode {
  k: 'untyped';
}
export type TypeNode = StructNode | MapNode | ListNode | ScalarNode | UntypedNode;

export const UNTYPED: UntypedNode = { k: 'untyped' };

const DATA_DIR = join(dirname(fileURLToPath(import.meta.url)), '../data/openapi');
const DOCS = [
  'api_v1.json',
  'apis_apps_v1.json',
  'apis_networking.k8s.io_v1.json',
  'apis_rbac.authorization.k8s.io_v1.json',
  'apis_policy_v1.json',
  'apis_autoscaling_v2.json',
  'apis_batch_v1.json',
];

const REF_PREFIX = '#/components/schemas/';

export class TypeSystem {
  readonly defs = new Map<string, RawSchema>();
  /** `group/version/Kind` (group '' for core) -> definition name. */
  readonly roots = new Map<string, string>();
  private readonly named = new Map<string, TypeNode>();

  constructor(docs: Array<{ components?: { schemas?: Record<string, RawSchema> } }>) {
    for (const doc of docs) {
      for (const [name, schema] of Object.entries(doc.components?.schemas ?? {})) {
        if (this.defs.has(name)) continue;
        this.defs.set(name, schema);
        const gvks = schema['x-kubernetes-group-version-kind'];
        // Definitions listed under many GVKs (DeleteOptions, WatchEvent) are not served kinds.
        if (gvks?.length === 1 && schema.properties) {
          const g = gvks[0] as { group: string; version: string; kind: string };
          this.roots.set(`${g.group}/${g.version}/${g.kind}`, name);
        }
      }
    }
  }

  rootName(apiVersion: string, kind: string): string | undefined {
    const slash = apiVersion.indexOf('/');
    const group = slash < 0 ? '' : apiVersion.slice(0, slash);
    const version = slash < 0 ? apiVersion : apiVersion.slice(slash + 1);
    return this.roots.get(`${group}/${version}/${kind}`);
  }

  root(apiVersion: string, kind: string): StructNode | undefined {
    const name = this.rootName(apiVersion, kind);
    if (!name) return undefined;
    const t = this.byName(name);
    return t.k === 'struct' ? t : undefined;
  }

  byName(name: string): TypeNode {
    const cached = this.named.get(name);
    if (cached) return cached;
    const schema = this.defs.get(name);
    if (!schema) return UNTYPED;
    const node = this.build(schema, name);
    this.named.set(name, node);
    return node;
  }

  /** Resolves a (property) schema: `$ref`, single-element `allOf`, or an inline schema. */
  resolve(schema: RawSchema | undefined): TypeNode {
    if (!schema) return UNTYPED;
    if (schema.$ref) return this.byName(schema.$ref.slice(REF_PREFIX.length));
    if (schema.allOf && schema.allOf.length === 1) {
      const inner = schema.allOf[0] as RawSchema;
      if (inner.$ref && !schema.type && !schema.properties && !schema.items) return this.resolve(inner);
    }
    return this.build(schema, undefined);
  }

  private build(schema: RawSchema, name: string | undefined): TypeNode {
    if (schema['x-kubernetes-preserve-unknown-fields'] && !schema.properties && !schema.additionalProperties)
      return UNTYPED;
    if (schema['x-kubernetes-int-or-string'] || schema.format === 'int-or-string')
      return { k: 'scalar', scalar: 'int-or-string', name };
    if (name === 'io.k8s.apimachinery.pkg.api.resource.Quantity')
      return { k: 'scalar', scalar: 'quantity', name };
    if (
      name === 'io.k8s.apimachinery.pkg.apis.meta.v1.Time' ||
      name === 'io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime'
    )
      return { k: 'scalar', scalar: 'time', name, format: schema.format };
    if (schema.allOf && schema.allOf.length === 1) return this.resolve(schema.allOf[0]);
    switch (schema.type) {
      case 'object': {
        if (schema.properties) return this.struct(schema, name ?? '');
        if (schema.additionalProperties && typeof schema.additionalProperties === 'object') {
          const add = schema.additionalProperties;
          let elem: TypeNode | undefined;
          const self = this;
          return {
            k: 'map',
            atomic: schema['x-kubernetes-map-type'] === 'atomic',
            get elem() {
              elem ??= self.resolve(add);
              return elem;
            },
          };
        }
        return UNTYPED;
      }
      case 'array': {
        const items = schema.items;
        let elem: TypeNode | undefined;
        const self = this;
        const lt = schema['x-kubernetes-list-type'];
        return {
          k: 'list',
          listType: lt === 'map' || lt === 'set' ? lt : 'atomic',
          keys: schema['x-kubernetes-list-map-keys'] ?? [],
          patchStrategy: schema['x-kubernetes-patch-strategy'],
          patchMergeKey: schema['x-kubernetes-patch-merge-key'],
          get elem() {
            elem ??= self.resolve(items);
            return elem;
          },
        };
      }
      case 'string':
      case 'integer':
      case 'number':
      case 'boolean':
        return { k: 'scalar', scalar: schema.type, format: schema.format, enum: schema.enum, name };
      default:
        if (schema.oneOf) return { k: 'scalar', scalar: 'quantity', name };
        return UNTYPED;
    }
  }

  private struct(schema: RawSchema, name: string): StructNode {
    let fields: Map<string, FieldDef> | undefined;
    const self = this;
    return {
      k: 'struct',
      name,
      atomic: schema['x-kubernetes-map-type'] === 'atomic',
      required: schema.required ?? [],
      get fields() {
        if (!fields) {
          fields = new Map();
          for (const [fname, prop] of Object.entries(schema.properties ?? {})) {
            fields.set(fname, self.field(fname, prop));
          }
        }
        return fields;
      },
    };
  }

  private field(name: string, prop: RawSchema): FieldDef {
    let type: TypeNode | undefined;
    const self = this;
    const def: FieldDef = {
      name,
      hasDefault: 'default' in prop,
      default: prop.default,
      patchStrategy: prop['x-kubernetes-patch-strategy'],
      patchMergeKey: prop['x-kubernetes-patch-merge-key'],
      get type() {
        type ??= self.resolve(prop);
        return type;
      },
    };
    return def;
  }
}

let cached: TypeSystem | undefined;

/** Loads (once per process) the trimmed OpenAPI documents. */
export function typeSystem(): TypeSystem {
  if (!cached) {
    const docs = DOCS.map((f) => JSON.parse(readFileSync(join(DATA_DIR, f), 'utf8')));
    cached = new TypeSystem(docs);
  }
  return cached;
}

/** The type of a struct field, a map element, or untyped for anything else. */
export function childType(t: TypeNode, key: string): TypeNode | undefined {
  if (t.k === 'struct') return t.fields.get(key)?.type;
  if (t.k === 'map') return t.elem;
  if (t.k === 'untyped') return UNTYPED;
  return undefined;
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Go type name for decode errors: `v1.DeploymentSpec`, `[]v1.Container`, `map[string]string`, `int32`. */
export function goTypeName(t: TypeNode): string {
  switch (t.k) {
    case 'struct':
      return goDefName(t.name);
    case 'map':
      return `map[string]${goTypeName(t.elem)}`;
    case 'list':
      return `[]${goTypeName(t.elem)}`;
    case 'untyped':
      return 'interface {}';
    case 'scalar':
      switch (t.scalar) {
        case 'string':
          return t.format === 'byte' ? '[]uint8' : 'string';
        case 'integer':
          return t.format === 'int32' ? 'int32' : 'int64';
        case 'number':
          return t.format === 'float' ? 'float32' : 'float64';
        case 'boolean':
          return 'bool';
        case 'int-or-string':
          return 'intstr.IntOrString';
        case 'quantity':
          return 'resource.Quantity';
        case 'time':
          return t.name ? goDefName(t.name) : 'v1.Time';
      }
  }
}

/** io.k8s.api.apps.v1.DeploymentSpec -> v1.DeploymentSpec */
export function goDefName(def: string): string {
  const parts = def.split('.');
  const n = parts.length;
  return n >= 2 ? `${parts[n - 2]}.${parts[n - 1]}` : def;
}

/** io.k8s.api.apps.v1.DeploymentSpec -> DeploymentSpec */
export function shortName(def: string): string {
  return def.slice(def.lastIndexOf('.') + 1);
}
