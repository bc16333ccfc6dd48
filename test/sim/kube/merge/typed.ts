/**
 * Schema-aware walks of JSON values, after sigs.k8s.io/structured-merge-diff/v4/typed: the field set of a
 * value (ToFieldSet), the comparison of two values (Compare: added/modified/removed), the apply merge
 * (Merge) and item removal (RemoveItems).
 */
import { listItemKey } from '../schema/decode.js';
import { isObject, type ListNode, type TypeNode, UNTYPED } from '../schema/openapi.js';
import { type Path, PathSet } from './fieldpath.js';

type Obj = Record<string, unknown>;

export function childType(t: TypeNode, key: string): TypeNode {
  if (t.k === 'struct') return t.fields.get(key)?.type ?? UNTYPED;
  if (t.k === 'map') return t.elem;
  return UNTYPED;
}

function isDeclared(t: TypeNode, key: string): boolean {
  return t.k === 'struct' && t.fields.has(key);
}

function isAtomic(t: TypeNode): boolean {
  return (t.k === 'struct' || t.k === 'map') && t.atomic;
}

function isMapLike(t: TypeNode): boolean {
  return t.k === 'struct' || t.k === 'map' || t.k === 'untyped';
}

function isAssociative(t: TypeNode): t is ListNode {
  return t.k === 'list' && t.listType !== 'atomic';
}

/** The path element of a list item, or undefined when it has none (bad key). */
export function itemPE(t: ListNode, item: unknown): string | undefined {
  const k = listItemKey(t, item);
  return 'pe' in k ? k.pe : undefined;
}

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== typeof b || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    return a.every((x, i) => deepEqual(x, b[i]));
  }
  if (isObject(a) && isObject(b)) {
    const ka = Object.keys(a);
    if (ka.length !== Object.keys(b).length) return false;
    return ka.every((k) => k in b && deepEqual(a[k], b[k]));
  }
  return false;
}

// ---------------------------------------------------------------------------------------------------------
// ToFieldSet

export function toFieldSet(v: unknown, t: TypeNode): PathSet {
  const set = new PathSet();
  walkFieldSet(v, t, [], set);
  return set;
}

function walkFieldSet(v: unknown, t: TypeNode, path: Path, set: PathSet): void {
  if (v === undefined) return;
  if (isMapLike(t) && isObject(v)) {
    if (isAtomic(t)) {
      set.insert(path);
      return;
    }
    for (const [key, child] of Object.entries(v)) {
      const p = [...path, `f:${key}`];
      if (child === null || (isObject(child) && Object.keys(child).length === 0)) set.insert(p);
      else if (!isDeclared(t, key)) set.insert(p);
      walkFieldSet(child, childType(t, key), p, set);
    }
    return;
  }
  if (isAssociative(t) && Array.isArray(v)) {
    for (const item of v) {
      const pe = itemPE(t, item);
      if (pe === undefined) continue;
      const p = [...path, pe];
      walkFieldSet(item, t.elem, p, set);
      set.insert(p);
    }
    return;
  }
  // scalars, atomic lists, untyped lists, nulls and type mismatches are leaves
  set.insert(path);
}

// ---------------------------------------------------------------------------------------------------------
// Compare

export interface Comparison {
  added: PathSet;
  modified: PathSet;
  removed: PathSet;
}

export function compare(lhs: unknown, rhs: unknown, t: TypeNode): Comparison {
  const c: Comparison = { added: new PathSet(), modified: new PathSet(), removed: new PathSet() };
  walkCompare(lhs, rhs, t, [], c, true);
  return c;
}

function emptyish(v: unknown): boolean {
  return (
    v === undefined ||
    v === null ||
    (isObject(v) && Object.keys(v).length === 0) ||
    (Array.isArray(v) && v.length === 0)
  );
}

function leaf(l: unknown, r: unknown, path: Path, c: Comparison): void {
  if (l === undefined) c.added.insert(path);
  else if (r === undefined) c.removed.insert(path);
  else if (!deepEqual(l, r)) c.modified.insert(path);
}

function walkCompare(l: unknown, r: unknown, t: TypeNode, path: Path, c: Comparison, root = false): void {
  if (l === undefined && r === undefined) return;
  const post = () => {
    if (root) return;
    if (l === undefined) c.added.insert(path);
    else if (r === undefined) c.removed.insert(path);
  };
  if (isMapLike(t)) {
    const okL = l === undefined || l === null || isObject(l);
    const okR = r === undefined || r === null || isObject(r);
    if (isAtomic(t) || !okL || !okR || (emptyish(l) && emptyish(r))) {
      leaf(l, r, path, c);
      return;
    }
    const lo = isObject(l) ? l : {};
    const ro = isObject(r) ? r : {};
    const keys = [...Object.keys(lo), ...Object.keys(ro).filter((k) => !(k in lo))];
    for (const key of keys) walkCompare(lo[key], ro[key], childType(t, key), [...path, `f:${key}`], c);
    post();
    return;
  }
  if (isAssociative(t)) {
    const okL = l === undefined || l === null || Array.isArray(l);
    const okR = r === undefined || r === null || Array.isArray(r);
    if (!okL || !okR || (emptyish(l) && emptyish(r))) {
      leaf(l, r, path, c);
      return;
    }
    const li = indexItems(t, Array.isArray(l) ? l : []);
    const ri = indexItems(t, Array.isArray(r) ? r : []);
    const pes = [...li.keys(), ...[...ri.keys()].filter((k) => !li.has(k))];
    for (const pe of pes) walkCompare(li.get(pe), ri.get(pe), t.elem, [...path, pe], c);
    post();
    return;
  }
  leaf(l, r, path, c);
}

function indexItems(t: ListNode, items: unknown[]): Map<string, unknown> {
  const m = new Map<string, unknown>();
  for (const item of items) {
    const pe = itemPE(t, item);
    if (pe !== undefined && !m.has(pe)) m.set(pe, item);
  }
  return m;
}

// ---------------------------------------------------------------------------------------------------------
// Merge (apply): the configuration wins, list items are merged by key in the configuration's order.

export function mergeApply(l: unknown, r: unknown, t: TypeNode): unknown {
  if (r === undefined) return structuredClone(l);
  if (l === undefined || l === null || r === null) return structuredClone(r);
  if (isMapLike(t)) {
    if (isAtomic(t) || !isObject(l) || !isObject(r)) return structuredClone(r);
    const out: Obj = {};
    for (const [k, v] of Object.entries(l)) out[k] = structuredClone(v);
    for (const [k, v] of Object.entries(r)) out[k] = mergeApply(l[k], v, childType(t, k));
    return out;
  }
  if (isAssociative(t)) {
    if (!Array.isArray(l) || !Array.isArray(r)) return structuredClone(r);
    return mergeListItems(t, l, r);
  }
  return structuredClone(r);
}

/** structured-merge-diff mergingWalker.visitListItems: keeps the relative order of both sides. */
function mergeListItems(t: ListNode, lhs: unknown[], rhs: unknown[]): unknown[] {
  const lPEs: Array<[string, unknown]> = [];
  const rPEs: Array<[string, unknown]> = [];
  const observedL = new Map<string, unknown>();
  const observedR = new Map<string, unknown>();
  for (const item of lhs) {
    const pe = itemPE(t, item);
    if (pe === undefined) continue;
    lPEs.push([pe, item]);
    if (!observedL.has(pe)) observedL.set(pe, item);
  }
  for (const item of rhs) {
    const pe = itemPE(t, item);
    if (pe === undefined) continue;
    rPEs.push([pe, item]);
    if (!observedR.has(pe)) observedR.set(pe, item);
  }
  const shared = rPEs.filter(([pe]) => observedL.has(pe)).map(([pe]) => pe);
  let nextShared: string | undefined = shared.shift();
  const mergedR = new Set<string>();
  const out: unknown[] = [];
  let lI = 0;
  let rI = 0;
  while (lI < lPEs.length || rI < rPEs.length) {
    if (lI < lPEs.length && rI < rPEs.length) {
      const pe = (lPEs[lI] as [string, unknown])[0];
      if (pe === (rPEs[rI] as [string, unknown])[0]) {
        mergedR.add(pe);
        out.push(mergeApply(observedL.get(pe), observedR.get(pe), t.elem));
        lI++;
        rI++;
        nextShared = shared.shift();
        continue;
      }
      if (observedR.has(pe) && nextShared !== undefined && nextShared !== pe) {
        lI++;
        continue;
      }
    }
    if (lI < lPEs.length) {
      const [pe, item] = lPEs[lI] as [string, unknown];
      if (!observedR.has(pe)) {
        out.push(structuredClone(item));
        lI++;
        continue;
      }
      if (mergedR.has(pe)) {
        lI++;
        continue;
      }
    }
    if (rI < rPEs.length) {
      const [pe] = rPEs[rI] as [string, unknown];
      mergedR.add(pe);
      out.push(mergeApply(observedL.get(pe), observedR.get(pe), t.elem));
      rI++;
      if (nextShared !== undefined && nextShared === pe) nextShared = shared.shift();
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// Removal of items by path

/** Removes the value at `path` (a field, a map entry or a list item) from `root`, in place. */
export function removePath(root: unknown, path: Path, t: TypeNode): void {
  let cur: unknown = root;
  let ct = t;
  for (let i = 0; i < path.length; i++) {
    const pe = path[i] as string;
    const last = i === path.length - 1;
    if (pe.startsWith('f:')) {
      if (!isObject(cur)) return;
      const key = pe.slice(2);
      if (last) {
        delete cur[key];
        return;
      }
      cur = cur[key];
      ct = childType(ct, key);
    } else {
      if (!Array.isArray(cur) || ct.k !== 'list') return;
      const list = ct;
      const idx = pe.startsWith('i:')
        ? Number(pe.slice(2))
        : cur.findIndex((item) => itemPE(list, item) === pe);
      if (idx < 0 || idx >= cur.length) return;
      if (last) {
        cur.splice(idx, 1);
        return;
      }
      cur = cur[idx];
      ct = list.elem;
    }
  }
}

/**
 * fieldpath.Set.EnsureNamedFieldsAreMembers: adds the struct fields leading to every member (not map keys,
 * not list items).
 */
export function withNamedParents(set: PathSet, t: TypeNode): PathSet {
  const out = set.clone();
  for (const p of set.paths()) {
    let ct = t;
    for (let i = 0; i < p.length - 1; i++) {
      const pe = p[i] as string;
      if (pe.startsWith('f:')) {
        const key = pe.slice(2);
        if (isDeclared(ct, key)) out.insert(p.slice(0, i + 1));
        ct = childType(ct, key);
      } else {
        ct = ct.k === 'list' ? ct.elem : UNTYPED;
      }
    }
  }
  return out;
}
