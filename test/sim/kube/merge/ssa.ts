/**
 * Server-side apply and the Update-operation bookkeeping of managedFields, after the API server's field
 * manager (k8s.io/apimachinery/pkg/util/managedfields) and structured-merge-diff's merge.Updater.
 */
import type { ApplyArgs, RecordUpdateArgs } from '../codecs.js';
import { type SchemaInternals, type SchemaRegistry, schemaInternals } from '../schema/index.js';
import { isObject, type TypeNode, UNTYPED } from '../schema/openapi.js';
import type { SimObject } from '../types.js';
import { type Path, PathSet, pathString } from './fieldpath.js';
import {
  capUpdateManagers,
  decodeManaged,
  encodeManaged,
  isResetRequest,
  type ManagerEntry,
  managerKey,
} from './managed.js';
import { compare, deepEqual, mergeApply, removePath, toFieldSet, withNamedParents } from './typed.js';

type Obj = Record<string, unknown>;

export interface ApplyConflict {
  manager: string;
  field: string;
  /** The conflicting manager's operation, apiVersion and subresource (for the `"x" using apps/v1` wording). */
  operation: string;
  apiVersion: string;
  subresource?: string;
}

export type ApplyResult =
  | { ok: true; object: SimObject }
  | { ok: false; conflicts: ApplyConflict[] }
  | {
      ok: false;
      /** SSA-style paths of undeclared fields, e.g. `.spec.template.spec.containers[name="c"].bogusContainerField`. */
      unknownFields: string[];
      /**
       * The whole typed-conversion error as structured-merge-diff words it (unknown fields and type errors), i.e.
       * what follows `failed to create typed patch object (ns/name; apps/v1, Kind=Deployment): `.
       */
      message: string;
    };

/** Fields the field manager never tracks (stripMetaManager). */
const STRIP: Path[] = [
  ['f:apiVersion'],
  ['f:kind'],
  ['f:metadata'],
  ['f:metadata', 'f:name'],
  ['f:metadata', 'f:namespace'],
  ['f:metadata', 'f:creationTimestamp'],
  ['f:metadata', 'f:selfLink'],
  ['f:metadata', 'f:uid'],
  ['f:metadata', 'f:clusterName'],
  ['f:metadata', 'f:generation'],
  ['f:metadata', 'f:managedFields'],
  ['f:metadata', 'f:resourceVersion'],
];
const STRIP_SET = PathSet.of(STRIP);

/** Metadata the server owns: an apply keeps the stored values, whatever the configuration says. */
const SERVER_META = [
  'uid',
  'resourceVersion',
  'generation',
  'creationTimestamp',
  'deletionTimestamp',
  'deletionGracePeriodSeconds',
];

/** Metadata an applied configuration cannot set. */
const APPLY_META_DROP = [...SERVER_META, 'managedFields', 'selfLink'];

/** Reset fields of the strategies: status for the main resource, spec for the status subresource. */
function ignoredFor(t: TypeNode, subresource: string | undefined): PathSet {
  const s = new PathSet();
  if (t.k !== 'struct') return s;
  if (subresource === 'status') {
    if (t.fields.has('spec')) s.insert(['f:spec']);
  } else if (!subresource && t.fields.has('status')) {
    s.insert(['f:status']);
  }
  return s;
}

function withoutTracked(set: PathSet, ignored: PathSet): PathSet {
  return set.difference(STRIP_SET).recursiveDifference(ignored);
}

function stripManaged(o: Obj): Obj {
  const c = structuredClone(o);
  if (isObject(c.metadata)) delete c.metadata.managedFields;
  return c;
}

function rootType(si: SchemaInternals, apiVersion: string, kind: string): TypeNode {
  return si.root(apiVersion, kind) ?? UNTYPED;
}

/** Map entries set to null are deleted (Go decodes them to nothing useful); struct nulls are left to defaulting. */
function dropNullMapEntries(v: unknown, t: TypeNode): void {
  if (t.k === 'map' && isObject(v)) {
    for (const [k, c] of Object.entries(v)) {
      if (c === null) delete v[k];
      else dropNullMapEntries(c, t.elem);
    }
  } else if (t.k === 'struct' && isObject(v)) {
    for (const [k, c] of Object.entries(v)) {
      const f = t.fields.get(k);
      if (f && c !== null) dropNullMapEntries(c, f.type);
    }
  } else if (t.k === 'list' && Array.isArray(v)) {
    for (const c of v) dropNullMapEntries(c, t.elem);
  }
}

/** Update bookkeeping shared by Apply (for the other managers) and Update. */
function updateManagers(
  managers: Map<string, ManagerEntry>,
  selfKey: string,
  changed: PathSet,
  removed: PathSet,
  force: boolean,
): ApplyConflict[] {
  const conflicts: ApplyConflict[] = [];
  const conflictSets = new Map<string, PathSet>();
  for (const [key, m] of managers) {
    if (key === selfKey) continue;
    const c = m.set.intersection(changed);
    if (!c.isEmpty()) {
      conflictSets.set(key, c);
      for (const p of c.paths())
        conflicts.push({
          manager: m.manager,
          field: pathString(p),
          operation: m.operation,
          apiVersion: m.apiVersion,
          ...(m.subresource ? { subresource: m.subresource } : {}),
        });
    }
  }
  if (!force && conflicts.length > 0) return conflicts;
  for (const [key, c] of conflictSets) {
    const m = managers.get(key) as ManagerEntry;
    m.set = m.set.difference(c);
  }
  if (!removed.isEmpty()) {
    for (const [key, m] of managers) {
      if (key === selfKey) continue;
      m.set = m.set.difference(removed);
    }
  }
  for (const [key, m] of managers) if (m.set.isEmpty()) managers.delete(key);
  return [];
}

function finish(
  obj: Obj,
  managers: Map<string, ManagerEntry>,
  schemas: SchemaRegistry,
  apiVersion: string,
  kind: string,
): SimObject {
  const meta = isObject(obj.metadata) ? obj.metadata : {};
  obj.metadata = meta;
  const encoded = encodeManaged(managers);
  if (encoded.length > 0) meta.managedFields = encoded;
  else delete meta.managedFields;
  const o = obj as SimObject;
  schemas.applyDefaults(apiVersion, kind, o);
  if (typeof (schemas as { orderKeys?: unknown }).orderKeys === 'function')
    schemas.orderKeys(apiVersion, kind, o);
  return o;
}

/** "fixture-mgr" / "kubectl" using apps/v1 — printManager of the field manager's conflict errors. */
export function conflictManagerText(c: ApplyConflict): string {
  let s = JSON.stringify(c.manager);
  if (c.subresource) s += ` with subresource ${JSON.stringify(c.subresource)}`;
  if (c.operation === 'Update') s += ` using ${c.apiVersion}`;
  return s;
}

/** The 409 message of an apply conflict, as the real server words it. */
export function conflictMessage(conflicts: ApplyConflict[]): string {
  if (conflicts.length === 1) {
    const c = conflicts[0] as ApplyConflict;
    return `Apply failed with 1 conflict: conflict with ${conflictManagerText(c)}: ${c.field}`;
  }
  const byManager = new Map<string, string[]>();
  for (const c of conflicts) {
    const m = conflictManagerText(c);
    byManager.set(m, [...(byManager.get(m) ?? []), c.field]);
  }
  const lines: string[] = [];
  for (const m of [...byManager.keys()].sort()) {
    lines.push(`conflicts with ${m}`);
    for (const f of byManager.get(m) ?? []) lines.push(`- ${f}`);
  }
  return `Apply failed with ${conflicts.length} conflicts: ${lines.join('\n')}`;
}

/** `failed to create typed patch object (ns/name; apps/v1, Kind=Deployment): ...` */
export function typedPatchErrorMessage(
  obj: SimObject,
  apiVersion: string,
  result: { message: string },
): string {
  const ns = obj.metadata?.namespace;
  const where = `${ns ? `${ns}/` : ''}${obj.metadata?.name ?? ''}; ${apiVersion}, Kind=${obj.kind}`;
  return `failed to create typed patch object (${where}): ${result.message}`;
}

export function serverSideApply(args: ApplyArgs<SchemaRegistry>): ApplyResult {
  const { existing, manager, force, apiVersion, now, schemas } = args;
  const si = schemaInternals(schemas);
  const kind = args.applied.kind;
  const t = rootType(si, apiVersion, kind);

  // 1. The configuration must convert to a typed value.
  const errs = si.typedErrors(apiVersion, kind, args.applied);
  if (errs.length > 0) {
    const parts = errs.map((e) => `${e.path}: ${e.message}`);
    return {
      ok: false,
      unknownFields: errs.filter((e) => e.unknownField).map((e) => e.path),
      message: parts.length === 1 ? (parts[0] as string) : `errors:\n  ${parts.join('\n  ')}`,
    };
  }

  // 2. The configuration as merged: no status, no system metadata, canonical quantities.
  const ignored = ignoredFor(t, undefined);
  const config = structuredClone(args.applied) as Obj;
  if (!ignored.isEmpty()) delete config.status;
  if (isObject(config.metadata)) for (const k of APPLY_META_DROP) delete config.metadata[k];
  si.canonicalizeQuantities(apiVersion, kind, config);

  // 3. The live object (an empty object of the kind on create) and its managers.
  let live: Obj;
  if (existing) live = stripManaged(existing as Obj);
  else {
    live = si.zero(apiVersion, kind);
    const meta = isObject(live.metadata) ? live.metadata : {};
    const am = isObject(config.metadata) ? config.metadata : {};
    live.metadata = meta;
    if (am.name !== undefined) meta.name = am.name;
    if (am.namespace !== undefined) meta.namespace = am.namespace;
  }
  const managers = decodeManaged(existing?.metadata.managedFields);
  if (existing && managers.size === 0) {
    // skipNonAppliedManager: the first apply to an object without managedFields attributes every existing
    // field to "before-first-apply" (an Update from the empty object).
    const before = compare(si.zero(apiVersion, kind), live, t);
    const set = withoutTracked(before.added.union(before.modified), ignored);
    if (!set.isEmpty()) {
      const e: ManagerEntry = {
        manager: 'before-first-apply',
        operation: 'Update',
        apiVersion,
        time: now,
        set,
      };
      managers.set(managerKey(e), e);
    }
  }

  // 4. Merge, and the applier's new field set.
  const merged = mergeApply(live, config, t) as Obj;
  const selfKey = managerKey({ manager, operation: 'Apply', apiVersion });
  const previous = managers.get(selfKey);
  const newSet = withoutTracked(toFieldSet(config, t), ignored);
  const lastSet = previous?.set;

  // 5. Prune what this manager applied before, no longer applies, and nobody else owns. A struct field that
  // leads to something still owned (by anyone, this manager's new set included) stays, as does anything the
  // field manager never tracks (metadata.name, status...).
  if (lastSet && !lastSet.isEmpty()) {
    let owned = newSet;
    for (const [key, m] of managers) if (key !== selfKey) owned = owned.union(m.set);
    const ownedNamed = withNamedParents(owned, t);
    const untracked = STRIP_SET.union(ignored);
    for (const p of withNamedParents(lastSet, t).paths()) {
      if (ownedNamed.hasWithin(p) || untracked.hasWithin(p)) continue;
      if (p.some((_, i) => ignored.has(p.slice(0, i + 1)))) continue;
      removePath(merged, p, t);
    }
  }

  // 6. What changed, conflicts with other managers, and ownership transfer.
  const cmp = compare(live, merged, t);
  const changed = withoutTracked(cmp.modified.union(cmp.added), ignored);
  const removed = withoutTracked(cmp.removed, ignored);
  const conflicts = updateManagers(managers, selfKey, changed, removed, force);
  if (conflicts.length > 0) return { ok: false, conflicts };

  const objectChanged = !deepEqual(live, merged);
  const entry: ManagerEntry = {
    manager,
    operation: 'Apply',
    apiVersion,
    time: objectChanged || !previous ? now : previous.time,
    set: newSet,
  };
  if (newSet.isEmpty()) managers.delete(selfKey);
  else managers.set(selfKey, entry);

  dropNullMapEntries(merged, t);
  if (!existing && isObject(merged.metadata) && merged.metadata.creationTimestamp === null)
    delete merged.metadata.creationTimestamp; // the store stamps it
  if (existing) {
    const meta = isObject(merged.metadata) ? merged.metadata : {};
    merged.metadata = meta;
    for (const k of SERVER_META) if (existing.metadata[k] !== undefined) meta[k] = existing.metadata[k];
  }
  const object = finish(merged, managers, schemas, apiVersion, kind);
  if (existing && deepEqual(object, existing)) return { ok: true, object: structuredClone(existing) };
  return { ok: true, object };
}

export function recordUpdate(args: RecordUpdateArgs<SchemaRegistry>): SimObject {
  const { old, manager, apiVersion, now, schemas, subresource } = args;
  const si = schemaInternals(schemas);
  const kind = args.updated.kind;
  const t = rootType(si, apiVersion, kind);
  const ignored = ignoredFor(t, subresource);

  const sent = args.updated.metadata?.managedFields;
  let managers: Map<string, ManagerEntry>;
  if (isResetRequest(sent)) managers = new Map();
  else {
    const fromRequest = subresource ? new Map<string, ManagerEntry>() : decodeManaged(sent);
    managers = fromRequest.size > 0 ? fromRequest : decodeManaged(old?.metadata.managedFields);
  }

  const live = old ? stripManaged(old as Obj) : si.zero(apiVersion, kind);
  const next = stripManaged(args.updated as Obj);
  const cmp = compare(live, next, t);
  const changed = withoutTracked(cmp.modified.union(cmp.added), ignored);
  const removed = withoutTracked(cmp.removed, ignored);

  // The operation is recorded under a temporary manager, then merged into the caller's entry.
  const current = '\u0000current-operation';
  updateManagers(managers, current, changed, removed, true);
  const selfKey = managerKey({ manager, operation: 'Update', apiVersion, subresource });
  if (!changed.isEmpty()) {
    const prev = managers.get(selfKey);
    const e: ManagerEntry = {
      manager,
      operation: 'Update',
      apiVersion,
      time: now,
      set: prev ? prev.set.union(changed) : changed,
    };
    if (subresource) e.subresource = subresource;
    managers.set(selfKey, e);
  }
  capUpdateManagers(managers);
  const out = next as Obj;
  const meta = isObject(out.metadata) ? out.metadata : {};
  out.metadata = meta;
  const encoded = encodeManaged(managers);
  if (encoded.length > 0) meta.managedFields = encoded;
  else delete meta.managedFields;
  if (typeof (schemas as { orderKeys?: unknown }).orderKeys === 'function')
    schemas.orderKeys(apiVersion, kind, out as SimObject);
  return out as SimObject;
}
