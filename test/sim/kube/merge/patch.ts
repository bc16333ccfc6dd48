/**
 * The three patch types of PATCH: strategic merge patch (k8s.io/apimachinery/pkg/util/strategicpatch, with the
 * patch strategies and merge keys of the OpenAPI schema), JSON merge patch (RFC 7386) and JSON patch (RFC 6902).
 */
import { errors } from '../errors.js';
import { type SchemaRegistry, schemaInternals } from '../schema/index.js';
import { isObject, type ListNode, type TypeNode, UNTYPED } from '../schema/openapi.js';
import type { SimObject } from '../types.js';
import { childType, deepEqual } from './typed.js';

type Obj = Record<string, unknown>;

// ---------------------------------------------------------------------------------------------------------
// RFC 7386

function mergePatchValue(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return structuredClone(patch);
  const out: Obj = isObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatchValue(out[k], v);
  }
  return out;
}

/** JSON merge patch (RFC 7386): objects merge, null deletes, anything else replaces. */
export function mergePatch(obj: SimObject, patch: unknown): SimObject {
  if (!isObject(patch))
    throw errors.badRequest('json: cannot unmarshal into Go value of type map[string]interface {}');
  return mergePatchValue(structuredClone(obj), patch) as SimObject;
}

// ---------------------------------------------------------------------------------------------------------
// Strategic merge patch

const DIRECTIVE = '$patch';
const RETAIN_KEYS = '$retainKeys';
const SET_ORDER = '$setElementOrder/';
const DELETE_FROM_PRIMITIVE = '$deleteFromPrimitiveList/';

interface FieldPatchMeta {
  type: TypeNode;
  strategies: string[];
  mergeKey?: string;
}

function fieldMeta(t: TypeNode, key: string): FieldPatchMeta {
  if (t.k === 'struct') {
    const f = t.fields.get(key);
    if (f) {
      const ft = f.type;
      const strategy = f.patchStrategy ?? (ft.k === 'list' ? ft.patchStrategy : undefined);
      const mergeKey = f.patchMergeKey ?? (ft.k === 'list' ? ft.patchMergeKey : undefined);
      return { type: ft, strategies: strategy ? strategy.split(',') : [], mergeKey };
    }
  }
  return { type: childType(t, key), strategies: [] };
}

/** A key that tells the merge what to do rather than being a field. */
function isDirective(key: string): boolean {
  return (
    key === DIRECTIVE ||
    key === RETAIN_KEYS ||
    key.startsWith(SET_ORDER) ||
    key.startsWith(DELETE_FROM_PRIMITIVE)
  );
}

/** Removes directive keys from a value that replaces wholesale. */
function stripDirectives(v: unknown): unknown {
  if (Array.isArray(v))
    return v
      .filter((x) => !(isObject(x) && Object.keys(x).length === 1 && DIRECTIVE in x))
      .map(stripDirectives);
  if (!isObject(v)) return v;
  const out: Obj = {};
  for (const [k, c] of Object.entries(v)) {
    if (isDirective(k)) continue;
    if (c === null) continue;
    out[k] = stripDirectives(c);
  }
  return out;
}

class PatchError extends Error {}

function mergeMap(original: unknown, patch: Obj, t: TypeNode): Obj | undefined {
  const directive = patch[DIRECTIVE];
  if (directive === 'replace') return stripDirectives(patch) as Obj;
  if (directive === 'delete') return undefined;
  if (directive !== undefined && directive !== 'merge')
    throw new PatchError(`Unknown patch type: ${String(directive)} in map: ${JSON.stringify(patch)}`);
  const out: Obj = isObject(original) ? structuredClone(original) : {};

  const retain = patch[RETAIN_KEYS];
  if (retain !== undefined) {
    if (!Array.isArray(retain)) throw new PatchError('invalid retainKeys directive');
    const keep = new Set(retain.map(String));
    for (const k of Object.keys(out)) if (!keep.has(k) && !(k in patch)) delete out[k];
  }

  for (const [key, value] of Object.entries(patch)) {
    if (key.startsWith(DELETE_FROM_PRIMITIVE)) {
      const field = key.slice(DELETE_FROM_PRIMITIVE.length);
      const cur = out[field];
      if (Array.isArray(cur) && Array.isArray(value))
        out[field] = cur.filter((x) => !value.some((d) => deepEqual(d, x)));
    }
  }

  for (const [key, value] of Object.entries(patch)) {
    if (isDirective(key)) continue;
    if (value === null) {
      delete out[key];
      continue;
    }
    const meta = fieldMeta(t, key);
    const cur = out[key];
    if (isObject(value)) {
      if (meta.strategies.includes('replace') || !isObject(cur)) {
        if (value[DIRECTIVE] === 'delete') {
          delete out[key];
          continue;
        }
        const merged = mergeMap(undefined, value, meta.type);
        if (merged === undefined) delete out[key];
        else out[key] = merged;
        continue;
      }
      const merged = mergeMap(cur, value, meta.type);
      if (merged === undefined) delete out[key];
      else out[key] = merged;
      continue;
    }
    if (Array.isArray(value)) {
      const listType = meta.type.k === 'list' ? meta.type : undefined;
      if (meta.strategies.includes('merge') && listType) {
        out[key] = mergeList(Array.isArray(cur) ? cur : [], value, listType, meta.mergeKey);
      } else {
        out[key] = stripDirectives(value);
      }
      continue;
    }
    out[key] = value;
  }

  for (const [key, value] of Object.entries(patch)) {
    if (!key.startsWith(SET_ORDER)) continue;
    const field = key.slice(SET_ORDER.length);
    const cur = out[field];
    if (!Array.isArray(cur) || !Array.isArray(value)) continue;
    out[field] = reorder(cur, value, fieldMeta(t, field).mergeKey);
  }
  return out;
}

function itemKey(item: unknown, mergeKey: string | undefined): string {
  if (mergeKey && isObject(item)) return JSON.stringify(item[mergeKey] ?? null);
  return JSON.stringify(item);
}

function mergeList(
  original: unknown[],
  patch: unknown[],
  t: ListNode,
  mergeKey: string | undefined,
): unknown[] {
  // [{"$patch": "replace"}, ...items] replaces the whole list.
  const replace = patch.some((x) => isObject(x) && x[DIRECTIVE] === 'replace' && Object.keys(x).length === 1);
  if (replace)
    return patch
      .filter((x) => !(isObject(x) && DIRECTIVE in x && Object.keys(x).length === 1))
      .map(stripDirectives);
  const out = original.map((x) => structuredClone(x));
  if (!mergeKey) {
    // a merging list of primitives: union, keeping the original order
    for (const item of patch) if (!out.some((x) => deepEqual(x, item))) out.push(structuredClone(item));
    return out;
  }
  for (const item of patch) {
    if (!isObject(item))
      throw new PatchError(`unable to find api field in struct ${mergeKey} for the json field`);
    if (!(mergeKey in item))
      throw new PatchError(`map: ${JSON.stringify(item)} does not contain declared merge key: ${mergeKey}`);
    const key = itemKey(item, mergeKey);
    const idx = out.findIndex((x) => itemKey(x, mergeKey) === key);
    if (item[DIRECTIVE] === 'delete') {
      for (let i = out.length - 1; i >= 0; i--) if (itemKey(out[i], mergeKey) === key) out.splice(i, 1);
      continue;
    }
    if (idx >= 0) {
      const merged = mergeMap(out[idx], item, t.elem);
      if (merged === undefined) out.splice(idx, 1);
      else out[idx] = merged;
    } else {
      const merged = mergeMap(undefined, item, t.elem);
      if (merged !== undefined) out.push(merged);
    }
  }
  return out;
}

/** $setElementOrder: listed items in the given order, the others after them in their own order. */
function reorder(list: unknown[], order: unknown[], mergeKey: string | undefined): unknown[] {
  const rank = new Map<string, number>();
  order.forEach((o, i) => {
    rank.set(mergeKey && isObject(o) ? JSON.stringify(o[mergeKey] ?? null) : JSON.stringify(o), i);
  });
  const listed = list.filter((x) => rank.has(itemKey(x, mergeKey)));
  const rest = list.filter((x) => !rank.has(itemKey(x, mergeKey)));
  listed.sort(
    (a, b) => (rank.get(itemKey(a, mergeKey)) as number) - (rank.get(itemKey(b, mergeKey)) as number),
  );
  return [...listed, ...rest];
}

/**
 * Strategic merge patch: lists with `x-kubernetes-patch-strategy: merge` merge by their
 * `x-kubernetes-patch-merge-key` (containers by name, ports by containerPort...), `$patch: replace|delete|merge`,
 * `$retainKeys`, `$setElementOrder/<list>`, `$deleteFromPrimitiveList/<list>`, null deletes.
 */
export function strategicMergePatch(
  obj: SimObject,
  patch: unknown,
  apiVersion: string,
  kind: string,
  schemas: SchemaRegistry,
): SimObject {
  if (!isObject(patch))
    throw errors.badRequest('json: cannot unmarshal into Go value of type map[string]interface {}');
  const t = schemaInternals(schemas).root(apiVersion, kind) ?? UNTYPED;
  try {
    const out = mergeMap(obj, patch, t);
    return (out ?? {}) as SimObject;
  } catch (e) {
    if (e instanceof PatchError) throw errors.badRequest(e.message);
    throw e;
  }
}

// ---------------------------------------------------------------------------------------------------------
// RFC 6902

interface Op {
  op: string;
  path: string;
  from?: string;
  value?: unknown;
}

function decodePointer(path: string): string[] {
  if (path === '') return [];
  if (!path.startsWith('/')) throw errors.invalidGeneric();
  return path
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function validateOps(ops: unknown): Op[] {
  if (!Array.isArray(ops))
    throw errors.badRequest('json: cannot unmarshal object into Go value of type jsonpatch.Patch');
  return ops.map((raw) => {
    if (!isObject(raw))
      throw errors.badRequest('json: cannot unmarshal into Go value of type jsonpatch.Operation');
    const op = raw.op;
    if (typeof op !== 'string') throw errors.badRequest(`Unexpected kind: ${String(op)}`);
    if (!['add', 'remove', 'replace', 'move', 'copy', 'test'].includes(op))
      throw errors.badRequest(`Unexpected kind: ${op}`);
    if (typeof raw.path !== 'string') throw errors.badRequest(`${op} operation is missing path`);
    if ((op === 'move' || op === 'copy') && typeof raw.from !== 'string')
      throw errors.badRequest(`${op} operation is missing from`);
    if ((op === 'add' || op === 'replace' || op === 'test') && !('value' in raw))
      throw errors.badRequest(`${op} operation is missing value`);
    return raw as unknown as Op;
  });
}

/** JSON patch: a failed `test` or an operation on a missing path is a 422 Invalid; malformed ops a 400. */
export function jsonPatch(obj: SimObject, ops: unknown): SimObject {
  const list = validateOps(ops);
  const doc: { root: unknown } = { root: structuredClone(obj) };
  const fail = (): never => {
    throw errors.invalidGeneric();
  };
  const parentOf = (path: string): [Obj | unknown[], string] => {
    const parts = decodePointer(path);
    let cur: unknown = doc;
    let key = 'root';
    for (const p of parts) {
      cur = Array.isArray(cur) ? cur[arrayIndex(cur, key, false)] : (cur as Obj)[key];
      if (cur === undefined || cur === null || typeof cur !== 'object') fail();
      key = p;
    }
    return [cur as Obj | unknown[], key];
  };
  const arrayIndex = (arr: unknown[], key: string, forAdd: boolean): number => {
    if (forAdd && key === '-') return arr.length;
    if (!/^(0|[1-9][0-9]*)$/.test(key)) fail();
    const i = Number(key);
    if (i > arr.length || (!forAdd && i >= arr.length)) fail();
    return i;
  };
  const get = (path: string): unknown => {
    const [parent, key] = parentOf(path);
    if (Array.isArray(parent)) return parent[arrayIndex(parent, key, false)];
    if (!(key in parent)) fail();
    return parent[key];
  };
  const add = (path: string, value: unknown) => {
    const [parent, key] = parentOf(path);
    if (Array.isArray(parent)) parent.splice(arrayIndex(parent, key, true), 0, value);
    else parent[key] = value;
  };
  const remove = (path: string): unknown => {
    const [parent, key] = parentOf(path);
    if (Array.isArray(parent)) return parent.splice(arrayIndex(parent, key, false), 1)[0];
    if (!(key in parent)) fail();
    const v = parent[key];
    delete parent[key];
    return v;
  };
  for (const op of list) {
    switch (op.op) {
      case 'add':
        add(op.path, structuredClone(op.value));
        break;
      case 'remove':
        remove(op.path);
        break;
      case 'replace': {
        const [parent, key] = parentOf(op.path);
        if (Array.isArray(parent)) parent[arrayIndex(parent, key, false)] = structuredClone(op.value);
        else {
          if (!(key in parent)) fail();
          parent[key] = structuredClone(op.value);
        }
        break;
      }
      case 'move': {
        const from = op.from as string;
        if (op.path.startsWith(`${from}/`)) fail();
        const v = remove(from);
        add(op.path, v);
        break;
      }
      case 'copy':
        add(op.path, structuredClone(get(op.from as string)));
        break;
      case 'test':
        if (!deepEqual(get(op.path), op.value)) fail();
        break;
    }
  }
  if (!isObject(doc.root)) fail();
  return doc.root as SimObject;
}
