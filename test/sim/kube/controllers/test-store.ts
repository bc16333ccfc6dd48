/**
 * A small in-memory Store for the controllers' tests, so they do not depend on store.ts. It honours the
 * contract in types.ts plus what the controllers rely on beyond it (all of which store.ts also does):
 * - pods bound to a node are deleted gracefully (deletionTimestamp + deletionGracePeriodSeconds); a second
 *   delete, or `{ gracePeriodSeconds: 0 }` as a third argument (DeleteOptions), removes them;
 * - updateStatus also takes metadata.annotations (the Deployment controller writes its revision that way);
 * - update keeps the stored status of kinds with a status subresource;
 * - Deployments bump generation on annotation changes too, as their registry strategy does.
 * Garbage collection runs synchronously inside the delete that orphans the dependents.
 */
import { randomUUID } from 'node:crypto';
import { errors } from '../errors.js';
import type { ListOptions, ObjectKey, ResourceType, SimObject, Store, WatchEvent } from '../types.js';
import {
  addListener,
  clone,
  deepEqual,
  keepStoredMeta,
  randomSuffix,
  rfc3339,
  withDeletion,
  withStatusOf,
} from './util.js';

const t = (
  group: string,
  version: string,
  resource: string,
  kind: string,
  namespaced = true,
): ResourceType => ({
  group,
  version,
  resource,
  kind,
  namespaced,
  verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'],
});

const TYPES: ResourceType[] = [
  t('', 'v1', 'namespaces', 'Namespace', false),
  t('', 'v1', 'pods', 'Pod'),
  t('', 'v1', 'events', 'Event'),
  t('', 'v1', 'services', 'Service'),
  t('', 'v1', 'endpoints', 'Endpoints'),
  t('', 'v1', 'configmaps', 'ConfigMap'),
  t('apps', 'v1', 'deployments', 'Deployment'),
  t('apps', 'v1', 'replicasets', 'ReplicaSet'),
];
const WITH_STATUS = new Set(['/pods', '/services', '/namespaces', 'apps/deployments', 'apps/replicasets']);
const WITH_GENERATION = new Set(['apps/deployments', 'apps/replicasets']);

type Key = { group: string; resource: string };
const tk = (k: Key) => `${k.group}/${k.resource}`;
const ok = (ns: string | undefined, name: string) => `${ns ?? ''}/${name}`;

export interface DeleteOptions {
  gracePeriodSeconds?: number;
  preconditions?: { uid?: string; resourceVersion?: string };
}

/** `k=v`, `k==v`, `k!=v`, `k`, `!k`, `k in (a,b)`, `k notin (a,b)`, comma-separated. */
function labelMatches(selector: string | undefined, labels: Record<string, string>): boolean {
  if (!selector) return true;
  const parts = selector.match(/[^,(]+(\([^)]*\))?/g) ?? [];
  return parts.every((raw) => {
    const p = raw.trim();
    let m = /^(\S+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(p);
    if (m) {
      const values = (m[3] ?? '').split(',').map((v) => v.trim());
      const has = Object.hasOwn(labels, m[1] as string);
      const inSet = has && values.includes(labels[m[1] as string] as string);
      return m[2] === 'in' ? inSet : !inSet;
    }
    m = /^([^=!\s]+)\s*(==|=|!=)\s*(\S*)$/.exec(p);
    if (m) {
      const eq = labels[m[1] as string] === m[3];
      return m[2] === '!=' ? !eq : eq;
    }
    if (p.startsWith('!')) return !Object.hasOwn(labels, p.slice(1));
    return Object.hasOwn(labels, p);
  });
}

function fieldMatches(selector: string | undefined, obj: SimObject): boolean {
  if (!selector) return true;
  return selector.split(',').every((term) => {
    const m = /^([^=!]+)(==|=|!=)(.*)$/.exec(term.trim());
    if (!m) return false;
    let v: unknown = obj;
    for (const seg of (m[1] as string).split('.')) v = (v as Record<string, unknown> | undefined)?.[seg];
    const eq = String(v ?? '') === m[3];
    return m[2] === '!=' ? !eq : eq;
  });
}

export class TestStore implements Store {
  readonly types = TYPES;
  private readonly objects = new Map<string, Map<string, SimObject>>();
  private readonly uids = new Map<string, { key: Key; namespace?: string; name: string }>();
  private readonly listeners = new Map<string, Set<(ev: WatchEvent) => void>>();
  private readonly queue: Array<{ type: string; ev: WatchEvent }> = [];
  private delivering = false;
  private rv = 100;

  constructor(private readonly now: () => Date = () => new Date()) {}

  typeForKind(apiVersion: string, kind: string): ResourceType | undefined {
    return TYPES.find(
      (x) => x.kind === kind && (x.group ? `${x.group}/${x.version}` : x.version) === apiVersion,
    );
  }

  private mustType(obj: SimObject): ResourceType {
    const type = this.typeForKind(obj.apiVersion, obj.kind);
    if (!type) throw errors.badRequest(`no kind "${obj.kind}" is registered for version "${obj.apiVersion}"`);
    return type;
  }

  private bucket(k: Key): Map<string, SimObject> {
    let b = this.objects.get(tk(k));
    if (!b) {
      b = new Map();
      this.objects.set(tk(k), b);
    }
    return b;
  }

  get(key: ObjectKey): SimObject | undefined {
    const o = this.objects.get(tk(key))?.get(ok(key.namespace, key.name));
    return o ? clone(o) : undefined;
  }

  list(group: string, resource: string, opts: ListOptions = {}): SimObject[] {
    return [...(this.objects.get(tk({ group, resource }))?.values() ?? [])]
      .filter((o) => opts.namespace === undefined || o.metadata.namespace === opts.namespace)
      .filter((o) => labelMatches(opts.labelSelector, o.metadata.labels ?? {}))
      .filter((o) => fieldMatches(opts.fieldSelector, o))
      .map((o) => clone(o));
  }

  resourceVersion(): string {
    return String(this.rv);
  }

  subscribe(group: string, resource: string, fn: (ev: WatchEvent) => void): () => void {
    const k = tk({ group, resource });
    return addListener(this.listeners, k, fn);
  }

  /** In resourceVersion order even when a subscriber writes from its callback. */
  private emit(k: Key, type: WatchEvent['type'], obj: SimObject): void {
    this.queue.push({ type: tk(k), ev: { type, object: clone(obj) } });
    if (this.delivering) return;
    this.delivering = true;
    try {
      for (let item = this.queue.shift(); item; item = this.queue.shift()) {
        for (const fn of [...(this.listeners.get(item.type) ?? [])]) {
          try {
            fn({ type: item.ev.type, object: clone(item.ev.object) });
          } catch {
            // one failing subscriber must not starve the others
          }
        }
      }
    } finally {
      this.delivering = false;
    }
  }

  private save(k: Key, obj: SimObject, type: 'ADDED' | 'MODIFIED'): SimObject {
    this.rv += 1;
    obj.metadata.resourceVersion = String(this.rv);
    this.bucket(k).set(ok(obj.metadata.namespace, obj.metadata.name), obj);
    this.uids.set(obj.metadata.uid, { key: k, namespace: obj.metadata.namespace, name: obj.metadata.name });
    this.emit(k, type, obj);
    return clone(obj);
  }

  create(input: SimObject): SimObject {
    const type = this.mustType(input);
    const obj = clone(input);
    const m = obj.metadata;
    if (!type.namespaced) delete m.namespace;
    else m.namespace ??= 'default';
    if (!m.name && m.generateName) m.name = `${m.generateName}${randomSuffix(5)}`;
    if (this.bucket(type).has(ok(m.namespace, m.name)))
      throw errors.alreadyExists(type.group, type.resource, m.name);
    m.uid = randomUUID();
    m.creationTimestamp = rfc3339(this.now());
    delete m.deletionTimestamp;
    delete m.deletionGracePeriodSeconds;
    if (WITH_GENERATION.has(tk(type))) m.generation = 1;
    else delete m.generation;
    if (WITH_STATUS.has(tk(type))) obj.status = {};
    return this.save(type, obj, 'ADDED');
  }

  update(input: SimObject): SimObject {
    return this.write(input, false);
  }

  updateStatus(input: SimObject): SimObject {
    return this.write(input, true);
  }

  private write(input: SimObject, statusOnly: boolean): SimObject {
    const type = this.mustType(input);
    const key = {
      ...type,
      namespace: type.namespaced ? input.metadata.namespace : undefined,
      name: input.metadata.name,
    };
    const existing = this.bucket(type).get(ok(key.namespace, key.name));
    if (!existing) throw errors.notFound(type.group, type.resource, input.metadata.name);
    const rv = input.metadata.resourceVersion;
    if (rv && rv !== existing.metadata.resourceVersion)
      throw errors.conflict(type.group, type.resource, key.name);
    let next: SimObject;
    if (statusOnly) next = withStatusOf(existing, input);
    else {
      next = clone(input);
      keepStoredMeta(next, existing);
      if (WITH_STATUS.has(tk(type))) next.status = clone(existing.status);
      const annotationsBump =
        tk(type) === 'apps/deployments' &&
        !deepEqual(existing.metadata.annotations, next.metadata.annotations);
      if (WITH_GENERATION.has(tk(type)) && (!deepEqual(existing.spec, next.spec) || annotationsBump)) {
        next.metadata.generation = (existing.metadata.generation ?? 0) + 1;
      }
    }
    const strip = (o: SimObject) => ({ ...o, metadata: { ...o.metadata, resourceVersion: undefined } });
    if (deepEqual(strip(existing), strip(next))) return clone(existing);
    if (next.metadata.finalizers?.length === 0) delete next.metadata.finalizers;
    const saved = this.save(type, next, 'MODIFIED');
    if (
      next.metadata.deletionTimestamp &&
      !next.metadata.finalizers?.length &&
      !this.inGracePeriod(type, next)
    ) {
      this.remove(type, next);
    }
    return saved;
  }

  private inGracePeriod(type: Key, o: SimObject): boolean {
    return tk(type) === '/pods' && (o.metadata.deletionGracePeriodSeconds ?? 0) > 0;
  }

  delete(
    key: ObjectKey,
    propagationPolicy?: 'Foreground' | 'Background' | 'Orphan',
    opts: DeleteOptions = {},
  ): SimObject | undefined {
    const type = TYPES.find((x) => x.group === key.group && x.resource === key.resource);
    if (!type) throw errors.resourceNotFound();
    const existing = this.bucket(type).get(ok(type.namespaced ? key.namespace : undefined, key.name));
    if (!existing) throw errors.notFound(type.group, type.resource, key.name);
    if (opts.preconditions?.uid && opts.preconditions.uid !== existing.metadata.uid) {
      throw errors.conflict(type.group, type.resource, key.name);
    }
    if (propagationPolicy === 'Orphan') {
      for (const d of this.dependents(existing.metadata.uid)) this.dropOwner(d, existing.metadata.uid);
    }
    const now = rfc3339(this.now());
    if (tk(type) === '/pods') {
      const grace = opts.gracePeriodSeconds ?? existing.spec?.terminationGracePeriodSeconds ?? 30;
      const finished = ['Succeeded', 'Failed'].includes(existing.status?.phase);
      if (!existing.metadata.deletionTimestamp && existing.spec?.nodeName && !finished && grace > 0) {
        const next = clone(existing);
        next.metadata.deletionTimestamp = rfc3339(new Date(this.now().getTime() + grace * 1000));
        next.metadata.deletionGracePeriodSeconds = grace;
        if (propagationPolicy === 'Foreground')
          next.metadata.finalizers = [...(next.metadata.finalizers ?? []), 'foregroundDeletion'];
        return this.save(type, next, 'MODIFIED');
      }
      if (existing.metadata.finalizers?.length) {
        const next = clone(existing);
        next.metadata.deletionTimestamp ??= now;
        next.metadata.deletionGracePeriodSeconds = 0;
        this.save(type, next, 'MODIFIED');
        this.settleForeground();
        return clone(next);
      }
      this.remove(type, existing);
      return undefined;
    }
    const finalizers = [...(existing.metadata.finalizers ?? [])];
    if (propagationPolicy === 'Foreground' && !finalizers.includes('foregroundDeletion'))
      finalizers.push('foregroundDeletion');
    if (finalizers.length > 0) {
      if (existing.metadata.deletionTimestamp && deepEqual(finalizers, existing.metadata.finalizers))
        return clone(existing);
      const next = withDeletion(existing, finalizers, now, WITH_GENERATION.has(tk(type)));
      const saved = this.save(type, next, 'MODIFIED');
      if (finalizers.includes('foregroundDeletion')) {
        for (const d of this.dependents(existing.metadata.uid)) this.deleteDependent(d, 'Foreground');
        this.settleForeground();
      }
      return saved;
    }
    this.remove(type, existing);
    return undefined;
  }

  private dependents(uid: string): Array<{ key: Key; obj: SimObject }> {
    const out: Array<{ key: Key; obj: SimObject }> = [];
    for (const type of TYPES) {
      for (const o of this.bucket(type).values()) {
        if (o.metadata.ownerReferences?.some((r) => r.uid === uid)) out.push({ key: type, obj: o });
      }
    }
    return out;
  }

  private deleteDependent(d: { key: Key; obj: SimObject }, policy: 'Foreground' | 'Background'): void {
    if (d.obj.metadata.deletionTimestamp) return;
    try {
      this.delete({ ...d.key, namespace: d.obj.metadata.namespace, name: d.obj.metadata.name }, policy);
    } catch {
      // gone already
    }
  }

  private dropOwner(d: { key: Key; obj: SimObject }, uid: string): void {
    const next = clone(d.obj);
    next.metadata.ownerReferences = next.metadata.ownerReferences?.filter((r) => r.uid !== uid);
    if (!next.metadata.ownerReferences?.length) delete next.metadata.ownerReferences;
    this.save(d.key, next, 'MODIFIED');
  }

  /** Removes the object, then collects dependents whose owners are all gone (Background GC). */
  private remove(type: Key, obj: SimObject): void {
    const bucket = this.bucket(type);
    const current = bucket.get(ok(obj.metadata.namespace, obj.metadata.name));
    if (!current || current.metadata.uid !== obj.metadata.uid) return;
    bucket.delete(ok(obj.metadata.namespace, obj.metadata.name));
    this.uids.delete(obj.metadata.uid);
    this.rv += 1;
    const gone = clone(current);
    gone.metadata.resourceVersion = String(this.rv);
    this.emit(type, 'DELETED', gone);
    for (const d of this.dependents(obj.metadata.uid)) {
      const live = d.obj.metadata.ownerReferences?.filter((r) => this.uids.has(r.uid)) ?? [];
      if (live.length === 0) this.deleteDependent(d, 'Background');
      else this.dropOwner(d, obj.metadata.uid);
    }
    this.settleForeground();
  }

  /** Owners deleted in the foreground go once no dependent that blocks them is left. */
  private settleForeground(): void {
    for (const type of TYPES) {
      for (const o of [...this.bucket(type).values()]) {
        if (!o.metadata.deletionTimestamp || !o.metadata.finalizers?.includes('foregroundDeletion')) continue;
        const blocking = this.dependents(o.metadata.uid).filter((d) =>
          d.obj.metadata.ownerReferences?.some((r) => r.uid === o.metadata.uid && r.blockOwnerDeletion),
        );
        if (blocking.length > 0) continue;
        const next = clone(o);
        next.metadata.finalizers = o.metadata.finalizers.filter((f) => f !== 'foregroundDeletion');
        this.write(next, false);
      }
    }
  }
}

export function createTestStore(now?: () => Date): TestStore {
  return new TestStore(now);
}
