/**
 * The object store: what etcd plus the registry strategies, the garbage collector, the namespace controller
 * and the root-CA publisher do in a real control plane.
 *
 * Choices:
 * - One global counter is the resourceVersion of every write, as in etcd. Writes that change nothing are
 *   not written (no new resourceVersion, no event), as the real server skips no-op updates.
 * - Events are queued and delivered in resourceVersion order even when a subscriber writes from inside
 *   its callback, so a watcher never sees MODIFIED before the ADDED it follows.
 * - A bounded history of events lets a watch start from a past resourceVersion (410 Expired beyond it).
 * - Pods on a node are deleted gracefully: delete() sets deletionTimestamp/deletionGracePeriodSeconds and
 *   emits MODIFIED; the kubelet (controllers/) stops the containers and calls delete() again, which removes
 *   the pod. Pods never scheduled or already finished go at once.
 * - The garbage collector and the namespace controller run asynchronously (setImmediate, or after
 *   `gcDelayMs`), as their real counterparts do, so a foreground delete is observable in between.
 */
import { randomUUID } from 'node:crypto';
import { admitPod, randomSuffix } from './admission.js';
import {
  addListener,
  clone,
  deepEqual,
  keepStoredMeta,
  rfc3339,
  withDeletion,
  withStatusOf,
} from './controllers/util.js';
import { errors } from './errors.js';
import { enforcePodSecurity } from './podsecurity.js';
import { apiVersionOf, hasGeneration, hasStatusSubresource } from './resources.js';
import { goFieldOrder } from './schema/goorder.js';
import { compileSelector } from './selectors.js';
import type { ListOptions, ObjectKey, ResourceType, SimObject, Store, WatchEvent } from './types.js';

export interface StoreOptions {
  types: ResourceType[];
  /** PEM published as `kube-root-ca.crt` in every namespace. */
  caPem?: string;
  /** Clock for timestamps; tests may move it. */
  now?: () => Date;
  /** Delay before each garbage-collector pass (ms). 0 runs it on the next turn of the event loop. */
  gcDelayMs?: number;
  /** Events kept for watches from a past resourceVersion. */
  historySize?: number;
}

export interface DeleteOptions {
  /** Pods only: overrides spec.terminationGracePeriodSeconds; 0 removes at once. */
  gracePeriodSeconds?: number;
  preconditions?: { uid?: string; resourceVersion?: string };
}

export interface HistoryEntry {
  rv: number;
  group: string;
  resource: string;
  event: WatchEvent;
}

type Listener = (ev: WatchEvent) => void;

// One copy of these for the store and the controllers (whose test store must not depend on this file).
export { clone, deepEqual, rfc3339 } from './controllers/util.js';

// ObjectMeta fields in Go struct order, so objects serialize as a real server's do.
export const META_ORDER = goFieldOrder('io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta') ?? [];

// Go serializes every map with its keys sorted; these are the map-typed fields of the served kinds.
const STRING_MAPS = new Set([
  'labels',
  'annotations',
  'matchLabels',
  'nodeSelector',
  'requests',
  'limits',
  'capacity',
  'allocatable',
  'hard',
  'used',
]);

function sortMap(v: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(v).sort()) out[k] = v[k];
  return out;
}

function isFlatMap(v: unknown): v is Record<string, unknown> {
  return (
    typeof v === 'object' &&
    v !== null &&
    !Array.isArray(v) &&
    Object.values(v).every((x) => typeof x !== 'object' || x === null)
  );
}

function sortStringMaps(v: unknown): void {
  if (Array.isArray(v)) {
    for (const x of v) sortStringMaps(x);
    return;
  }
  if (typeof v !== 'object' || v === null) return;
  const o = v as Record<string, unknown>;
  for (const [k, x] of Object.entries(o)) {
    if (STRING_MAPS.has(k) && isFlatMap(x)) o[k] = sortMap(x);
    else sortStringMaps(x);
  }
}

/** kind, apiVersion, metadata (in Go order), then the rest as given; maps sorted as Go writes them. */
export function canonicalize(obj: SimObject): SimObject {
  sortStringMaps(obj);
  for (const k of ['data', 'binaryData', 'stringData']) {
    if (isFlatMap(obj[k]) && (obj.kind === 'ConfigMap' || obj.kind === 'Secret')) obj[k] = sortMap(obj[k]);
  }
  const meta: Record<string, unknown> = {};
  for (const k of META_ORDER) if (obj.metadata[k] !== undefined) meta[k] = obj.metadata[k];
  for (const [k, v] of Object.entries(obj.metadata)) if (!(k in meta) && v !== undefined) meta[k] = v;
  const out: Record<string, unknown> = { kind: obj.kind, apiVersion: obj.apiVersion, metadata: meta };
  for (const [k, v] of Object.entries(obj)) if (!(k in out)) out[k] = v;
  return out as SimObject;
}

const ROOT_CA_DESCRIPTION =
  'Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters.';

function typeKey(group: string, resource: string): string {
  return `${group}/${resource}`;
}
function objKey(namespace: string | undefined, name: string): string {
  return `${namespace ?? ''}/${name}`;
}

export class MemoryStore implements Store {
  readonly types: ResourceType[];
  private readonly byType = new Map<string, Map<string, SimObject>>();
  private readonly uids = new Map<string, { t: ResourceType; namespace?: string; name: string }>();
  private readonly listeners = new Map<string, Set<Listener>>();
  private readonly anyListeners = new Set<(t: ResourceType, ev: WatchEvent) => void>();
  private readonly queue: Array<{ t: ResourceType; ev: WatchEvent }> = [];
  private delivering = false;
  private readonly history: HistoryEntry[] = [];
  private readonly historySize: number;
  private rv = 1000;
  private gcTimer: NodeJS.Immediate | NodeJS.Timeout | undefined;
  private closed = false;
  caPem: string;
  now: () => Date;
  gcDelayMs: number;

  constructor(opts: StoreOptions) {
    this.types = opts.types;
    this.caPem = opts.caPem ?? '';
    this.now = opts.now ?? (() => new Date());
    this.gcDelayMs = opts.gcDelayMs ?? 0;
    this.historySize = opts.historySize ?? 20_000;
  }

  // ---- lookups

  typeForKind(apiVersion: string, kind: string): ResourceType | undefined {
    return this.types.find((t) => t.kind === kind && apiVersionOf(t) === apiVersion);
  }

  typeFor(group: string, resource: string): ResourceType | undefined {
    return this.types.find((t) => t.group === group && t.resource === resource);
  }

  private mustType(group: string, resource: string): ResourceType {
    const t = this.typeFor(group, resource);
    if (!t) throw errors.resourceNotFound();
    return t;
  }

  private bucket(t: Pick<ResourceType, 'group' | 'resource'>): Map<string, SimObject> {
    const k = typeKey(t.group, t.resource);
    let b = this.byType.get(k);
    if (!b) {
      b = new Map();
      this.byType.set(k, b);
    }
    return b;
  }

  get(key: ObjectKey): SimObject | undefined {
    const o = this.byType.get(typeKey(key.group, key.resource))?.get(objKey(key.namespace, key.name));
    return o ? clone(o) : undefined;
  }

  /** The live object, not a copy: for the server's hot paths that only read. */
  peek(key: ObjectKey): SimObject | undefined {
    return this.byType.get(typeKey(key.group, key.resource))?.get(objKey(key.namespace, key.name));
  }

  getByUid(uid: string): SimObject | undefined {
    const ref = this.uids.get(uid);
    if (!ref) return undefined;
    return this.get({
      group: ref.t.group,
      resource: ref.t.resource,
      namespace: ref.namespace,
      name: ref.name,
    });
  }

  list(group: string, resource: string, opts: ListOptions = {}): SimObject[] {
    const sel = compileSelector(group, resource, opts.labelSelector, opts.fieldSelector);
    const out: SimObject[] = [];
    for (const o of this.byType.get(typeKey(group, resource))?.values() ?? []) {
      if (opts.namespace !== undefined && o.metadata.namespace !== opts.namespace) continue;
      if (sel.matches(o)) out.push(clone(o));
    }
    // etcd returns keys in order: namespace, then name.
    return out.sort((a, b) => {
      const ka = objKey(a.metadata.namespace, a.metadata.name);
      const kb = objKey(b.metadata.namespace, b.metadata.name);
      return ka < kb ? -1 : ka > kb ? 1 : 0;
    });
  }

  resourceVersion(): string {
    return String(this.rv);
  }

  /** Events after `rv` for a type, or undefined when the history no longer reaches back that far. */
  eventsSince(group: string, resource: string, rv: number): WatchEvent[] | undefined {
    const oldest = this.history[0];
    if (oldest && rv < oldest.rv - 1 && this.history.length >= this.historySize) return undefined;
    return this.history
      .filter((h) => h.rv > rv && h.group === group && h.resource === resource)
      .map((h) => clone(h.event));
  }

  oldestResourceVersion(): string {
    return String(this.history[0]?.rv ?? this.rv);
  }

  // ---- events

  subscribe(group: string, resource: string, fn: Listener): () => void {
    const k = typeKey(group, resource);
    return addListener(this.listeners, k, fn);
  }

  /** Every event of every type (the audit of writes in tests, the GC). */
  subscribeAll(fn: (t: ResourceType, ev: WatchEvent) => void): () => void {
    this.anyListeners.add(fn);
    return () => this.anyListeners.delete(fn);
  }

  private emit(t: ResourceType, type: WatchEvent['type'], obj: SimObject): void {
    const ev: WatchEvent = { type, object: clone(obj) };
    this.history.push({
      rv: Number(obj.metadata.resourceVersion),
      group: t.group,
      resource: t.resource,
      event: ev,
    });
    if (this.history.length > this.historySize)
      this.history.splice(0, this.history.length - this.historySize);
    this.queue.push({ t, ev });
    if (this.delivering) return;
    this.delivering = true;
    try {
      for (let item = this.queue.shift(); item; item = this.queue.shift()) {
        const { t: it, ev: e } = item;
        for (const fn of [...(this.listeners.get(typeKey(it.group, it.resource)) ?? [])]) {
          try {
            fn({ type: e.type, object: clone(e.object) });
          } catch {
            // A failing subscriber must not stop delivery to the others; like a dropped watch.
          }
        }
        for (const fn of [...this.anyListeners]) {
          try {
            fn(it, { type: e.type, object: clone(e.object) });
          } catch {
            // see above
          }
        }
      }
    } finally {
      this.delivering = false;
    }
  }

  private nextRv(): string {
    this.rv += 1;
    return String(this.rv);
  }

  private put(t: ResourceType, obj: SimObject): void {
    this.bucket(t).set(objKey(obj.metadata.namespace, obj.metadata.name), obj);
    this.uids.set(obj.metadata.uid, { t, namespace: obj.metadata.namespace, name: obj.metadata.name });
  }

  private remove(t: ResourceType, obj: SimObject): SimObject {
    this.bucket(t).delete(objKey(obj.metadata.namespace, obj.metadata.name));
    this.uids.delete(obj.metadata.uid);
    const gone = clone(obj);
    gone.metadata.resourceVersion = this.nextRv();
    this.emit(t, 'DELETED', gone);
    this.scheduleGc();
    return gone;
  }

  // ---- writes

  create(input: SimObject): SimObject {
    const t = this.typeForKind(input.apiVersion, input.kind);
    if (!t)
      throw errors.badRequest(`no kind "${input.kind}" is registered for version "${input.apiVersion}"`);
    const obj = clone(input);
    obj.metadata ??= {} as SimObject['metadata'];
    const meta = obj.metadata;
    if (!t.namespaced) delete meta.namespace;
    else if (!meta.namespace) meta.namespace = 'default';

    if (!meta.name && meta.generateName) {
      do meta.name = `${meta.generateName}${randomSuffix(5)}`;
      while (this.peek({ group: t.group, resource: t.resource, namespace: meta.namespace, name: meta.name }));
    }
    if (!meta.name) {
      throw errors.invalid(t.kind, t.group, '', [
        {
          reason: 'FieldValueRequired',
          field: 'metadata.name',
          message: 'Required value: name or generateName is required',
        },
      ]);
    }
    if (t.namespaced) this.checkNamespaceForCreate(t, meta.namespace as string, meta.name);
    if (this.peek({ group: t.group, resource: t.resource, namespace: meta.namespace, name: meta.name })) {
      throw errors.alreadyExists(t.group, t.resource, meta.name);
    }

    for (const k of ['uid', 'resourceVersion', 'generation', 'creationTimestamp', 'deletionTimestamp'])
      delete meta[k];
    delete meta.deletionGracePeriodSeconds;
    meta.uid = randomUUID();
    meta.creationTimestamp = rfc3339(this.now());
    if (hasGeneration(t)) meta.generation = 1;
    this.prepareForCreate(t, obj);
    meta.resourceVersion = this.nextRv();
    const stored = canonicalize(obj);
    this.put(t, stored);
    this.emit(t, 'ADDED', stored);
    if (t.group === '' && t.resource === 'namespaces') this.populateNamespace(stored.metadata.name);
    return clone(stored);
  }

  private checkNamespaceForCreate(t: ResourceType, namespace: string, name: string): void {
    const ns = this.peek({ group: '', resource: 'namespaces', name: namespace });
    if (!ns) throw errors.notFound('', 'namespaces', namespace);
    // Events stay writable so the kubelet can report on pods it is stopping in a terminating namespace.
    if (ns.metadata.deletionTimestamp && t.resource !== 'events') {
      throw errors.namespaceTerminating(t.group, t.resource, name, namespace);
    }
  }

  /** The registry strategies' PrepareForCreate: status is the server's, not the client's. */
  private prepareForCreate(t: ResourceType, obj: SimObject): void {
    const key = typeKey(t.group, t.resource);
    if (key === '/pods') {
      enforcePodSecurity(
        this.peek({ group: '', resource: 'namespaces', name: obj.metadata.namespace as string }),
        obj,
      );
      admitPod(obj);
      return;
    }
    if (key === '/namespaces') {
      obj.metadata.labels = {
        ...(obj.metadata.labels ?? {}),
        'kubernetes.io/metadata.name': obj.metadata.name,
      };
      obj.spec = { ...(obj.spec ?? {}), finalizers: obj.spec?.finalizers ?? ['kubernetes'] };
      obj.status = { phase: 'Active' };
      return;
    }
    if (key === '/services') {
      obj.status = { loadBalancer: {} };
      return;
    }
    if (key === '/persistentvolumeclaims') {
      obj.status = { phase: 'Pending' };
      return;
    }
    if (hasStatusSubresource(t)) obj.status = {};
  }

  /** What the root-CA publisher and the serviceaccount controller add to every new namespace. */
  private populateNamespace(namespace: string): void {
    this.create({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: {
        name: 'kube-root-ca.crt',
        namespace,
        annotations: { 'kubernetes.io/description': ROOT_CA_DESCRIPTION },
      } as Partial<SimObject['metadata']> as SimObject['metadata'],
      data: { 'ca.crt': this.caPem },
    });
    this.create({
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: { name: 'default', namespace } as SimObject['metadata'],
    });
  }

  update(input: SimObject): SimObject {
    return this.write(input, false);
  }

  updateStatus(input: SimObject): SimObject {
    return this.write(input, true);
  }

  private write(input: SimObject, statusOnly: boolean): SimObject {
    const t = this.typeForKind(input.apiVersion, input.kind);
    if (!t)
      throw errors.badRequest(`no kind "${input.kind}" is registered for version "${input.apiVersion}"`);
    const key = {
      group: t.group,
      resource: t.resource,
      namespace: t.namespaced ? input.metadata.namespace : undefined,
      name: input.metadata.name,
    };
    const existing = this.peek(key);
    if (!existing) throw errors.notFound(t.group, t.resource, input.metadata.name);
    if (
      input.metadata.resourceVersion &&
      input.metadata.resourceVersion !== existing.metadata.resourceVersion
    ) {
      throw errors.conflict(t.group, t.resource, input.metadata.name);
    }
    if (input.metadata.uid && input.metadata.uid !== existing.metadata.uid) {
      throw errors.preconditionFailed(
        `Precondition failed: UID in precondition: ${input.metadata.uid}, UID in object meta: ${existing.metadata.uid}`,
      );
    }

    let next: SimObject;
    if (statusOnly) {
      next = withStatusOf(existing, input);
      if (input.metadata.managedFields !== undefined)
        next.metadata.managedFields = clone(input.metadata.managedFields);
    } else {
      next = clone(input);
      const m = next.metadata;
      keepStoredMeta(next, existing);
      if (hasStatusSubresource(t)) {
        if (existing.status === undefined) delete next.status;
        else next.status = clone(existing.status);
      }
      if (t.group === '' && t.resource === 'namespaces') next.spec = clone(existing.spec);
      if (t.group === '' && t.resource === 'pods') this.keepImmutablePodFields(existing, next);
      if (hasGeneration(t) && this.specChanged(t, existing, next)) {
        m.generation = (existing.metadata.generation ?? 0) + 1;
      }
    }
    return this.commit(t, existing, next);
  }

  /** Stores a delete in progress (deletionTimestamp set): the garbage collector finishes it. */
  private markDeleting(t: ResourceType, next: SimObject): SimObject {
    next.metadata.resourceVersion = this.nextRv();
    const stored = canonicalize(next);
    this.put(t, stored);
    this.emit(t, 'MODIFIED', stored);
    this.scheduleGc();
    return clone(stored);
  }

  private keepImmutablePodFields(existing: SimObject, next: SimObject): void {
    // Pod spec is mostly immutable; nodeName is set by binding, which the scheduler does through update.
    if (next.spec?.nodeName === undefined && existing.spec?.nodeName !== undefined) {
      next.spec = { ...next.spec, nodeName: existing.spec.nodeName };
    }
  }

  /** Deployments also bump on annotation changes: their strategy copies annotations to ReplicaSets. */
  private specChanged(t: ResourceType, a: SimObject, b: SimObject): boolean {
    if (!deepEqual(a.spec, b.spec)) return true;
    if (t.group === 'apps' && t.resource === 'deployments') {
      return !deepEqual(a.metadata.annotations ?? {}, b.metadata.annotations ?? {});
    }
    return false;
  }

  /** Saves `next` over `existing` unless nothing changed; deletes a terminating object whose finalizers are gone. */
  private commit(t: ResourceType, existing: SimObject, next: SimObject): SimObject {
    const strip = (o: SimObject) => {
      const c = clone(o);
      c.metadata.resourceVersion = '';
      c.metadata.managedFields = (
        c.metadata.managedFields as Array<Record<string, unknown>> | undefined
      )?.map((f) => ({ ...f, time: undefined }));
      return c;
    };
    if (deepEqual(strip(existing), strip(next))) return clone(existing);
    if (next.metadata.finalizers?.length === 0) delete next.metadata.finalizers;
    const finalizersChanged = !deepEqual(existing.metadata.finalizers ?? [], next.metadata.finalizers ?? []);
    next.metadata.resourceVersion = this.nextRv();
    const stored = canonicalize(next);
    if (
      stored.metadata.deletionTimestamp &&
      !stored.metadata.finalizers?.length &&
      !this.isGracefulPod(t, stored)
    ) {
      this.put(t, stored);
      this.emit(t, 'MODIFIED', stored);
      return this.remove(t, stored);
    }
    this.put(t, stored);
    this.emit(t, 'MODIFIED', stored);
    if (finalizersChanged) this.scheduleGc();
    return clone(stored);
  }

  /** A pod still inside its grace period: the kubelet removes it, not the last finalizer. */
  private isGracefulPod(t: ResourceType, obj: SimObject): boolean {
    return t.group === '' && t.resource === 'pods' && (obj.metadata.deletionGracePeriodSeconds ?? 0) > 0;
  }

  delete(
    key: ObjectKey,
    propagationPolicy?: 'Foreground' | 'Background' | 'Orphan',
    opts: DeleteOptions = {},
  ): SimObject | undefined {
    const t = this.mustType(key.group, key.resource);
    const k = { ...key, namespace: t.namespaced ? key.namespace : undefined };
    const existing = this.peek(k);
    if (!existing) throw errors.notFound(t.group, t.resource, key.name);
    const pre = opts.preconditions;
    if (pre?.uid && pre.uid !== existing.metadata.uid) {
      throw errors.preconditionFailed(
        `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${existing.metadata.uid}`,
      );
    }
    if (pre?.resourceVersion && pre.resourceVersion !== existing.metadata.resourceVersion) {
      throw errors.preconditionFailed(
        `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${existing.metadata.resourceVersion}`,
      );
    }
    const now = rfc3339(this.now());

    if (t.group === '' && t.resource === 'namespaces') {
      if (existing.metadata.deletionTimestamp) return clone(existing);
      const next = clone(existing);
      next.metadata.deletionTimestamp = now;
      next.status = { ...(next.status ?? {}), phase: 'Terminating' };
      return this.markDeleting(t, next);
    }

    if (propagationPolicy === 'Orphan') this.orphanDependents(existing.metadata.uid);

    const isPod = t.group === '' && t.resource === 'pods';
    if (isPod) {
      const terminating = existing.metadata.deletionTimestamp !== undefined;
      const finished = existing.status?.phase === 'Succeeded' || existing.status?.phase === 'Failed';
      const grace = opts.gracePeriodSeconds ?? existing.spec?.terminationGracePeriodSeconds ?? 30;
      if (!terminating && existing.spec?.nodeName && !finished && grace > 0) {
        const next = clone(existing);
        next.metadata.deletionTimestamp = rfc3339(new Date(this.now().getTime() + grace * 1000));
        next.metadata.deletionGracePeriodSeconds = grace;
        if (propagationPolicy === 'Foreground') {
          next.metadata.finalizers = [...(next.metadata.finalizers ?? []), 'foregroundDeletion'];
        }
        return this.markDeleting(t, next);
      }
      if (existing.metadata.finalizers?.length) {
        // The kubelet is done: what is left waits for its finalizers with a zero grace period.
        const next = clone(existing);
        next.metadata.deletionTimestamp ??= now;
        next.metadata.deletionGracePeriodSeconds = 0;
        return this.commit(t, existing, next);
      }
      this.remove(t, existing);
      return undefined;
    }

    const finalizers = [...(existing.metadata.finalizers ?? [])];
    if (propagationPolicy === 'Foreground' && !finalizers.includes('foregroundDeletion')) {
      finalizers.push('foregroundDeletion');
    }
    if (finalizers.length > 0) {
      if (existing.metadata.deletionTimestamp && deepEqual(finalizers, existing.metadata.finalizers)) {
        return clone(existing);
      }
      return this.markDeleting(t, withDeletion(existing, finalizers, now, hasGeneration(t)));
    }
    this.remove(t, existing);
    return undefined;
  }

  private orphanDependents(uid: string): void {
    for (const [k, bucket] of this.byType) {
      const t = this.types.find((x) => typeKey(x.group, x.resource) === k);
      if (!t) continue;
      for (const o of [...bucket.values()]) {
        if (!o.metadata.ownerReferences?.some((r) => r.uid === uid)) continue;
        const next = clone(o);
        next.metadata.ownerReferences = o.metadata.ownerReferences.filter((r) => r.uid !== uid);
        if (next.metadata.ownerReferences.length === 0) next.metadata.ownerReferences = undefined;
        this.commit(t, o, next);
      }
    }
  }

  // ---- garbage collector and namespace controller

  private scheduleGc(): void {
    if (this.gcTimer || this.closed) return;
    const run = () => {
      this.gcTimer = undefined;
      try {
        this.collectGarbage();
      } catch {
        // Objects can vanish between the scan and the write; the next pass settles it.
      }
    };
    this.gcTimer = this.gcDelayMs > 0 ? setTimeout(run, this.gcDelayMs) : setImmediate(run);
  }

  /** One pass; every write it makes schedules the next pass, until nothing is left to do. */
  collectGarbage(): void {
    const all: Array<{ t: ResourceType; o: SimObject }> = [];
    for (const t of this.types)
      for (const o of this.byType.get(typeKey(t.group, t.resource))?.values() ?? []) all.push({ t, o });

    const dependents = new Map<string, Array<{ t: ResourceType; o: SimObject; block: boolean }>>();
    for (const { t, o } of all) {
      for (const r of o.metadata.ownerReferences ?? []) {
        const list = dependents.get(r.uid) ?? [];
        list.push({ t, o, block: r.blockOwnerDeletion === true });
        dependents.set(r.uid, list);
      }
    }

    for (const { t, o } of all) {
      const refs = o.metadata.ownerReferences;
      if (!refs?.length) continue;
      const owners = refs.map((r) => this.uids.get(r.uid));
      const live = refs.filter((_, i) => owners[i] !== undefined);
      if (live.length === 0) {
        if (!o.metadata.deletionTimestamp) this.tryDelete(t, o, 'Background');
        continue;
      }
      if (live.length < refs.length) {
        const next = clone(o);
        next.metadata.ownerReferences = live;
        this.commit(t, o, next);
        continue;
      }
      // Dependents of an owner deleted in the foreground go first, in the foreground too.
      const foregroundOwner = live.some((r) => {
        const ref = this.uids.get(r.uid);
        const owner =
          ref &&
          this.peek({
            group: ref.t.group,
            resource: ref.t.resource,
            namespace: ref.namespace,
            name: ref.name,
          });
        return owner?.metadata.finalizers?.includes('foregroundDeletion') && owner.metadata.deletionTimestamp;
      });
      if (foregroundOwner && !o.metadata.deletionTimestamp) this.tryDelete(t, o, 'Foreground');
    }

    for (const { t, o } of all) {
      if (!o.metadata.deletionTimestamp || !o.metadata.finalizers?.includes('foregroundDeletion')) continue;
      const blocking = (dependents.get(o.metadata.uid) ?? []).filter(
        (d) => d.block && this.uids.has(d.o.metadata.uid),
      );
      if (blocking.length > 0) continue;
      const current = this.peek({
        group: t.group,
        resource: t.resource,
        namespace: o.metadata.namespace,
        name: o.metadata.name,
      });
      if (!current) continue;
      const next = clone(current);
      next.metadata.finalizers = (current.metadata.finalizers ?? []).filter(
        (f) => f !== 'foregroundDeletion',
      );
      this.commit(t, current, next);
    }

    for (const ns of [...(this.byType.get('/namespaces')?.values() ?? [])]) {
      if (ns.metadata.deletionTimestamp) this.finalizeNamespace(ns);
    }
  }

  private tryDelete(t: ResourceType, o: SimObject, policy: 'Foreground' | 'Background'): void {
    try {
      this.delete(
        { group: t.group, resource: t.resource, namespace: o.metadata.namespace, name: o.metadata.name },
        policy,
      );
    } catch {
      // already gone
    }
  }

  private finalizeNamespace(ns: SimObject): void {
    const name = ns.metadata.name;
    let left = 0;
    for (const t of this.types) {
      if (!t.namespaced) continue;
      for (const o of [...(this.byType.get(typeKey(t.group, t.resource))?.values() ?? [])]) {
        if (o.metadata.namespace !== name) continue;
        left++;
        if (!o.metadata.deletionTimestamp) this.tryDelete(t, o, 'Background');
      }
    }
    if (left > 0) return;
    const t = this.mustType('', 'namespaces');
    const current = this.peek({ group: '', resource: 'namespaces', name });
    if (current) this.remove(t, current);
  }

  /** Stops the garbage collector; the store stays readable. */
  close(): void {
    this.closed = true;
    if (this.gcTimer) {
      clearTimeout(this.gcTimer as NodeJS.Timeout);
      clearImmediate(this.gcTimer as NodeJS.Immediate);
      this.gcTimer = undefined;
    }
  }
}
