/** Small helpers shared by the simulated controllers: hashing, names, selectors, quantities, times. */
import { randomBytes } from 'node:crypto';
import { expressionMatches } from '../selectors.js';
import type { SimObject } from '../types.js';

/** k8s.io/apimachinery/pkg/util/rand alphabet: no vowels, so generated names never spell words. */
export const SAFE_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

/** rand.SafeEncodeString: maps each character, not the value, which is why hashes have 9-10 characters. */
export function safeEncodeString(s: string): string {
  let out = '';
  for (const ch of s) out += SAFE_ALPHABET[(ch.codePointAt(0) ?? 0) % SAFE_ALPHABET.length];
  return out;
}

export function randomSuffix(n: number): string {
  let s = '';
  const bytes = randomBytes(n);
  for (const b of bytes) s += SAFE_ALPHABET[b % SAFE_ALPHABET.length];
  return s;
}

export function fnv32a(s: string): number {
  let h = 0x811c9dc5;
  for (const b of Buffer.from(s, 'utf8')) {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** JSON with sorted keys: the hash must not depend on the order in which a client sent the fields. */
export function canonicalJson(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'null';
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o)
    .filter((k) => o[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`).join(',')}}`;
}

/**
 * controller.ComputeHash in spirit: FNV-32a over the template (and the collision count), the decimal value
 * safe-encoded. Real Go hashes a spew dump of the struct, so the values differ from a real cluster's.
 */
export function podTemplateHash(template: unknown, collisionCount?: number): string {
  let s = canonicalJson(template);
  if (collisionCount !== undefined && collisionCount !== 0) s += `#${collisionCount}`;
  return safeEncodeString(String(fnv32a(s)));
}

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b))
    return a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  const ak = Object.keys(ao).filter((k) => ao[k] !== undefined);
  const bk = Object.keys(bo).filter((k) => bo[k] !== undefined);
  return ak.length === bk.length && ak.every((k) => deepEqual(ao[k], bo[k]));
}

export function clone<T>(v: T): T {
  return structuredClone(v);
}

/** Adds `fn` to the listeners of `key`; the function returned removes it again. */
export function addListener<K, F>(listeners: Map<K, Set<F>>, key: K, fn: F): () => void {
  let set = listeners.get(key);
  if (!set) {
    set = new Set();
    listeners.set(key, set);
  }
  set.add(fn);
  return () => set.delete(fn);
}

// ---- updates (both stores)

/**
 * The object a status-subresource write stores: the stored one with the request's status. The status strategies
 * keep spec and labels but take annotations (the Deployment controller writes its revision annotation this way:
 * fixture 011 shows it in the status managedFields entry).
 */
export function withStatusOf(existing: SimObject, input: SimObject): SimObject {
  const next = clone(existing);
  next.status = clone(input.status);
  if (input.metadata.annotations !== undefined) next.metadata.annotations = clone(input.metadata.annotations);
  return next;
}

/** Metadata an update cannot change: the stored values replace what the request sent. */
export function keepStoredMeta(next: SimObject, existing: SimObject): void {
  for (const f of [
    'namespace',
    'uid',
    'creationTimestamp',
    'deletionTimestamp',
    'deletionGracePeriodSeconds',
    'generation',
  ])
    next.metadata[f] = existing.metadata[f];
}

/**
 * The object a delete leaves while finalizers remain: deletionTimestamp set once with a zero grace period, the
 * finalizers given, and on kinds that track it a generation bumped by the first delete (fixture 033: 2 -> 3).
 */
export function withDeletion(
  existing: SimObject,
  finalizers: string[],
  now: string,
  hasGeneration: boolean,
): SimObject {
  const next = clone(existing);
  const first = next.metadata.deletionTimestamp === undefined;
  next.metadata.deletionTimestamp ??= now;
  next.metadata.deletionGracePeriodSeconds ??= 0;
  next.metadata.finalizers = finalizers;
  if (first && hasGeneration) next.metadata.generation = (existing.metadata.generation ?? 0) + 1;
  return next;
}

// ---- label selectors (metav1.LabelSelector as stored in specs)

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: Array<{ key: string; operator: string; values?: string[] }>;
}

/** metav1.LabelSelectorAsSelector: an empty selector matches everything, a missing one nothing. */
export function selectorMatches(
  sel: LabelSelector | undefined | null,
  labels: Record<string, string> | undefined,
): boolean {
  if (!sel) return false;
  const l = labels ?? {};
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) if (l[k] !== v) return false;
  return (sel.matchExpressions ?? []).every((e) =>
    expressionMatches(e.operator, Object.hasOwn(l, e.key), l[e.key] as string, e.values ?? []),
  );
}

/** A Service selector is a plain map; an empty one selects nothing (the endpoints controller skips it). */
export function mapSelectorMatches(
  sel: Record<string, string> | undefined,
  labels: Record<string, string> | undefined,
): boolean {
  if (!sel || Object.keys(sel).length === 0) return false;
  const l = labels ?? {};
  return Object.entries(sel).every(([k, v]) => l[k] === v);
}

// ---- owner references

export type OwnerReference = NonNullable<SimObject['metadata']['ownerReferences']>[number];

export function controllerRef(obj: SimObject): OwnerReference | undefined {
  return obj.metadata.ownerReferences?.find((r) => r.controller === true);
}

export function newControllerRef(owner: SimObject): OwnerReference {
  return {
    apiVersion: owner.apiVersion,
    kind: owner.kind,
    name: owner.metadata.name,
    uid: owner.metadata.uid,
    controller: true,
    blockOwnerDeletion: true,
  };
}

export function isOwnedBy(obj: SimObject, owner: SimObject): boolean {
  return controllerRef(obj)?.uid === owner.metadata.uid;
}

// ---- resource quantities

const DECIMAL_SUFFIX: Record<string, number> = {
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
};
const BINARY_SUFFIX: Record<string, number> = {
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

/** resource.Quantity as a number of base units; NaN when it does not parse (such a request is ignored). */
export function parseQuantity(q: unknown): number {
  if (typeof q === 'number') return q;
  if (typeof q !== 'string') return Number.NaN;
  const m = /^([+-]?(?:\d+\.?\d*|\.\d+))(?:([eE][+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])?)$/.exec(q.trim());
  if (!m) return Number.NaN;
  const base = Number(m[1]);
  if (m[2]) return base * 10 ** Number(m[2].slice(1));
  const suffix = m[3] ?? '';
  return base * (BINARY_SUFFIX[suffix] ?? DECIMAL_SUFFIX[suffix] ?? Number.NaN);
}

// ---- times

/** metav1.Time: RFC 3339 truncated to the second. */
export function rfc3339(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** metav1.MicroTime: six fractional digits (JavaScript clocks stop at milliseconds). */
export function rfc3339Micro(d: Date): string {
  return d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

/** Seconds-resolution parse, as a controller reading a metav1.Time sees it. */
export function parseTime(s: unknown): number | undefined {
  if (typeof s !== 'string') return undefined;
  const t = Date.parse(s);
  return Number.isNaN(t) ? undefined : t;
}

// ---- errors

export function statusCode(err: unknown): number | undefined {
  const c = (err as { code?: unknown } | null)?.code;
  return typeof c === 'number' ? c : undefined;
}

export function isNotFound(err: unknown): boolean {
  return statusCode(err) === 404;
}

export function isAlreadyExists(err: unknown): boolean {
  return statusCode(err) === 409 && (err as { body?: { reason?: string } }).body?.reason === 'AlreadyExists';
}

/** The NamespaceLifecycle admission's 403: expected while a namespace is deleted, not a controller failure. */
export function isNamespaceTerminating(err: unknown): boolean {
  const causes = (err as { body?: { details?: { causes?: Array<{ reason?: string }> } } }).body?.details
    ?.causes;
  return statusCode(err) === 403 && (causes ?? []).some((c) => c.reason === 'NamespaceTerminating');
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Reorders keys to a Go struct's field order (JSON output follows it); unknown keys keep theirs, last. */
export function orderKeys<T extends Record<string, unknown>>(obj: T, order: readonly string[]): T {
  const out: Record<string, unknown> = {};
  for (const k of order) if (obj[k] !== undefined) out[k] = obj[k];
  for (const [k, v] of Object.entries(obj)) if (!(k in out) && v !== undefined) out[k] = v;
  return out as T;
}

export const POD_STATUS_ORDER = [
  'observedGeneration',
  'phase',
  'conditions',
  'message',
  'reason',
  'nominatedNodeName',
  'hostIP',
  'hostIPs',
  'podIP',
  'podIPs',
  'startTime',
  'initContainerStatuses',
  'containerStatuses',
  'qosClass',
  'ephemeralContainerStatuses',
  'resize',
  'resourceClaimStatuses',
] as const;

/** PodSpec in Go field order: binding must put nodeName where a real server's JSON has it. */
export const POD_SPEC_ORDER = [
  'volumes',
  'initContainers',
  'containers',
  'ephemeralContainers',
  'restartPolicy',
  'terminationGracePeriodSeconds',
  'activeDeadlineSeconds',
  'dnsPolicy',
  'nodeSelector',
  'serviceAccountName',
  'serviceAccount',
  'automountServiceAccountToken',
  'nodeName',
  'hostNetwork',
  'hostPID',
  'hostIPC',
  'shareProcessNamespace',
  'securityContext',
  'imagePullSecrets',
  'hostname',
  'subdomain',
  'affinity',
  'schedulerName',
  'tolerations',
  'hostAliases',
  'priorityClassName',
  'priority',
  'dnsConfig',
  'readinessGates',
  'runtimeClassName',
  'enableServiceLinks',
  'preemptionPolicy',
  'overhead',
  'topologySpreadConstraints',
  'setHostnameAsFQDN',
  'os',
  'hostUsers',
  'schedulingGates',
  'resourceClaims',
  'resources',
] as const;
