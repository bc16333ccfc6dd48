/**
 * structured-merge-diff field sets (sigs.k8s.io/structured-merge-diff/v4/fieldpath): a trie of path
 * elements, serialized as managedFields `fieldsV1`.
 *
 * Path elements are kept in their serialized form: `f:name`, `k:{"name":"docker"}`, `v:"x"`, `i:3`.
 */
import { smdValueString } from '../schema/decode.js';
import { isObject } from '../schema/openapi.js';

export type Path = string[];

export class PathSet {
  /** The path leading here is a member of the set (`.` in fieldsV1 when it also has children). */
  member = false;
  readonly children = new Map<string, PathSet>();

  static of(paths: Iterable<Path>): PathSet {
    const s = new PathSet();
    for (const p of paths) s.insert(p);
    return s;
  }

  insert(path: Path): void {
    let node: PathSet = this;
    for (const pe of path) {
      let next = node.children.get(pe);
      if (!next) {
        next = new PathSet();
        node.children.set(pe, next);
      }
      node = next;
    }
    node.member = true;
  }

  private node(path: Path): PathSet | undefined {
    let node: PathSet | undefined = this;
    for (const pe of path) {
      node = node.children.get(pe);
      if (!node) return undefined;
    }
    return node;
  }

  has(path: Path): boolean {
    return this.node(path)?.member === true;
  }

  /** A member at `path` or below it. */
  hasWithin(path: Path): boolean {
    const n = this.node(path);
    return n !== undefined && !n.isEmpty(true);
  }

  /** No members (the root's own flag ignored unless `countSelf`). */
  isEmpty(countSelf = false): boolean {
    if (countSelf && this.member) return false;
    for (const c of this.children.values()) if (!c.isEmpty(true)) return false;
    return true;
  }

  /** Members, in serialization order. */
  paths(): Path[] {
    const out: Path[] = [];
    const walk = (n: PathSet, prefix: Path) => {
      for (const pe of sortedPEs(n.children.keys())) {
        const c = n.children.get(pe) as PathSet;
        const p = [...prefix, pe];
        if (c.member) out.push(p);
        walk(c, p);
      }
    };
    walk(this, []);
    return out;
  }

  clone(): PathSet {
    const s = new PathSet();
    s.member = this.member;
    for (const [pe, c] of this.children) s.children.set(pe, c.clone());
    return s;
  }

  union(other: PathSet): PathSet {
    const out = this.clone();
    const add = (dst: PathSet, src: PathSet) => {
      if (src.member) dst.member = true;
      for (const [pe, c] of src.children) {
        let d = dst.children.get(pe);
        if (!d) {
          d = new PathSet();
          dst.children.set(pe, d);
        }
        add(d, c);
      }
    };
    add(out, other);
    return out.pruned();
  }

  /** Members of this set that are not members of `other`. */
  difference(other: PathSet): PathSet {
    const out = PathSet.of(this.paths().filter((p) => !other.has(p)));
    return out;
  }

  intersection(other: PathSet): PathSet {
    return PathSet.of(this.paths().filter((p) => other.has(p)));
  }

  /** Members of this set not equal to, nor below, a member of `other`. */
  recursiveDifference(other: PathSet): PathSet {
    return PathSet.of(
      this.paths().filter((p) => {
        for (let i = 1; i <= p.length; i++) if (other.has(p.slice(0, i))) return false;
        return true;
      }),
    );
  }

  private pruned(): PathSet {
    for (const [pe, c] of [...this.children]) {
      c.pruned();
      if (!c.member && c.children.size === 0) this.children.delete(pe);
    }
    return this;
  }

  equals(other: PathSet): boolean {
    const a = this.paths().map((p) => p.join('\u0000'));
    const b = other.paths().map((p) => p.join('\u0000'));
    return a.length === b.length && a.every((x, i) => x === b[i]);
  }

  /** managedFields `fieldsV1`. */
  toFieldsV1(): Record<string, unknown> {
    const enc = (n: PathSet): Record<string, unknown> => {
      const out: Record<string, unknown> = {};
      const kids = sortedPEs(n.children.keys()).filter(
        (pe) => !(n.children.get(pe) as PathSet).isEmpty(true),
      );
      if (n.member && kids.length > 0) out['.'] = {};
      for (const pe of kids) out[pe] = enc(n.children.get(pe) as PathSet);
      return out;
    };
    const out: Record<string, unknown> = {};
    for (const pe of sortedPEs(this.children.keys())) {
      const c = this.children.get(pe) as PathSet;
      if (c.isEmpty(true)) continue;
      out[pe] = enc(c);
    }
    return out;
  }

  static fromFieldsV1(v: unknown): PathSet {
    const s = new PathSet();
    const dec = (node: PathSet, obj: Record<string, unknown>) => {
      for (const [k, child] of Object.entries(obj)) {
        if (k === '.') {
          node.member = true;
          continue;
        }
        const c = new PathSet();
        node.children.set(k, c);
        if (isObject(child) && Object.keys(child).length > 0) dec(c, child);
        else c.member = true;
      }
    };
    if (isObject(v)) dec(s, v);
    return s;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Ordering (fieldpath.PathElement.Less): field names, then keys, then values, then indices.

function peRank(pe: string): number {
  switch (pe[0]) {
    case 'f':
      return 0;
    case 'k':
      return 1;
    case 'v':
      return 2;
    default:
      return 3;
  }
}

function typeRank(v: unknown): number {
  if (typeof v === 'number') return 0;
  if (typeof v === 'string') return 1;
  if (typeof v === 'boolean') return 2;
  if (Array.isArray(v)) return 3;
  if (isObject(v)) return 4;
  return 5; // null
}

function strCompare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** structured-merge-diff value.Compare */
export function valueCompare(a: unknown, b: unknown): number {
  const ra = typeRank(a);
  const rb = typeRank(b);
  if (ra !== rb) return ra - rb;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'string' && typeof b === 'string') return strCompare(a, b);
  if (typeof a === 'boolean' && typeof b === 'boolean') return a === b ? 0 : a ? 1 : -1;
  if (Array.isArray(a) && Array.isArray(b)) {
    for (let i = 0; i < Math.min(a.length, b.length); i++) {
      const c = valueCompare(a[i], b[i]);
      if (c !== 0) return c;
    }
    return a.length - b.length;
  }
  if (isObject(a) && isObject(b)) {
    const ka = Object.keys(a).sort();
    const kb = Object.keys(b).sort();
    for (let i = 0; i < Math.min(ka.length, kb.length); i++) {
      const c =
        strCompare(ka[i] as string, kb[i] as string) || valueCompare(a[ka[i] as string], b[kb[i] as string]);
      if (c !== 0) return c;
    }
    return ka.length - kb.length;
  }
  return 0;
}

export function peCompare(a: string, b: string): number {
  const ra = peRank(a);
  const rb = peRank(b);
  if (ra !== rb) return ra - rb;
  switch (a[0]) {
    case 'f':
      return strCompare(a.slice(2), b.slice(2));
    case 'k': {
      const ka = Object.entries(JSON.parse(a.slice(2)) as Record<string, unknown>);
      const kb = Object.entries(JSON.parse(b.slice(2)) as Record<string, unknown>);
      for (let i = 0; i < ka.length; i++) {
        if (i >= kb.length) return 1;
        const [na, va] = ka[i] as [string, unknown];
        const [nb, vb] = kb[i] as [string, unknown];
        const c = strCompare(na, nb) || valueCompare(va, vb);
        if (c !== 0) return c;
      }
      return ka.length < kb.length ? -1 : 0;
    }
    case 'v':
      return valueCompare(JSON.parse(a.slice(2)), JSON.parse(b.slice(2)));
    default:
      return Number(a.slice(2)) - Number(b.slice(2));
  }
}

export function sortedPEs(pes: Iterable<string>): string[] {
  return [...pes].sort(peCompare);
}

/** `.spec.template.spec.containers[name="c"].image` */
export function pathString(path: Path): string {
  let out = '';
  for (const pe of path) {
    const body = pe.slice(2);
    switch (pe[0]) {
      case 'f':
        out += `.${body}`;
        break;
      case 'k': {
        const key = JSON.parse(body) as Record<string, unknown>;
        out += `[${Object.entries(key)
          .map(([k, v]) => `${k}=${smdValueString(v)}`)
          .join(',')}]`;
        break;
      }
      case 'v':
        out += `[=${smdValueString(JSON.parse(body))}]`;
        break;
      default:
        out += `[${body}]`;
    }
  }
  return out;
}
