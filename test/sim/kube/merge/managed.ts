/**
 * metadata.managedFields as the API server's field manager keeps them
 * (k8s.io/apimachinery/pkg/util/managedfields/internal): decoding, the manager identity, encoding and sort order.
 */
import { isObject } from '../schema/openapi.js';
import { PathSet } from './fieldpath.js';

export interface ManagerEntry {
  manager: string;
  operation: string;
  apiVersion: string;
  time?: string | null;
  subresource?: string;
  set: PathSet;
}

/** BuildManagerIdentifier: appliers are identified without their apiVersion. */
export function managerKey(
  e: Pick<ManagerEntry, 'manager' | 'operation' | 'apiVersion' | 'subresource'>,
): string {
  return JSON.stringify([
    e.manager,
    e.operation,
    e.operation === 'Apply' ? '' : e.apiVersion,
    e.subresource ?? '',
  ]);
}

/** Decodes managedFields; entries that are not FieldsV1 are dropped (the real server resets invalid ones). */
export function decodeManaged(v: unknown): Map<string, ManagerEntry> {
  const out = new Map<string, ManagerEntry>();
  if (!Array.isArray(v)) return out;
  for (const raw of v) {
    if (!isObject(raw)) continue;
    if (raw.fieldsType !== undefined && raw.fieldsType !== 'FieldsV1') continue;
    const e: ManagerEntry = {
      manager: typeof raw.manager === 'string' ? raw.manager : '',
      operation: typeof raw.operation === 'string' ? raw.operation : '',
      apiVersion: typeof raw.apiVersion === 'string' ? raw.apiVersion : '',
      time: typeof raw.time === 'string' ? raw.time : raw.time === null ? null : undefined,
      set: PathSet.fromFieldsV1(raw.fieldsV1),
    };
    if (typeof raw.subresource === 'string' && raw.subresource) e.subresource = raw.subresource;
    const key = managerKey(e);
    const prev = out.get(key);
    if (prev) prev.set = prev.set.union(e.set);
    else out.set(key, e);
  }
  return out;
}

/** True when managedFields are present but carry nothing (`[{}]` resets them on an update). */
export function isResetRequest(v: unknown): boolean {
  return Array.isArray(v) && v.length > 0 && v.every((e) => isObject(e) && Object.keys(e).length === 0);
}

function seconds(t: string | null | undefined): number {
  if (!t) return 0;
  const ms = Date.parse(t);
  return Number.isNaN(ms) ? 0 : Math.floor(ms / 1000);
}

/** Encodes and sorts (operation, time, manager, apiVersion, subresource) as encodeManagedFields does. */
export function encodeManaged(managers: Map<string, ManagerEntry>): Array<Record<string, unknown>> {
  const entries = [...managers.values()].filter((e) => !e.set.isEmpty());
  entries.sort((p, q) => {
    if (p.operation !== q.operation) return p.operation < q.operation ? -1 : 1;
    const ps = seconds(p.time);
    const qs = seconds(q.time);
    if (ps !== qs) return ps - qs;
    if (p.manager !== q.manager) return p.manager < q.manager ? -1 : 1;
    if (p.apiVersion !== q.apiVersion) return p.apiVersion < q.apiVersion ? -1 : 1;
    const pr = p.subresource ?? '';
    const qr = q.subresource ?? '';
    return pr < qr ? -1 : pr > qr ? 1 : 0;
  });
  return entries.map((e) => {
    const out: Record<string, unknown> = {
      manager: e.manager,
      operation: e.operation,
      apiVersion: e.apiVersion,
    };
    if (e.time !== undefined) out.time = e.time;
    out.fieldsType = 'FieldsV1';
    out.fieldsV1 = e.set.toFieldsV1();
    if (e.subresource) out.subresource = e.subresource;
    return out;
  });
}

/** capManagersManager: at most 10 Update managers; the oldest are merged into "ancient-changes" per apiVersion. */
export function capUpdateManagers(managers: Map<string, ManagerEntry>, max = 10): void {
  const updaters = [...managers.entries()].filter(([, e]) => e.operation !== 'Apply');
  if (updaters.length <= max) return;
  updaters.sort(([ka, a], [kb, b]) => seconds(a.time) - seconds(b.time) || (ka < kb ? -1 : ka > kb ? 1 : 0));
  const firstByVersion = new Map<string, string>();
  let length = updaters.length;
  for (let i = 0; i < updaters.length && length > max; i++) {
    const [key, e] = updaters[i] as [string, ManagerEntry];
    const bucketKey = managerKey({
      manager: 'ancient-changes',
      operation: 'Update',
      apiVersion: e.apiVersion,
    });
    const first = firstByVersion.get(e.apiVersion);
    if (first === undefined) {
      firstByVersion.set(e.apiVersion, key);
      continue;
    }
    let bucket = managers.get(bucketKey);
    if (!bucket) {
      const f = managers.get(first) as ManagerEntry;
      managers.delete(first);
      bucket = { ...f, manager: 'ancient-changes', operation: 'Update', subresource: undefined };
      delete bucket.subresource;
      managers.set(bucketKey, bucket);
    }
    bucket.set = e.set.union(bucket.set);
    bucket.time = e.time;
    managers.delete(key);
    length--;
  }
}
