/** Writes: create (POST), replace (PUT), patch (merge, strategic, JSON) and server-side apply. */
import { randomUUID } from 'node:crypto';
import { randomSuffix } from '../admission.js';
import { errors } from '../errors.js';
import { enforcePodSecurity } from '../podsecurity.js';
import { canonicalize } from '../store.js';
import type { ResourceType, SimObject } from '../types.js';
import {
  checkNamespace,
  confirmRbac,
  defaults,
  dryRun,
  now,
  podSecurityWarning,
  validate,
} from './checks.js';
import {
  applyConfiguration,
  applyPatch,
  decode,
  decodeObject,
  goSerialize,
  patchKind,
  recordUpdate,
  unknownFields,
} from './content.js';
import { key, mustGet } from './reads.js';
import { type Api, type Ctx, isObject, type Reply, type ResourcePath } from './types.js';

export function create(api: Api, ctx: Ctx, t: ResourceType, p: ResourcePath): Reply {
  if (t.namespaced && p.namespace === undefined) throw errors.resourceNotFound();
  let obj = decodeObject(api, t, p, decode(ctx, true));
  if (obj.metadata.resourceVersion) {
    throw errors.badRequest('resourceVersion should not be set on objects to be created');
  }
  obj = unknownFields(api, ctx, t, obj);
  obj = defaults(api, obj);
  if (!obj.metadata.name && obj.metadata.generateName) {
    // Validation must see a name, as the real strategy generates it before validating.
    obj.metadata.name = `${obj.metadata.generateName}${randomSuffix(5)}`;
  }
  checkNamespace(api, t, obj);
  confirmRbac(api, ctx, t, p, obj);
  validate(api, t, obj);
  podSecurityWarning(api, ctx, obj);
  obj = recordUpdate(api, ctx, t, obj);
  goSerialize(t, obj);
  if (dryRun(ctx)) {
    // BeforeCreate ran: a dry-run create answers with a uid and a creation time, and no resourceVersion
    // (kube-real-2/044, 049).
    obj.metadata.uid = randomUUID();
    obj.metadata.creationTimestamp = now(api);
    // Admission runs for a dry run too (fixtures 103, 108); the store runs it for a real create.
    if (t.group === '' && t.resource === 'pods') {
      const ns = obj.metadata.namespace ?? p.namespace;
      enforcePodSecurity(
        ns ? api.deps.store.get({ group: '', resource: 'namespaces', name: ns }) : undefined,
        obj,
      );
    }
    return { status: 201, body: canonicalize(obj) };
  }
  return { status: 201, body: api.deps.store.create(obj) };
}

export function replace(api: Api, ctx: Ctx, t: ResourceType, p: ResourcePath): Reply {
  const obj = decodeObject(api, t, p, decode(ctx, true));
  if (obj.metadata.name !== p.name) {
    throw errors.badRequest(
      `the name of the object (${obj.metadata.name ?? ''}) does not match the name on the URL (${p.name})`,
    );
  }
  const existing = mustGet(api, t, p);
  if (obj.metadata.resourceVersion && obj.metadata.resourceVersion !== existing.metadata.resourceVersion) {
    throw errors.conflict(t.group, t.resource, p.name as string);
  }
  return update(api, ctx, t, p, existing, obj);
}

export function patch(api: Api, ctx: Ctx, t: ResourceType, p: ResourcePath): Reply {
  const kind = patchKind(ctx);
  const q = ctx.url.searchParams;
  if (kind === 'apply') return serverSideApply(api, ctx, t, p);
  if (q.get('force') !== null) {
    throw errors.invalid('PatchOptions', 'meta.k8s.io', '', [
      {
        reason: 'FieldValueForbidden',
        field: 'force',
        message: 'Forbidden: may not be specified for non-apply patch',
      },
    ]);
  }
  const existing = mustGet(api, t, p);
  const obj = applyPatch(api, ctx, t, kind, existing);
  if (!isObject(obj) || !isObject(obj.metadata))
    throw errors.badRequest('the patch produced an invalid object');
  obj.metadata.name = existing.metadata.name;
  if (t.namespaced) obj.metadata.namespace = existing.metadata.namespace;
  obj.apiVersion = existing.apiVersion;
  obj.kind = existing.kind;
  return update(api, ctx, t, p, existing, obj);
}

/** The rest of an update, after a replace or a patch made the new object: admission, RBAC, validation, store. */
function update(
  api: Api,
  ctx: Ctx,
  t: ResourceType,
  p: ResourcePath,
  existing: SimObject,
  updated: SimObject,
): Reply {
  let obj = unknownFields(api, ctx, t, updated);
  obj = defaults(api, obj);
  confirmRbac(api, ctx, t, p, obj, existing);
  validate(api, t, obj, existing);
  podSecurityWarning(api, ctx, obj);
  obj = recordUpdate(api, ctx, t, obj, existing);
  goSerialize(t, obj);
  if (dryRun(ctx)) return { status: 200, body: canonicalize(obj) };
  return { status: 200, body: api.deps.store.update(obj) };
}

export function serverSideApply(api: Api, ctx: Ctx, t: ResourceType, p: ResourcePath): Reply {
  const q = ctx.url.searchParams;
  const manager = q.get('fieldManager');
  if (!manager) throw errors.fieldManagerRequired();
  const applied = decodeObject(api, t, p, decode(ctx, true));
  applied.metadata.name ??= p.name as string;
  if (applied.metadata.name !== p.name) {
    throw errors.badRequest(
      `the name of the object (${applied.metadata.name}) does not match the name on the URL (${p.name})`,
    );
  }
  if (t.namespaced && p.namespace === undefined) throw errors.resourceNotFound();
  const existing = api.deps.store.get(key(t, p));
  const precondition = applied.metadata.resourceVersion;
  if (precondition && precondition !== existing?.metadata.resourceVersion) {
    throw existing
      ? errors.conflict(t.group, t.resource, p.name as string)
      : errors.notFound(t.group, t.resource, p.name as string);
  }
  let obj = defaults(api, applyConfiguration(api, ctx, t, p, existing, applied, manager));
  if (!existing) checkNamespace(api, t, obj);
  confirmRbac(api, ctx, t, p, obj, existing);
  validate(api, t, obj, existing);
  podSecurityWarning(api, ctx, obj);
  goSerialize(t, obj);
  if (dryRun(ctx)) {
    if (!existing) {
      // As a dry-run POST: the new object's uid and creation time, no resourceVersion (kube-real-2/046, 050).
      obj.metadata.uid = randomUUID();
      obj.metadata.creationTimestamp = now(api);
    }
    return { status: existing ? 200 : 201, body: canonicalize(obj) };
  }
  if (!existing) return { status: 201, body: api.deps.store.create(obj) };
  obj = { ...obj, metadata: { ...obj.metadata, resourceVersion: existing.metadata.resourceVersion } };
  return { status: 200, body: api.deps.store.update(obj) };
}
