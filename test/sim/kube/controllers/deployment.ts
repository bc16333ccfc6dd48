/**
 * The Deployment controller, following pkg/controller/deployment of kube-controller-manager 1.32 closely
 * enough that the status sequence of a rollout is the recorded one (fixtures 012/013, 017, 087-089):
 * the order in which conditions are replaced (SetDeploymentCondition appends the changed one, which is why
 * the two conditions swap places in fixture 017), which write carries which counts, and when
 * ProgressDeadlineExceeded fires. Function names match the Go ones to make the two easy to compare.
 *
 * Left out: rollback via annotations, paused-deployment conditions (paused only stops rollouts), adoption of
 * orphaned ReplicaSets, minReadySeconds on the Deployment's own availability (the ReplicaSets honour it).
 */
import type { SimObject } from '../types.js';
import type { EventRecorder } from './events.js';
import { nsKey, type Runtime, splitKey, WorkQueue } from './runtime.js';
import {
  canonicalJson,
  clone,
  controllerRef,
  deepEqual,
  errorMessage,
  isAlreadyExists,
  type LabelSelector,
  newControllerRef,
  parseTime,
  podTemplateHash,
  rfc3339,
} from './util.js';

export const DEPLOYMENTS = { group: 'apps', resource: 'deployments' };
export const REPLICASETS = { group: 'apps', resource: 'replicasets' };
const PODS = { group: '', resource: 'pods' };

const REVISION = 'deployment.kubernetes.io/revision';
const REVISION_HISTORY = 'deployment.kubernetes.io/revision-history';
const DESIRED_REPLICAS = 'deployment.kubernetes.io/desired-replicas';
const MAX_REPLICAS = 'deployment.kubernetes.io/max-replicas';
const HASH_LABEL = 'pod-template-hash';
const SKIP_COPY = new Set([
  'kubectl.kubernetes.io/last-applied-configuration',
  REVISION,
  REVISION_HISTORY,
  DESIRED_REPLICAS,
  MAX_REPLICAS,
  'deprecated.deployment.rollback.to',
]);
const SOURCE = { component: 'deployment-controller' };

type IntOrString = number | string;

interface PodTemplate {
  metadata?: { labels?: Record<string, string>; annotations?: Record<string, string>; [k: string]: unknown };
  spec?: Record<string, unknown>;
}

interface DeploymentSpec {
  replicas?: number;
  selector?: LabelSelector;
  template?: PodTemplate;
  strategy?: { type?: string; rollingUpdate?: { maxSurge?: IntOrString; maxUnavailable?: IntOrString } };
  minReadySeconds?: number;
  revisionHistoryLimit?: number;
  paused?: boolean;
  progressDeadlineSeconds?: number;
}

export interface Condition {
  type: string;
  status: string;
  lastUpdateTime?: string;
  lastTransitionTime?: string;
  reason?: string;
  message?: string;
}

/** Working form of DeploymentStatus: plain numbers; `format` applies omitempty and the Go field order. */
interface Status {
  observedGeneration: number;
  replicas: number;
  updatedReplicas: number;
  readyReplicas: number;
  availableReplicas: number;
  unavailableReplicas: number;
  conditions: Condition[];
  collisionCount?: number;
}

interface RSStatusView {
  replicas?: number;
  readyReplicas?: number;
  availableReplicas?: number;
  observedGeneration?: number;
}

// ---- small accessors (the store may or may not have applied the API defaults)

function dspec(d: SimObject): DeploymentSpec {
  return (d.spec ?? {}) as DeploymentSpec;
}
function replicasOf(d: SimObject): number {
  return dspec(d).replicas ?? 1;
}
function rsReplicas(rs: SimObject | undefined): number {
  return (rs?.spec?.replicas as number | undefined) ?? 0;
}
function rsStatus(rs: SimObject | undefined): RSStatusView {
  return (rs?.status ?? {}) as RSStatusView;
}
function isRollingUpdate(d: SimObject): boolean {
  return (dspec(d).strategy?.type ?? 'RollingUpdate') === 'RollingUpdate';
}
function progressDeadline(d: SimObject): number | undefined {
  const p = dspec(d).progressDeadlineSeconds;
  // 2147483647 (MaxInt32) means "no deadline" in the API.
  if (p === 2147483647) return undefined;
  return p ?? 600;
}
function revisionOf(obj: SimObject | undefined): number {
  const v = Number(obj?.metadata.annotations?.[REVISION] ?? '0');
  return Number.isFinite(v) ? v : 0;
}
function creationOrder(a: SimObject, b: SimObject): number {
  const ta = parseTime(a.metadata.creationTimestamp) ?? 0;
  const tb = parseTime(b.metadata.creationTimestamp) ?? 0;
  if (ta !== tb) return ta - tb;
  return a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0;
}
function sortedRecord(r: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(r).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** intstr.GetScaledValueFromIntOrPercent */
function scaled(v: IntOrString | undefined, total: number, roundUp: boolean): number {
  if (v === undefined) return 0;
  if (typeof v === 'number') return v;
  if (v.endsWith('%')) {
    const pct = Number(v.slice(0, -1));
    const raw = (pct * total) / 100;
    return roundUp ? Math.ceil(raw) : Math.floor(raw);
  }
  const n = Number(v);
  return Number.isFinite(n) ? n : 0;
}

/** deploymentutil.ResolveFenceposts, with the API defaults (25%/25%) for fields the store left out. */
function resolveFenceposts(d: SimObject): { surge: number; unavailable: number } {
  const ru = dspec(d).strategy?.rollingUpdate ?? {};
  const desired = replicasOf(d);
  const surge = scaled(ru.maxSurge ?? '25%', desired, true);
  let unavailable = scaled(ru.maxUnavailable ?? '25%', desired, false);
  if (surge === 0 && unavailable === 0) unavailable = 1;
  return { surge, unavailable };
}
function maxSurge(d: SimObject): number {
  return isRollingUpdate(d) ? resolveFenceposts(d).surge : 0;
}
function maxUnavailable(d: SimObject): number {
  const desired = replicasOf(d);
  if (!isRollingUpdate(d) || desired === 0) return 0;
  return Math.min(resolveFenceposts(d).unavailable, desired);
}

function sum(rss: Array<SimObject | undefined>, f: (rs: SimObject) => number): number {
  let n = 0;
  for (const rs of rss) if (rs) n += f(rs);
  return n;
}
const actualReplicas = (rss: Array<SimObject | undefined>) => sum(rss, (rs) => rsStatus(rs).replicas ?? 0);
const specReplicas = (rss: Array<SimObject | undefined>) => sum(rss, (rs) => rsReplicas(rs));
const readyReplicas = (rss: Array<SimObject | undefined>) =>
  sum(rss, (rs) => rsStatus(rs).readyReplicas ?? 0);
const availableReplicas = (rss: Array<SimObject | undefined>) =>
  sum(rss, (rs) => rsStatus(rs).availableReplicas ?? 0);
const activeOnly = (rss: Array<SimObject | undefined>): SimObject[] =>
  rss.filter((rs): rs is SimObject => rs !== undefined && rsReplicas(rs) > 0);

// ---- status helpers

function readStatus(d: SimObject): Status {
  const s = (d.status ?? {}) as Partial<Status>;
  const st: Status = {
    observedGeneration: s.observedGeneration ?? 0,
    replicas: s.replicas ?? 0,
    updatedReplicas: s.updatedReplicas ?? 0,
    readyReplicas: s.readyReplicas ?? 0,
    availableReplicas: s.availableReplicas ?? 0,
    unavailableReplicas: s.unavailableReplicas ?? 0,
    conditions: clone(s.conditions ?? []),
  };
  if (s.collisionCount !== undefined) st.collisionCount = s.collisionCount;
  return st;
}

/** DeploymentStatus as the real server serializes it: Go field order, zero counts omitted. */
export function formatStatus(s: Status): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const put = (k: keyof Status, v: number) => {
    if (v !== 0) out[k] = v;
  };
  put('observedGeneration', s.observedGeneration);
  put('replicas', s.replicas);
  put('updatedReplicas', s.updatedReplicas);
  put('readyReplicas', s.readyReplicas);
  put('availableReplicas', s.availableReplicas);
  put('unavailableReplicas', s.unavailableReplicas);
  if (s.conditions.length > 0) out.conditions = s.conditions;
  if (s.collisionCount !== undefined) out.collisionCount = s.collisionCount;
  return out;
}

function getCondition(s: Status, type: string): Condition | undefined {
  return s.conditions.find((c) => c.type === type);
}

/** deploymentutil.SetDeploymentCondition: same status+reason is a no-op; a change moves the condition last. */
function setCondition(s: Status, c: Condition): void {
  const cur = getCondition(s, c.type);
  if (cur && cur.status === c.status && cur.reason === c.reason) return;
  if (cur && cur.status === c.status) c.lastTransitionTime = cur.lastTransitionTime;
  s.conditions = [...s.conditions.filter((x) => x.type !== c.type), c];
}

function removeCondition(s: Status, type: string): void {
  s.conditions = s.conditions.filter((c) => c.type !== type);
}

export class DeploymentController {
  readonly queue: WorkQueue;
  /** One pending progress check per deployment, like the workqueue's AddAfter de-duplication. */
  private readonly progressChecks = new Map<string, { at: number; cancel: () => void }>();

  constructor(
    private readonly rt: Runtime,
    private readonly events: EventRecorder,
  ) {
    this.queue = new WorkQueue(rt, 'deployment', (key) => this.syncDeployment(key));
  }

  /** Progressing=True for `reason` in `st`, put back into `d`'s status; the caller writes it. */
  private setProgressing(d: SimObject, st: Status, reason: string, message: string): void {
    setCondition(st, this.newCondition('Progressing', 'True', reason, message));
    d.status = formatStatus(st);
  }

  private newCondition(type: string, status: string, reason: string, message: string): Condition {
    const now = rfc3339(this.rt.now());
    return { type, status, lastUpdateTime: now, lastTransitionTime: now, reason, message };
  }

  // ---- event routing

  onDeployment(obj: SimObject): void {
    this.queue.add(nsKey(obj));
  }

  onReplicaSet(rs: SimObject): void {
    const ref = controllerRef(rs);
    if (ref?.kind === 'Deployment') this.queue.add(`${rs.metadata.namespace}/${ref.name}`);
  }

  /** Like the real controller, only a pod's deletion matters here: Recreate waits for old pods to be gone. */
  onPodDeleted(pod: SimObject): void {
    const ref = controllerRef(pod);
    if (ref?.kind !== 'ReplicaSet') return;
    const rs = this.rt.store.get({ ...REPLICASETS, namespace: pod.metadata.namespace, name: ref.name });
    if (rs) this.onReplicaSet(rs);
  }

  // ---- lookups

  private replicaSetsFor(d: SimObject): SimObject[] {
    return this.rt.store
      .list(REPLICASETS.group, REPLICASETS.resource, { namespace: d.metadata.namespace })
      .filter((rs) => controllerRef(rs)?.uid === d.metadata.uid)
      .sort(creationOrder);
  }

  private podMapFor(d: SimObject, rsList: SimObject[]): Map<string, SimObject[]> {
    const map = new Map<string, SimObject[]>();
    for (const rs of rsList) map.set(rs.metadata.uid, []);
    for (const pod of this.rt.store.list(PODS.group, PODS.resource, { namespace: d.metadata.namespace })) {
      const uid = controllerRef(pod)?.uid;
      if (uid !== undefined) map.get(uid)?.push(pod);
    }
    return map;
  }

  /** deploymentutil.EqualIgnoreHash, plus the hash label: a store that defaults templates must not fork us. */
  private findNewReplicaSet(d: SimObject, rsList: SimObject[]): SimObject | undefined {
    const tpl = dspec(d).template ?? {};
    const hash = podTemplateHash(tpl, readStatus(d).collisionCount);
    const strip = (t: PodTemplate | undefined) => {
      const c = clone(t ?? {});
      if (c.metadata?.labels) {
        delete c.metadata.labels[HASH_LABEL];
        if (Object.keys(c.metadata.labels).length === 0) delete c.metadata.labels;
      }
      return canonicalJson(c);
    };
    const want = strip(tpl);
    return rsList.find(
      (rs) =>
        strip(rs.spec?.template as PodTemplate) === want ||
        (rs.metadata.name === `${d.metadata.name}-${hash}` && rs.metadata.labels?.[HASH_LABEL] === hash),
    );
  }

  // ---- writes

  /** UpdateStatus of the whole object: the Deployment status strategy also takes annotations (the revision). */
  private writeStatus(d: SimObject): void {
    const written = this.rt.store.updateStatus(d);
    d.metadata.resourceVersion = written.metadata.resourceVersion;
  }

  private scaleReplicaSet(rs: SimObject, newScale: number, d: SimObject): { scaled: boolean; rs: SimObject } {
    const sizeNeedsUpdate = rsReplicas(rs) !== newScale;
    const desired = String(replicasOf(d));
    const max = String(replicasOf(d) + maxSurge(d));
    const ann = rs.metadata.annotations ?? {};
    const annotationsNeedUpdate = ann[DESIRED_REPLICAS] !== desired || ann[MAX_REPLICAS] !== max;
    if (!sizeNeedsUpdate && !annotationsNeedUpdate) return { scaled: false, rs };
    const oldScale = rsReplicas(rs);
    const next = clone(rs);
    next.spec = { ...next.spec, replicas: newScale };
    next.metadata.annotations = sortedRecord({ ...ann, [DESIRED_REPLICAS]: desired, [MAX_REPLICAS]: max });
    const updated = this.rt.store.update(next);
    if (sizeNeedsUpdate) {
      const op = oldScale < newScale ? 'up' : 'down';
      this.events.tryRecord(
        d,
        'Normal',
        'ScalingReplicaSet',
        `Scaled ${op} replica set ${rs.metadata.name} from ${oldScale} to ${newScale}`,
        SOURCE,
      );
    }
    return { scaled: sizeNeedsUpdate, rs: updated };
  }

  // ---- the sync loop

  private syncDeployment(key: string): void {
    const { namespace, name } = splitKey(key);
    const d = this.rt.store.get({ ...DEPLOYMENTS, namespace, name });
    if (!d) {
      this.progressChecks.get(key)?.cancel();
      this.progressChecks.delete(key);
      return;
    }
    const selector = dspec(d).selector;
    if (!selector || deepEqual(selector, {})) {
      this.events.tryRecord(
        d,
        'Warning',
        'SelectingAll',
        'This deployment is selecting all pods. A non-empty selector is required.',
        SOURCE,
      );
      const st = readStatus(d);
      if (st.observedGeneration < (d.metadata.generation ?? 0)) {
        st.observedGeneration = d.metadata.generation ?? 0;
        d.status = formatStatus(st);
        this.writeStatus(d);
      }
      return;
    }
    const rsList = this.replicaSetsFor(d);
    const podMap = this.podMapFor(d, rsList);

    if (d.metadata.deletionTimestamp) {
      this.syncStatusOnly(d, rsList);
      return;
    }
    if (dspec(d).paused) {
      this.sync(d, rsList);
      return;
    }
    if (this.isScalingEvent(d, rsList)) {
      this.sync(d, rsList);
      return;
    }
    if (isRollingUpdate(d)) this.rolloutRolling(d, rsList);
    else this.rolloutRecreate(d, rsList, podMap);
  }

  private getAllReplicaSetsAndSyncRevision(
    d: SimObject,
    rsList: SimObject[],
    createIfNotExisted: boolean,
  ): { newRS: SimObject | undefined; oldRSs: SimObject[] } {
    const existing = this.findNewReplicaSet(d, rsList);
    const oldRSs = rsList.filter((rs) => rs !== existing);
    const newRS = this.getNewReplicaSet(d, rsList, oldRSs, createIfNotExisted);
    return { newRS, oldRSs };
  }

  private getNewReplicaSet(
    d: SimObject,
    rsList: SimObject[],
    oldRSs: SimObject[],
    createIfNotExisted: boolean,
  ): SimObject | undefined {
    const existing = this.findNewReplicaSet(d, rsList);
    const maxOldRevision = Math.max(0, ...oldRSs.map(revisionOf));
    const newRevision = String(maxOldRevision + 1);

    if (existing) {
      const rsCopy = clone(existing);
      const annotationsUpdated = this.setNewReplicaSetAnnotations(d, rsCopy, newRevision, true);
      const minReady = dspec(d).minReadySeconds ?? 0;
      if (annotationsUpdated || ((rsCopy.spec?.minReadySeconds as number | undefined) ?? 0) !== minReady) {
        rsCopy.spec = { ...rsCopy.spec, minReadySeconds: minReady };
        if (minReady === 0) delete rsCopy.spec.minReadySeconds;
        return this.rt.store.update(rsCopy);
      }
      let needsUpdate = this.setDeploymentRevision(d, rsCopy.metadata.annotations?.[REVISION] ?? '');
      const st = readStatus(d);
      if (progressDeadline(d) !== undefined && !getCondition(st, 'Progressing')) {
        this.setProgressing(d, st, 'FoundNewReplicaSet', `Found new replica set "${rsCopy.metadata.name}"`);
        needsUpdate = true;
      }
      if (needsUpdate) this.writeStatus(d);
      return rsCopy;
    }

    if (!createIfNotExisted) return undefined;

    const st = readStatus(d);
    const tpl = clone(dspec(d).template ?? {});
    const hash = podTemplateHash(dspec(d).template ?? {}, st.collisionCount);
    tpl.metadata = { ...(tpl.metadata ?? {}) };
    tpl.metadata.labels = sortedRecord({ ...(tpl.metadata.labels ?? {}), [HASH_LABEL]: hash });
    const sel = clone(dspec(d).selector ?? {});
    sel.matchLabels = { ...(sel.matchLabels ?? {}), [HASH_LABEL]: hash };
    const rsName = `${d.metadata.name}-${hash}`;
    const newRS: SimObject = {
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: {
        name: rsName,
        namespace: d.metadata.namespace,
        labels: tpl.metadata.labels,
        ownerReferences: [newControllerRef(d)],
      } as SimObject['metadata'],
      spec: { replicas: 0, selector: sel, template: tpl },
    };
    const minReady = dspec(d).minReadySeconds ?? 0;
    if (minReady > 0) newRS.spec.minReadySeconds = minReady;
    const count = this.newRSNewReplicas(d, [...oldRSs, newRS], newRS);
    newRS.spec = {
      replicas: count,
      ...(minReady > 0 ? { minReadySeconds: minReady } : {}),
      selector: sel,
      template: tpl,
    };
    this.setNewReplicaSetAnnotations(d, newRS, newRevision, false);

    let created: SimObject;
    try {
      created = this.rt.store.create(newRS);
    } catch (err) {
      if (!isAlreadyExists(err)) {
        const msg = `Failed to create new replica set "${rsName}": ${errorMessage(err)}`;
        if (progressDeadline(d) !== undefined) {
          setCondition(st, this.newCondition('Progressing', 'False', 'ReplicaSetCreateError', msg));
          d.status = formatStatus(st);
          this.rt.guard(() => this.writeStatus(d), 'deployment status');
        }
        this.events.tryRecord(d, 'Warning', 'ReplicaSetCreateError', msg, SOURCE);
        throw err;
      }
      const other = this.rt.store.get({ ...REPLICASETS, namespace: d.metadata.namespace, name: rsName });
      if (other && controllerRef(other)?.uid === d.metadata.uid) return other;
      // A hash collision with someone else's ReplicaSet: bump collisionCount so the next hash differs.
      st.collisionCount = (st.collisionCount ?? 0) + 1;
      d.status = formatStatus(st);
      this.writeStatus(d);
      throw err;
    }
    if (count > 0) {
      this.events.tryRecord(
        d,
        'Normal',
        'ScalingReplicaSet',
        `Scaled up replica set ${created.metadata.name} from 0 to ${count}`,
        SOURCE,
      );
    }
    let needsUpdate = this.setDeploymentRevision(d, newRevision);
    if (progressDeadline(d) !== undefined) {
      const msg = `Created new replica set "${created.metadata.name}"`;
      this.setProgressing(d, readStatus(d), 'NewReplicaSetCreated', msg);
      needsUpdate = true;
    }
    if (needsUpdate) this.writeStatus(d);
    return created;
  }

  /** deploymentutil.SetNewReplicaSetAnnotations */
  private setNewReplicaSetAnnotations(
    d: SimObject,
    rs: SimObject,
    newRevision: string,
    exists: boolean,
  ): boolean {
    const ann: Record<string, string> = { ...(rs.metadata.annotations ?? {}) };
    let changed = false;
    for (const [k, v] of Object.entries(d.metadata.annotations ?? {})) {
      if (SKIP_COPY.has(k) || ann[k] === v) continue;
      ann[k] = v;
      changed = true;
    }
    const oldRevision = ann[REVISION];
    const oldInt = Number(oldRevision ?? '0');
    const newInt = Number(newRevision);
    if (oldInt < newInt) {
      ann[REVISION] = newRevision;
      changed = true;
      // Rolling back to an older template keeps the revisions it used to have.
      if (oldRevision !== undefined) {
        ann[REVISION_HISTORY] = ann[REVISION_HISTORY]
          ? `${ann[REVISION_HISTORY]},${oldRevision}`
          : oldRevision;
      }
    }
    if (!exists) {
      const desired = String(replicasOf(d));
      const max = String(replicasOf(d) + maxSurge(d));
      if (ann[DESIRED_REPLICAS] !== desired || ann[MAX_REPLICAS] !== max) {
        ann[DESIRED_REPLICAS] = desired;
        ann[MAX_REPLICAS] = max;
        changed = true;
      }
    }
    rs.metadata.annotations = sortedRecord(ann);
    return changed;
  }

  private setDeploymentRevision(d: SimObject, revision: string): boolean {
    if (!revision || d.metadata.annotations?.[REVISION] === revision) return false;
    d.metadata.annotations = { ...(d.metadata.annotations ?? {}), [REVISION]: revision };
    return true;
  }

  /** deploymentutil.NewRSNewReplicas */
  private newRSNewReplicas(d: SimObject, allRSs: SimObject[], newRS: SimObject): number {
    if (!isRollingUpdate(d)) return replicasOf(d);
    const desired = replicasOf(d);
    const current = specReplicas(allRSs);
    const maxTotal = desired + maxSurge(d);
    if (current >= maxTotal) return rsReplicas(newRS);
    const up = Math.min(maxTotal - current, desired - rsReplicas(newRS));
    return rsReplicas(newRS) + up;
  }

  private isScalingEvent(d: SimObject, rsList: SimObject[]): boolean {
    const { newRS, oldRSs } = this.getAllReplicaSetsAndSyncRevision(d, rsList, false);
    if (!newRS) return false;
    for (const rs of activeOnly([...oldRSs, newRS])) {
      const desired = rs.metadata.annotations?.[DESIRED_REPLICAS];
      if (desired === undefined) continue;
      if (Number(desired) !== replicasOf(d)) return true;
    }
    return false;
  }

  // ---- scaling (sync.go)

  private sync(d: SimObject, rsList: SimObject[]): void {
    const { newRS, oldRSs } = this.getAllReplicaSetsAndSyncRevision(d, rsList, false);
    this.scale(d, newRS, oldRSs);
    // Like the real controller, the status is computed from the ReplicaSets as they were before scaling;
    // the ReplicaSet update events bring the next sync.
    this.syncDeploymentStatus([...oldRSs, newRS], newRS, d);
  }

  private scale(d: SimObject, newRS: SimObject | undefined, oldRSs: SimObject[]): void {
    const desired = replicasOf(d);
    const activeOrLatest = this.findActiveOrLatest(newRS, oldRSs);
    if (activeOrLatest) {
      if (rsReplicas(activeOrLatest) !== desired) this.scaleReplicaSet(activeOrLatest, desired, d);
      return;
    }
    if (this.isSaturated(d, newRS)) {
      for (const old of activeOnly(oldRSs)) this.scaleReplicaSet(old, 0, d);
      return;
    }
    if (!isRollingUpdate(d)) return;

    // Proportional scaling of a rollout in progress (sync.go scale()).
    const all = activeOnly([...oldRSs, newRS]);
    const allReplicas = specReplicas(all);
    const allowed = desired > 0 ? desired + maxSurge(d) : 0;
    const toAdd = allowed - allReplicas;
    if (toAdd > 0) {
      all.sort((a, b) => rsReplicas(b) - rsReplicas(a) || -creationOrder(a, b));
    } else if (toAdd < 0) {
      all.sort((a, b) => rsReplicas(b) - rsReplicas(a) || creationOrder(a, b));
    }
    let added = 0;
    const sizes = new Map<string, number>();
    for (const rs of all) {
      if (toAdd !== 0) {
        const p = this.replicaSetProportion(rs, d, toAdd, added);
        sizes.set(rs.metadata.name, rsReplicas(rs) + p);
        added += p;
      } else {
        sizes.set(rs.metadata.name, rsReplicas(rs));
      }
    }
    all.forEach((rs, i) => {
      let size = sizes.get(rs.metadata.name) ?? rsReplicas(rs);
      if (i === 0 && toAdd !== 0) size = Math.max(0, size + toAdd - added);
      this.scaleReplicaSet(rs, size, d);
    });
  }

  private replicaSetProportion(rs: SimObject, d: SimObject, toAdd: number, added: number): number {
    if (rsReplicas(rs) === 0 || toAdd === 0 || toAdd === added) return 0;
    const desired = replicasOf(d);
    let fraction: number;
    if (desired === 0) {
      fraction = -rsReplicas(rs);
    } else {
      const maxNow = desired + maxSurge(d);
      let before = Number(rs.metadata.annotations?.[MAX_REPLICAS] ?? '0');
      if (!Number.isFinite(before) || before === 0) {
        before = readStatus(d).replicas;
        if (before === 0) before = maxNow;
      }
      fraction = Math.round((rsReplicas(rs) * maxNow) / before) - rsReplicas(rs);
    }
    const allowed = toAdd - added;
    return toAdd > 0 ? Math.min(fraction, allowed) : Math.max(fraction, allowed);
  }

  private findActiveOrLatest(newRS: SimObject | undefined, oldRSs: SimObject[]): SimObject | undefined {
    if (!newRS && oldRSs.length === 0) return undefined;
    const newestFirst = [...oldRSs].sort((a, b) => -creationOrder(a, b));
    const active = activeOnly([...newestFirst, newRS]);
    if (active.length === 0) return newRS ?? newestFirst[0];
    if (active.length === 1) return active[0];
    return undefined;
  }

  private isSaturated(d: SimObject, rs: SimObject | undefined): boolean {
    if (!rs) return false;
    const desired = Number(rs.metadata.annotations?.[DESIRED_REPLICAS] ?? 'NaN');
    return (
      rsReplicas(rs) === replicasOf(d) &&
      desired === replicasOf(d) &&
      (rsStatus(rs).availableReplicas ?? 0) === replicasOf(d)
    );
  }

  // ---- Recreate (recreate.go)

  private rolloutRecreate(d: SimObject, rsList: SimObject[], podMap: Map<string, SimObject[]>): void {
    let { newRS, oldRSs } = this.getAllReplicaSetsAndSyncRevision(d, rsList, false);
    let scaledDown = false;
    for (let i = 0; i < oldRSs.length; i++) {
      const rs = oldRSs[i] as SimObject;
      if (rsReplicas(rs) === 0) continue;
      const r = this.scaleReplicaSet(rs, 0, d);
      if (r.scaled) {
        oldRSs[i] = r.rs;
        scaledDown = true;
      }
    }
    if (scaledDown) {
      this.syncRolloutStatus([...oldRSs, newRS], newRS, d);
      return;
    }
    if (this.oldPodsRunning(newRS, oldRSs, podMap)) {
      this.syncRolloutStatus([...oldRSs, newRS], newRS, d);
      return;
    }
    if (!newRS) {
      ({ newRS, oldRSs } = this.getAllReplicaSetsAndSyncRevision(d, rsList, true));
    }
    if (newRS) {
      const r = this.scaleReplicaSet(newRS, replicasOf(d), d);
      newRS = r.rs;
    }
    if (this.deploymentComplete(d, readStatus(d))) this.cleanupDeployment(oldRSs, d);
    this.syncRolloutStatus([...oldRSs, newRS], newRS, d);
  }

  private oldPodsRunning(
    newRS: SimObject | undefined,
    oldRSs: SimObject[],
    podMap: Map<string, SimObject[]>,
  ): boolean {
    if (actualReplicas(oldRSs) > 0) return true;
    for (const [uid, pods] of podMap) {
      if (newRS && newRS.metadata.uid === uid) continue;
      for (const pod of pods) {
        const phase = pod.status?.phase as string | undefined;
        if (phase === 'Failed' || phase === 'Succeeded') continue;
        return true;
      }
    }
    return false;
  }

  // ---- RollingUpdate (rolling.go)

  private rolloutRolling(d: SimObject, rsList: SimObject[]): void {
    const { newRS, oldRSs } = this.getAllReplicaSetsAndSyncRevision(d, rsList, true);
    if (!newRS) return;
    let current = newRS;
    const all = () => [...oldRSs, current];

    const up = this.reconcileNewReplicaSet(all(), current, d);
    current = up.rs;
    if (up.scaled) {
      this.syncRolloutStatus(all(), current, d);
      return;
    }
    if (this.reconcileOldReplicaSets(all(), oldRSs, current, d)) {
      this.syncRolloutStatus(all(), current, d);
      return;
    }
    if (this.deploymentComplete(d, readStatus(d))) this.cleanupDeployment(oldRSs, d);
    this.syncRolloutStatus(all(), current, d);
  }

  private reconcileNewReplicaSet(
    allRSs: SimObject[],
    newRS: SimObject,
    d: SimObject,
  ): { scaled: boolean; rs: SimObject } {
    const desired = replicasOf(d);
    if (rsReplicas(newRS) === desired) return { scaled: false, rs: newRS };
    if (rsReplicas(newRS) > desired) return this.scaleReplicaSet(newRS, desired, d);
    return this.scaleReplicaSet(newRS, this.newRSNewReplicas(d, allRSs, newRS), d);
  }

  /** Mutates oldRSs in place with the scaled objects so the status that follows sees them. */
  private reconcileOldReplicaSets(
    allRSs: SimObject[],
    oldRSs: SimObject[],
    newRS: SimObject,
    d: SimObject,
  ): boolean {
    if (specReplicas(oldRSs) === 0) return false;
    const minAvailable = replicasOf(d) - maxUnavailable(d);
    const newUnavailable = rsReplicas(newRS) - (rsStatus(newRS).availableReplicas ?? 0);
    const maxScaledDown = specReplicas(allRSs) - minAvailable - newUnavailable;
    if (maxScaledDown <= 0) return false;

    let total = 0;
    const byAge = [...oldRSs].sort(creationOrder);
    // Unhealthy old replicas go first, or they would block the rollout until it times out.
    for (const rs of byAge) {
      if (total >= maxScaledDown) break;
      const avail = rsStatus(rs).availableReplicas ?? 0;
      if (rsReplicas(rs) === 0 || rsReplicas(rs) === avail) continue;
      const n = Math.min(maxScaledDown - total, rsReplicas(rs) - avail);
      const r = this.scaleReplicaSet(rs, rsReplicas(rs) - n, d);
      this.replaceIn(oldRSs, r.rs);
      total += n;
    }

    const available = availableReplicas([...oldRSs, newRS]);
    if (available > minAvailable) {
      const toScale = available - minAvailable;
      let done = 0;
      for (const rs of [...oldRSs].sort(creationOrder)) {
        if (done >= toScale) break;
        if (rsReplicas(rs) === 0) continue;
        const n = Math.min(rsReplicas(rs), toScale - done);
        const r = this.scaleReplicaSet(rs, rsReplicas(rs) - n, d);
        this.replaceIn(oldRSs, r.rs);
        done += n;
      }
      total += done;
    }
    return total > 0;
  }

  private replaceIn(list: SimObject[], rs: SimObject): void {
    const i = list.findIndex((x) => x.metadata.uid === rs.metadata.uid);
    if (i >= 0) list[i] = rs;
  }

  private cleanupDeployment(oldRSs: SimObject[], d: SimObject): void {
    const limit = dspec(d).revisionHistoryLimit ?? 10;
    const cleanable = oldRSs.filter((rs) => !rs.metadata.deletionTimestamp);
    let diff = cleanable.length - limit;
    if (diff <= 0) return;
    cleanable.sort((a, b) => revisionOf(a) - revisionOf(b) || creationOrder(a, b));
    for (const rs of cleanable) {
      if (diff <= 0) break;
      diff--;
      const st = rsStatus(rs);
      if ((st.replicas ?? 0) !== 0 || rsReplicas(rs) !== 0) continue;
      if ((rs.metadata.generation ?? 0) > (st.observedGeneration ?? 0)) continue;
      this.rt.store.delete({ ...REPLICASETS, namespace: rs.metadata.namespace, name: rs.metadata.name });
    }
  }

  // ---- status (sync.go, progress.go)

  private calculateStatus(
    allRSs: Array<SimObject | undefined>,
    newRS: SimObject | undefined,
    d: SimObject,
  ): Status {
    const available = availableReplicas(allRSs);
    const total = specReplicas(allRSs);
    const prev = readStatus(d);
    const st: Status = {
      observedGeneration: d.metadata.generation ?? 0,
      replicas: actualReplicas(allRSs),
      updatedReplicas: actualReplicas([newRS]),
      readyReplicas: readyReplicas(allRSs),
      availableReplicas: available,
      unavailableReplicas: Math.max(0, total - available),
      conditions: prev.conditions,
    };
    if (prev.collisionCount !== undefined) st.collisionCount = prev.collisionCount;
    if (available >= replicasOf(d) - maxUnavailable(d)) {
      setCondition(
        st,
        this.newCondition(
          'Available',
          'True',
          'MinimumReplicasAvailable',
          'Deployment has minimum availability.',
        ),
      );
    } else {
      setCondition(
        st,
        this.newCondition(
          'Available',
          'False',
          'MinimumReplicasUnavailable',
          'Deployment does not have minimum availability.',
        ),
      );
    }
    return st;
  }

  private syncStatusOnly(d: SimObject, rsList: SimObject[]): void {
    const { newRS, oldRSs } = this.getAllReplicaSetsAndSyncRevision(d, rsList, false);
    this.syncDeploymentStatus([...oldRSs, newRS], newRS, d);
  }

  private syncDeploymentStatus(
    allRSs: Array<SimObject | undefined>,
    newRS: SimObject | undefined,
    d: SimObject,
  ): void {
    const next = formatStatus(this.calculateStatus(allRSs, newRS, d));
    if (deepEqual(d.status ?? {}, next)) return;
    d.status = next;
    this.writeStatus(d);
  }

  private deploymentComplete(d: SimObject, s: Status): boolean {
    const desired = replicasOf(d);
    return (
      s.updatedReplicas === desired &&
      s.replicas === desired &&
      s.availableReplicas === desired &&
      s.observedGeneration >= (d.metadata.generation ?? 0)
    );
  }

  private deploymentProgressing(d: SimObject, s: Status): boolean {
    const old = readStatus(d);
    return (
      s.updatedReplicas > old.updatedReplicas ||
      s.replicas - s.updatedReplicas < old.replicas - old.updatedReplicas ||
      s.readyReplicas > old.readyReplicas ||
      s.availableReplicas > old.availableReplicas
    );
  }

  private deploymentTimedOut(d: SimObject, s: Status): boolean {
    const deadline = progressDeadline(d);
    if (deadline === undefined) return false;
    const cond = getCondition(s, 'Progressing');
    if (!cond) return false;
    if (cond.reason === 'NewReplicaSetAvailable') return false;
    if (cond.reason === 'ProgressDeadlineExceeded') return true;
    const from = parseTime(cond.lastUpdateTime);
    if (from === undefined) return false;
    return from + deadline * 1000 < this.rt.now().getTime();
  }

  private syncRolloutStatus(
    allRSs: Array<SimObject | undefined>,
    newRS: SimObject | undefined,
    d: SimObject,
  ): void {
    const st = this.calculateStatus(allRSs, newRS, d);
    const deadline = progressDeadline(d);
    if (deadline === undefined) removeCondition(st, 'Progressing');

    const current = getCondition(readStatus(d), 'Progressing');
    const isCompleteDeployment =
      st.replicas === st.updatedReplicas &&
      current !== undefined &&
      current.reason === 'NewReplicaSetAvailable';
    if (deadline !== undefined && !isCompleteDeployment) {
      const rsName = newRS?.metadata.name;
      if (this.deploymentComplete(d, st)) {
        const msg = rsName
          ? `ReplicaSet "${rsName}" has successfully progressed.`
          : `Deployment "${d.metadata.name}" has successfully progressed.`;
        setCondition(st, this.newCondition('Progressing', 'True', 'NewReplicaSetAvailable', msg));
      } else if (this.deploymentProgressing(d, st)) {
        const msg = rsName
          ? `ReplicaSet "${rsName}" is progressing.`
          : `Deployment "${d.metadata.name}" is progressing.`;
        const cond = this.newCondition('Progressing', 'True', 'ReplicaSetUpdated', msg);
        // Progress refreshes lastUpdateTime even when the reason stays: that is what resets the deadline.
        if (current) {
          if (current.status === 'True') cond.lastTransitionTime = current.lastTransitionTime;
          removeCondition(st, 'Progressing');
        }
        setCondition(st, cond);
      } else if (this.deploymentTimedOut(d, st)) {
        const msg = rsName
          ? `ReplicaSet "${rsName}" has timed out progressing.`
          : `Deployment "${d.metadata.name}" has timed out progressing.`;
        setCondition(st, this.newCondition('Progressing', 'False', 'ProgressDeadlineExceeded', msg));
      }
    }
    // getReplicaFailures: the new ReplicaSet's ReplicaFailure first, then an old one's, copied with its times
    // (ReplicaSetToDeploymentCondition; fixture 116 shows it next to Progressing=True NewReplicaSetCreated).
    const failure = [newRS, ...allRSs.filter((rs) => rs !== newRS)]
      .map((rs) =>
        ((rs?.status?.conditions ?? []) as Array<Record<string, string>>).find(
          (c) => c.type === 'ReplicaFailure',
        ),
      )
      .find((c) => c !== undefined);
    if (failure) {
      const time = failure.lastTransitionTime ?? rfc3339(this.rt.now());
      setCondition(st, {
        type: 'ReplicaFailure',
        status: failure.status ?? 'True',
        lastUpdateTime: time,
        lastTransitionTime: time,
        reason: failure.reason ?? 'FailedCreate',
        message: failure.message ?? '',
      });
    } else removeCondition(st, 'ReplicaFailure');

    const next = formatStatus(st);
    if (deepEqual(d.status ?? {}, next)) {
      this.requeueStuckDeployment(d, st);
      return;
    }
    d.status = next;
    this.writeStatus(d);
  }

  /** A deployment making no progress is only looked at again when its deadline is due: schedule that look. */
  private requeueStuckDeployment(d: SimObject, st: Status): void {
    const key = nsKey(d);
    const deadline = progressDeadline(d);
    const cond = getCondition(readStatus(d), 'Progressing');
    if (deadline === undefined || !cond) return;
    if (this.deploymentComplete(d, st) || cond.reason === 'ProgressDeadlineExceeded') return;
    const from = parseTime(cond.lastUpdateTime);
    if (from === undefined) return;
    // The real controller adds a whole second of slack; 50 ms keeps tests quick and still lands after the deadline.
    const at = from + deadline * 1000 + 50;
    const prev = this.progressChecks.get(key);
    if (prev && prev.at === at) return;
    prev?.cancel();
    const cancel = this.rt.after(
      at - this.rt.now().getTime(),
      () => {
        this.progressChecks.delete(key);
        this.queue.add(key);
      },
      'progress deadline',
    );
    this.progressChecks.set(key, { at, cancel });
  }
}
