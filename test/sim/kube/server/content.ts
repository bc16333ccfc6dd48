/**
 * Content types and codecs glue: request bodies (JSON, YAML), the object a body must be for its URL, unknown
 * fields (fieldValidation), patch types, and the Go serializer's quirks that make stored objects read like a
 * real server's.
 */
import type { IncomingMessage } from 'node:http';
import { parse as parseYaml } from 'yaml';
import type { ApplyResult } from '../codecs.js';
import { errors, type StatusError } from '../errors.js';
import { apiVersionOf } from '../resources.js';
import { clone } from '../store.js';
import type { ResourceType, SimObject } from '../types.js';
import { now } from './checks.js';
import { type Api, boolParam, type Ctx, isObject, JSON_TYPE, type ResourcePath } from './types.js';

/** Removes `spec.template.spec.containers[0].bogusField` style paths (what the Go decoder drops). */
export function dropPath(obj: unknown, path: string): void {
  const parts: Array<string | number> = [];
  for (const m of path.matchAll(/([^.[\]]+)|\[(\d+)\]/g))
    parts.push(m[2] !== undefined ? Number(m[2]) : (m[1] as string));
  let cur: unknown = obj;
  for (const p of parts.slice(0, -1)) {
    if (typeof p === 'number') cur = Array.isArray(cur) ? cur[p] : undefined;
    else cur = isObject(cur) ? cur[p] : undefined;
    if (cur === undefined) return;
  }
  const last = parts[parts.length - 1];
  if (last !== undefined && isObject(cur)) delete cur[String(last)];
}

/** The field manager of a non-apply write: the query, else the User-Agent up to its first `/`. */
export function fieldManagerFor(req: IncomingMessage, q: URLSearchParams): string {
  const explicit = q.get('fieldManager');
  if (explicit) return explicit;
  const ua = req.headers['user-agent'];
  if (!ua) return 'unknown';
  return (ua.split('/')[0] as string).slice(0, 128) || 'unknown';
}

/**
 * The managedFields of a non-apply write by this request (create and update: `old` absent for a create; the
 * status subresource's writes are recorded under `subresource`).
 */
export function recordUpdate(
  api: Api,
  ctx: Ctx,
  t: ResourceType,
  updated: SimObject,
  old?: SimObject,
  subresource?: string,
): SimObject {
  const { codecs } = api.deps;
  return codecs.recordUpdate({
    ...(old ? { old } : {}),
    updated,
    manager: fieldManagerFor(ctx.req, ctx.url.searchParams),
    apiVersion: apiVersionOf(t),
    now: now(api),
    schemas: codecs.schemas,
    ...(subresource ? { subresource } : {}),
    operation: 'Update',
  });
}

// Served template paths whose embedded ObjectMeta Go serializes with `creationTimestamp: null`.
const TEMPLATE_PATHS: Record<string, string[][]> = {
  'apps/deployments': [['spec', 'template']],
  'apps/replicasets': [['spec', 'template']],
  'apps/statefulsets': [['spec', 'template']],
  'apps/daemonsets': [['spec', 'template']],
  'batch/jobs': [['spec', 'template']],
  'batch/cronjobs': [
    ['spec', 'jobTemplate'],
    ['spec', 'jobTemplate', 'spec', 'template'],
  ],
  '/replicationcontrollers': [['spec', 'template']],
  '/podtemplates': [['template']],
};

const META_ORDER = [
  'name',
  'generateName',
  'namespace',
  'uid',
  'resourceVersion',
  'generation',
  'creationTimestamp',
  'labels',
  'annotations',
];

/** Mirrors Go serialization quirks so stored objects read like a real server's. */
export function goSerialize(t: ResourceType, obj: SimObject): void {
  for (const path of TEMPLATE_PATHS[`${t.group}/${t.resource}`] ?? []) {
    let cur: unknown = obj;
    for (const p of path) cur = isObject(cur) ? cur[p] : undefined;
    if (!isObject(cur)) continue;
    const meta = isObject(cur.metadata) ? cur.metadata : {};
    if (!('creationTimestamp' in meta)) meta.creationTimestamp = null;
    const ordered: Record<string, unknown> = {};
    for (const k of META_ORDER) if (k in meta) ordered[k] = meta[k];
    for (const [k, v] of Object.entries(meta)) if (!(k in ordered)) ordered[k] = v;
    cur.metadata = ordered;
  }
}

export function decode(ctx: Ctx, allowYaml: boolean): unknown {
  const ct = String(ctx.req.headers['content-type'] ?? JSON_TYPE)
    .split(';')[0]
    ?.trim()
    .toLowerCase();
  const text = ctx.body.toString('utf8');
  if (ct === 'application/json' || ct === '*/*' || ct === '') {
    try {
      return JSON.parse(text);
    } catch (e) {
      throw errors.badRequest(`couldn't get version/kind; json parse error: ${(e as Error).message}`);
    }
  }
  if (allowYaml && (ct === 'application/yaml' || ct === 'application/apply-patch+yaml')) {
    try {
      return parseYaml(text);
    } catch (e) {
      throw errors.badRequest(`error converting YAML to JSON: ${(e as Error).message}`);
    }
  }
  throw errors.unsupportedMediaType();
}

/** Fills and checks apiVersion/kind/name/namespace of a body against the URL, as the real handlers do. */
export function decodeObject(api: Api, t: ResourceType, p: ResourcePath, raw: unknown): SimObject {
  if (!isObject(raw))
    throw errors.badRequest("couldn't get version/kind; json parse error: expected an object");
  const obj = raw as SimObject;
  const want = apiVersionOf(t);
  obj.apiVersion ??= want;
  obj.kind ??= t.kind;
  if (obj.apiVersion !== want) {
    throw errors.badRequest(
      `the API version in the data (${obj.apiVersion}) does not match the expected API version (${want})`,
    );
  }
  if (obj.kind !== t.kind) {
    const known = api.deps.store.types.some((x) => x.kind === obj.kind && apiVersionOf(x) === obj.apiVersion);
    const why = known
      ? `converting (${t.version}.${obj.kind}) to (${t.kind}): unknown conversion`
      : `no kind "${obj.kind}" is registered for version "${obj.apiVersion}" in scheme "pkg/api/legacyscheme/scheme.go:30"`;
    throw errors.badRequest(`${obj.kind} in version "${t.version}" cannot be handled as a ${t.kind}: ${why}`);
  }
  if (!isObject(obj.metadata)) obj.metadata = {} as SimObject['metadata'];
  if (t.namespaced) {
    if (obj.metadata.namespace && p.namespace !== undefined && obj.metadata.namespace !== p.namespace) {
      throw errors.badRequest(
        'the namespace of the provided object does not match the namespace sent on the request',
      );
    }
    if (p.namespace !== undefined) obj.metadata.namespace = p.namespace;
  }
  return obj;
}

/** fieldValidation for POST/PUT/non-apply PATCH: Strict fails, Warn (default) warns, Ignore is silent. */
export function unknownFields(api: Api, ctx: Ctx, t: ResourceType, obj: SimObject): SimObject {
  const { schemas } = api.deps.codecs;
  const decodeError = schemas.decodeError?.(obj.apiVersion, obj.kind, obj);
  if (decodeError) throw errors.badRequest(decodeError);
  const fields = schemas.unknownFields(obj.apiVersion, obj.kind, obj);
  if (fields.length === 0) return obj;
  const mode = ctx.url.searchParams.get('fieldValidation') ?? 'Warn';
  if (mode === 'Strict') {
    throw errors.badRequest(
      `${t.kind} in version "${t.version}" cannot be handled as a ${t.kind}: strict decoding error: ${fields.map((f) => `unknown field "${f}"`).join(', ')}`,
    );
  }
  if (mode !== 'Ignore') for (const f of fields) ctx.warnings.push(`unknown field "${f}"`);
  if (schemas.pruneUnknown) return schemas.pruneUnknown(obj.apiVersion, obj.kind, obj);
  for (const f of fields) dropPath(obj, f);
  return obj;
}

export function patchKind(ctx: Ctx): 'apply' | 'merge' | 'strategic' | 'json' {
  const ct = String(ctx.req.headers['content-type'] ?? '')
    .split(';')[0]
    ?.trim()
    .toLowerCase();
  switch (ct) {
    case 'application/apply-patch+yaml':
      return 'apply';
    case 'application/merge-patch+json':
      return 'merge';
    case 'application/strategic-merge-patch+json':
      return 'strategic';
    case 'application/json-patch+json':
      return 'json';
    default:
      throw errors.unsupportedMediaType();
  }
}

export function applyPatch(
  api: Api,
  ctx: Ctx,
  t: ResourceType,
  kind: 'merge' | 'strategic' | 'json',
  existing: SimObject,
): SimObject {
  const { codecs } = api.deps;
  let patch: unknown;
  try {
    patch = JSON.parse(ctx.body.toString('utf8'));
  } catch (e) {
    throw errors.badRequest(`error decoding patch: ${(e as Error).message}`);
  }
  const base = clone(existing);
  switch (kind) {
    case 'merge':
      return codecs.mergePatch(base, patch);
    case 'strategic':
      return codecs.strategicMergePatch(base, patch, apiVersionOf(t), t.kind, codecs.schemas);
    case 'json':
      return codecs.jsonPatch(base, patch);
  }
}

/** A server-side apply by this request (`force` from the query), or its failure thrown as the server answers it. */
export function applyConfiguration(
  api: Api,
  ctx: Ctx,
  t: ResourceType,
  p: ResourcePath,
  existing: SimObject | undefined,
  applied: SimObject,
  manager: string,
): SimObject {
  const { codecs } = api.deps;
  const result = codecs.serverSideApply({
    ...(existing ? { existing } : {}),
    applied,
    manager,
    force: boolParam(ctx.url.searchParams.get('force')),
    apiVersion: apiVersionOf(t),
    now: now(api),
    schemas: codecs.schemas,
  });
  if (!result.ok) throw applyFailure(t, p, result);
  return result.object;
}

/** 409 for conflicts; the 500 of fixtures 056-061 for fields the schema does not declare. */
export function applyFailure(
  t: ResourceType,
  p: ResourcePath,
  result: Exclude<ApplyResult, { ok: true }>,
): StatusError {
  if ('conflicts' in result) return errors.applyConflict(result.conflicts);
  const fields = result.unknownFields;
  const where = `${t.namespaced ? `${p.namespace}/` : ''}${p.name}; ${apiVersionOf(t)}, Kind=${t.kind}`;
  const what =
    result.message ??
    (fields.length === 1
      ? `${fields[0]}: field not declared in schema`
      : `errors:\n  ${fields.map((f) => `${f}: field not declared in schema`).join('\n  ')}`);
  return errors.internalNoReason(`failed to create typed patch object (${where}): ${what}`);
}
