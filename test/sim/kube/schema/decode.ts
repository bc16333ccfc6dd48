/**
 * What the API server notices while decoding a body: unknown fields (strict decoding, POST/PUT style paths),
 * JSON type errors (the 400 "cannot be handled as a Deployment: json: cannot unmarshal ..."), and the typed
 * conversion errors of server-side apply (structured-merge-diff paths and wording).
 */
import {
  goTypeName,
  isObject,
  type ListNode,
  type ScalarNode,
  type StructNode,
  shortName,
  type TypeNode,
} from './openapi.js';
import { canonicalizeQuantityValue } from './quantity.js';

// ---------------------------------------------------------------------------------------------------------
// Unknown fields, strict-decoding style: `spec.template.spec.containers[0].bogusContainerField`.

export function unknownFieldPaths(v: unknown, t: TypeNode, path: string, out: string[]): void {
  switch (t.k) {
    case 'struct': {
      if (!isObject(v)) return;
      for (const [key, child] of Object.entries(v)) {
        const f = t.fields.get(key);
        const p = path ? `${path}.${key}` : key;
        if (!f) {
          out.push(p);
          continue;
        }
        unknownFieldPaths(child, f.type, p, out);
      }
      return;
    }
    case 'map': {
      if (!isObject(v)) return;
      for (const [key, child] of Object.entries(v)) unknownFieldPaths(child, t.elem, `${path}[${key}]`, out);
      return;
    }
    case 'list': {
      if (!Array.isArray(v)) return;
      v.forEach((child, i) => {
        unknownFieldPaths(child, t.elem, `${path}[${i}]`, out);
      });
      return;
    }
    default:
      return;
  }
}

/** A copy of `v` without unknown fields. */
export function pruneUnknownTyped(v: unknown, t: TypeNode): unknown {
  switch (t.k) {
    case 'struct': {
      if (!isObject(v)) return v;
      const out: Record<string, unknown> = {};
      for (const [key, child] of Object.entries(v)) {
        const f = t.fields.get(key);
        if (f) out[key] = pruneUnknownTyped(child, f.type);
      }
      return out;
    }
    case 'map': {
      if (!isObject(v)) return v;
      const out: Record<string, unknown> = {};
      for (const [key, child] of Object.entries(v)) out[key] = pruneUnknownTyped(child, t.elem);
      return out;
    }
    case 'list':
      return Array.isArray(v) ? v.map((c) => pruneUnknownTyped(c, t.elem)) : v;
    default:
      return structuredClone(v);
  }
}

// ---------------------------------------------------------------------------------------------------------
// JSON decoding into the Go types (encoding/json as forked by sigs.k8s.io/json): the first type error.

function jsonKind(v: unknown): string {
  if (typeof v === 'string') return 'string';
  if (typeof v === 'number') return 'number';
  if (typeof v === 'boolean') return 'bool';
  if (Array.isArray(v)) return 'array';
  return 'object';
}

interface DecodeCtx {
  /** Name of the innermost Go struct whose field is being decoded. */
  struct: string;
  /** JSON field names from the root (no indices, no map keys). */
  stack: string[];
}

class DecodeError extends Error {}

function typeError(v: unknown, t: TypeNode, ctx: DecodeCtx, numberText?: string): DecodeError {
  const what = numberText !== undefined ? `number ${numberText}` : jsonKind(v);
  const into = ctx.stack.length > 0 ? `Go struct field ${ctx.struct}.${ctx.stack.join('.')}` : `Go value`;
  return new DecodeError(`json: cannot unmarshal ${what} into ${into} of type ${goTypeName(t)}`);
}

function checkInt(v: number, t: ScalarNode, ctx: DecodeCtx): void {
  const bits = t.format === 'int32' ? 32 : 64;
  const max = bits === 32 ? 2 ** 31 - 1 : Number.MAX_SAFE_INTEGER;
  const min = bits === 32 ? -(2 ** 31) : Number.MIN_SAFE_INTEGER;
  if (!Number.isInteger(v) || v > max || v < min) throw typeError(v, t, ctx, String(v));
}

const BASE64 = /^[A-Za-z0-9+/]*$/;

/** Go's base64.StdEncoding errors: `illegal base64 data at input byte N`. */
export function base64Error(s: string): string | undefined {
  const clean = s.replace(/[\r\n]/g, '');
  const body = clean.replace(/=+$/, '');
  if (!BASE64.test(body)) {
    for (let i = 0; i < clean.length; i++) {
      if (!/[A-Za-z0-9+/=\r\n]/.test(s[i] as string)) return `illegal base64 data at input byte ${i}`;
    }
    const eq = s.indexOf('=');
    return `illegal base64 data at input byte ${eq}`;
  }
  const pad = clean.length - body.length;
  if (clean.length % 4 !== 0 || pad > 2 || body.length % 4 === 1) {
    const rem = body.length % 4;
    return `illegal base64 data at input byte ${body.length - rem}`;
  }
  return undefined;
}

function decodeNode(v: unknown, t: TypeNode, ctx: DecodeCtx): void {
  if (v === null || v === undefined) return;
  switch (t.k) {
    case 'struct': {
      if (!isObject(v)) throw typeError(v, t, ctx);
      for (const [key, child] of Object.entries(v)) {
        const f = t.fields.get(key);
        if (!f) continue;
        decodeNode(child, f.type, { struct: shortName(t.name), stack: [...ctx.stack, key] });
      }
      return;
    }
    case 'map':
      if (!isObject(v)) throw typeError(v, t, ctx);
      for (const child of Object.values(v)) decodeNode(child, t.elem, ctx);
      return;
    case 'list':
      if (!Array.isArray(v)) {
        // encoding/json decodes a string into []byte, anything else is a type error.
        throw typeError(v, t, ctx);
      }
      for (const child of v) decodeNode(child, t.elem, ctx);
      return;
    case 'untyped':
      return;
    case 'scalar':
      decodeScalar(v, t, ctx);
      return;
  }
}

function decodeScalar(v: unknown, t: ScalarNode, ctx: DecodeCtx): void {
  switch (t.scalar) {
    case 'string':
      if (typeof v !== 'string') throw typeError(v, t, ctx);
      if (t.format === 'byte') {
        const err = base64Error(v);
        if (err) throw new DecodeError(err);
      }
      return;
    case 'time':
      if (typeof v !== 'string')
        throw typeError(v, { k: 'scalar', scalar: 'string' }, { struct: '', stack: [] });
      return;
    case 'boolean':
      if (typeof v !== 'boolean') throw typeError(v, t, ctx);
      return;
    case 'integer':
      if (typeof v !== 'number') throw typeError(v, t, ctx);
      checkInt(v, t, ctx);
      return;
    case 'number':
      if (typeof v !== 'number') throw typeError(v, t, ctx);
      return;
    case 'int-or-string':
      if (typeof v === 'string') return;
      if (typeof v === 'number') {
        if (!Number.isInteger(v) || v > 2 ** 31 - 1 || v < -(2 ** 31))
          throw new DecodeError(`json: cannot unmarshal number ${v} into Go value of type int32`);
        return;
      }
      throw new DecodeError(`json: cannot unmarshal ${jsonKind(v)} into Go value of type int32`);
    case 'quantity':
      try {
        canonicalizeQuantityValue(typeof v === 'string' || typeof v === 'number' ? v : JSON.stringify(v));
      } catch (e) {
        throw new DecodeError((e as Error).message);
      }
      return;
  }
}

/** The first decoding error of a body, as encoding/json words it, or undefined. */
export function decodeErrorTyped(v: unknown, t: StructNode): string | undefined {
  try {
    decodeNode(v, t, { struct: shortName(t.name), stack: [] });
    return undefined;
  } catch (e) {
    if (e instanceof DecodeError) return e.message;
    throw e;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Server-side apply: structured-merge-diff's conversion of the applied configuration to a typed value.

export interface TypedError {
  /** `.spec.template.spec.containers[name="c"].bogusContainerField` ('' for the root) */
  path: string;
  message: string;
  unknownField: boolean;
}

/** `"c"`, `80`, `true` as structured-merge-diff's value.ToString writes key values. */
export function smdValueString(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (v === null) return 'null';
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return JSON.stringify(v);
}

/** Go's %v of an interface{} decoded from JSON/YAML. */
function goV(v: unknown): string {
  if (v === null || v === undefined) return '<nil>';
  if (Array.isArray(v)) return `[${v.map(goV).join(' ')}]`;
  if (isObject(v)) {
    const keys = Object.keys(v).sort();
    return `map[${keys.map((k) => `${k}:${goV(v[k])}`).join(' ')}]`;
  }
  return String(v);
}

/** Go's %#v of an interface{} decoded from JSON/YAML. */
function goSharpV(v: unknown): string {
  if (v === null || v === undefined) return 'interface {}(nil)';
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return `[]interface {}{${v.map(goSharpV).join(', ')}}`;
  if (!isObject(v)) return String(v);
  const keys = Object.keys(v).sort();
  return `map[string]interface {}{${keys.map((k) => `${JSON.stringify(k)}:${goSharpV(v[k])}`).join(', ')}}`;
}

function goTypeOf(v: unknown): string {
  if (typeof v === 'string') return 'string';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'number') return Number.isInteger(v) ? 'int64' : 'float64';
  if (Array.isArray(v)) return '[]interface {}';
  return 'map[string]interface {}';
}

function isScalar(v: unknown): boolean {
  return typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';
}

/** PathElement of a list item, as structured-merge-diff builds it ('k:{...}' JSON form and the string form). */
export function listItemKey(t: ListNode, item: unknown): { pe: string; str: string } | { error: string } {
  if (t.listType === 'set') {
    return { pe: `v:${JSON.stringify(item)}`, str: `[=${smdValueString(item)}]` };
  }
  if (t.listType === 'map' && t.keys.length > 0) {
    if (item === null) return { error: 'associative list with keys may not have a null element' };
    if (!isObject(item)) return { error: 'associative list with keys may not have non-map elements' };
    const fields: Array<[string, unknown]> = [];
    for (const k of t.keys) {
      let val = item[k];
      if (val === undefined) {
        const elem = t.elem;
        const f = elem.k === 'struct' ? elem.fields.get(k) : undefined;
        if (f?.hasDefault && f.default !== undefined && f.default !== null) val = f.default;
        else
          return {
            error: `associative list with keys has an element that omits key field ${JSON.stringify(k)} (and doesn't have default value)`,
          };
      }
      fields.push([k, val]);
    }
    fields.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    const obj: Record<string, unknown> = {};
    for (const [k, val] of fields) obj[k] = val;
    return {
      pe: `k:${JSON.stringify(obj)}`,
      str: `[${fields.map(([k, val]) => `${k}=${smdValueString(val)}`).join(',')}]`,
    };
  }
  return { error: 'not an associative list' };
}

function walkTyped(v: unknown, t: TypeNode, path: string, out: TypedError[]): void {
  if (v === null || v === undefined) return;
  const err = (message: string, unknownField = false) => out.push({ path, message, unknownField });
  switch (t.k) {
    case 'struct':
    case 'map': {
      if (!isObject(v)) {
        err(`expected map, got &{${goV(v)}}`);
        return;
      }
      if (t.k === 'map') {
        for (const [key, child] of Object.entries(v)) walkTyped(child, t.elem, `${path}.${key}`, out);
        return;
      }
      // Go iterates the map in random order and stops at the first undeclared field; report known fields
      // first (so both errors show up, as they do when the server happens to visit them first).
      let firstUnknown: string | undefined;
      for (const [key, child] of Object.entries(v)) {
        const f = t.fields.get(key);
        if (!f) {
          firstUnknown ??= key;
          continue;
        }
        walkTyped(child, f.type, `${path}.${key}`, out);
      }
      if (firstUnknown !== undefined)
        out.push({
          path: `${path}.${firstUnknown}`,
          message: 'field not declared in schema',
          unknownField: true,
        });
      return;
    }
    case 'list': {
      if (!Array.isArray(v)) {
        err(`expected list, got &{${goV(v)}}`);
        return;
      }
      const seen = new Set<string>();
      for (let i = 0; i < v.length; i++) {
        const item = v[i];
        let str = `[${i}]`;
        if (t.listType !== 'atomic') {
          const key = listItemKey(t, item);
          if ('error' in key) {
            err(`element ${i}: ${key.error}`);
            return;
          }
          if (seen.has(key.pe)) err(`duplicate entries for key ${key.str}`);
          seen.add(key.pe);
          str = key.str;
        }
        walkTyped(item, t.elem, `${path}${str}`, out);
      }
      return;
    }
    case 'untyped':
      return;
    case 'scalar':
      switch (t.scalar) {
        case 'integer':
        case 'number':
          if (typeof v !== 'number') err(`expected numeric (int or float), got ${goTypeOf(v)}`);
          return;
        case 'string':
        case 'time':
          if (typeof v !== 'string')
            err(`expected string, got &value.valueUnstructured{Value:${goSharpV(v)}}`);
          return;
        case 'boolean':
          if (typeof v !== 'boolean') err(`expected boolean, got &{${goV(v)}}`);
          return;
        default:
          if (!isScalar(v)) err(`expected any scalar, got &{${goV(v)}}`);
          return;
      }
  }
}

/** Errors converting an applied configuration to a typed value (unknown fields and type mismatches). */
export function typedErrors(v: unknown, t: StructNode): TypedError[] {
  const out: TypedError[] = [];
  walkTyped(v, t, '', out);
  return out;
}
