/** The steps every write shares between decoding and storing: namespace, RBAC escalation, defaults, validation, Pod Security. */

import { errors } from '../errors.js';
import { confirmRbacWrite, type RbacWrite } from '../escalation.js';
import { workloadWarning } from '../podsecurity.js';
import { rfc3339 } from '../store.js';
import type { ResourceType, SimObject } from '../types.js';
import type { Api, Ctx, ResourcePath } from './types.js';

/**
 * RBAC's escalation checks (escalation.ts) run in the registry: after decoding and admission, before
 * validation, for dry runs and server-side apply alike (fixtures kube-real-2/036-055).
 */
export function confirmRbac(
  api: Api,
  ctx: Ctx,
  t: ResourceType,
  p: ResourcePath,
  obj: SimObject,
  old?: SimObject,
): void {
  const w: RbacWrite = { group: t.group, resource: t.resource };
  if (p.namespace !== undefined) w.namespace = p.namespace;
  if (p.name !== undefined) w.name = p.name;
  confirmRbacWrite(api.deps.authz, ctx.id, w, obj, old);
}

export function validate(api: Api, t: ResourceType, obj: SimObject, old?: SimObject): void {
  const causes = api.deps.codecs.schemas.validate(obj.apiVersion, obj.kind, obj, old);
  if (causes.length) throw errors.invalid(t.kind, t.group, obj.metadata.name ?? '', causes);
}

/** Pod Security admission's warning on a workload (it is accepted; its pods will not be). */
export function podSecurityWarning(api: Api, ctx: Ctx, obj: SimObject): void {
  if (!obj.metadata.namespace) return;
  const ns = api.deps.store.get({ group: '', resource: 'namespaces', name: obj.metadata.namespace });
  const warning = workloadWarning(ns, obj);
  if (warning) ctx.warnings.push(warning);
}

export function defaults(api: Api, obj: SimObject): SimObject {
  return api.deps.codecs.schemas.applyDefaults(obj.apiVersion, obj.kind, obj);
}

export function now(api: Api): string {
  return rfc3339(api.deps.store.now());
}

export function checkNamespace(api: Api, t: ResourceType, obj: SimObject): void {
  if (!t.namespaced) return;
  const ns = obj.metadata.namespace as string;
  const nsObj = api.deps.store.peek({ group: '', resource: 'namespaces', name: ns });
  if (!nsObj) throw errors.notFound('', 'namespaces', ns);
  if (nsObj.metadata.deletionTimestamp && t.resource !== 'events') {
    throw errors.namespaceTerminating(t.group, t.resource, obj.metadata.name ?? '', ns);
  }
}

export function dryRun(ctx: Ctx): boolean {
  return ctx.url.searchParams.getAll('dryRun').includes('All');
}
