/**
 * RBAC's privilege-escalation checks on writes of Roles, ClusterRoles and their bindings, as kube-apiserver's
 * policy-based registries run them (kubernetes/kubernetes pkg/registry/rbac: role/policybased,
 * rolebinding/policybased, escalation_check.go, validation/rule.go ConfirmNoEscalation, and
 * component-helpers' Covers). They run inside the storage layer, so a dry run and a server-side apply are
 * checked exactly like a real create (fixtures kube-real-2/036-055):
 *
 * - a Role may grant only what the writer already holds in that namespace, unless the writer may `escalate`
 *   roles: 403 naming only the missing rule parts (036-039);
 * - a RoleBinding is allowed if the writer may `bind` the referenced role (then the role is not even read:
 *   044-047), or holds every permission of that role; the role is read for that, and a missing role answers
 *   404 named after the role but under the *binding's* resource (040-043: the registry's NotFound carries the
 *   request's resource);
 * - members of system:masters skip every check (048-055).
 */
import { isDeepStrictEqual } from 'node:util';
import { errors } from './errors.js';
import type { Authorizer, Identity, Rule } from './rbac.js';
import type { SimObject } from './types.js';

const RBAC_GROUP = 'rbac.authorization.k8s.io';

/** The request as the registry sees it: resource and name from the URL, namespace of the request. */
export interface RbacWrite {
  group: string;
  resource: string;
  namespace?: string;
  /** Set for PUT/PATCH (and SSA), absent for POST: an `escalate` grant limited by name never matches a create. */
  name?: string;
}

/** One rule per group × resource × verb (× name), as BreakdownRule splits them. */
function breakdown(rule: Rule): Rule[] {
  const out: Rule[] = [];
  for (const g of rule.apiGroups ?? []) {
    for (const r of rule.resources ?? []) {
      for (const v of rule.verbs ?? []) {
        if (rule.resourceNames?.length) {
          for (const n of rule.resourceNames)
            out.push({ apiGroups: [g], resources: [r], verbs: [v], resourceNames: [n] });
        } else {
          out.push({ apiGroups: [g], resources: [r], verbs: [v] });
        }
      }
    }
  }
  for (const u of rule.nonResourceURLs ?? []) {
    for (const v of rule.verbs ?? []) out.push({ nonResourceURLs: [u], verbs: [v] });
  }
  return out;
}

const hasAll = (set: string[] | undefined, want: string[] | undefined) =>
  (want ?? []).every((w) => (set ?? []).includes(w));

function resourcesCovered(owner: string[] | undefined, want: string[] | undefined): boolean {
  const set = owner ?? [];
  if (set.includes('*') || hasAll(set, want)) return true;
  return (want ?? []).every((path) => {
    if (set.includes(path)) return true;
    const slash = path.indexOf('/');
    return slash >= 0 && set.includes(`*/${path.slice(slash + 1)}`);
  });
}

function urlsCovered(owner: string[] | undefined, want: string[] | undefined): boolean {
  return (want ?? []).every((u) =>
    (owner ?? []).some((o) => o === u || (o.endsWith('*') && u.startsWith(o.slice(0, -1)))),
  );
}

function ruleCovers(owner: Rule, sub: Rule): boolean {
  const verbs = owner.verbs.includes('*') || hasAll(owner.verbs, sub.verbs);
  const groups = (owner.apiGroups ?? []).includes('*') || hasAll(owner.apiGroups, sub.apiGroups);
  const names = sub.resourceNames?.length
    ? !owner.resourceNames?.length || hasAll(owner.resourceNames, sub.resourceNames)
    : !owner.resourceNames?.length;
  return (
    verbs &&
    groups &&
    resourcesCovered(owner.resources, sub.resources) &&
    names &&
    urlsCovered(owner.nonResourceURLs, sub.nonResourceURLs)
  );
}

/** The parts of `wanted` that no rule of `owner` covers (Covers' second result). */
export function uncovered(owner: Rule[], wanted: Rule[]): Rule[] {
  return wanted.flatMap(breakdown).filter((sub) => !owner.some((o) => ruleCovers(o, sub)));
}

/** CompactRules: single group/resource rules that differ only by verb become one. */
function compact(rules: Rule[]): Rule[] {
  const out: Rule[] = [];
  const simple = new Map<string, Rule>();
  for (const r of rules) {
    const isSimple =
      !r.resourceNames?.length &&
      !r.nonResourceURLs?.length &&
      r.apiGroups?.length === 1 &&
      r.resources?.length === 1;
    if (!isSimple) {
      out.push(r);
      continue;
    }
    const key = `${r.apiGroups?.[0]}\u0000${r.resources?.[0]}`;
    const seen = simple.get(key);
    if (seen) seen.verbs.push(...r.verbs);
    else simple.set(key, { apiGroups: r.apiGroups, resources: r.resources, verbs: [...r.verbs] });
  }
  return [...out, ...simple.values()];
}

/** Go's `%q` of a []string: `["a" "b"]`. */
const goList = (xs: string[]) => `[${xs.map((x) => JSON.stringify(x)).join(' ')}]`;

/** rbacv1helpers.CompactString: `{APIGroups:["metrics.k8s.io"], Resources:["pods"], Verbs:["get" "list"]}`. */
function compactString(r: Rule): string {
  const parts: string[] = [];
  if (r.apiGroups?.length) parts.push(`APIGroups:${goList(r.apiGroups)}`);
  if (r.resources?.length) parts.push(`Resources:${goList(r.resources)}`);
  if (r.nonResourceURLs?.length) parts.push(`NonResourceURLs:${goList(r.nonResourceURLs)}`);
  if (r.resourceNames?.length) parts.push(`ResourceNames:${goList(r.resourceNames)}`);
  if (r.verbs?.length) parts.push(`Verbs:${goList(r.verbs)}`);
  return `{${parts.join(', ')}}`;
}

/** ConfirmNoEscalation: undefined when `id` holds every rule, else the registry's message (036). */
function escalationMessage(
  authz: Authorizer,
  id: Identity,
  namespace: string | undefined,
  rules: Rule[],
): string | undefined {
  const missing = uncovered(authz.rulesFor(id, namespace), rules);
  if (missing.length === 0) return undefined;
  const lines = [...new Set(compact(missing).map(compactString))].sort();
  return `user ${JSON.stringify(id.user.name)} (groups=${goList(id.user.groups)}) is attempting to grant RBAC permissions not currently held:\n${lines.join('\n')}`;
}

/**
 * IsOnlyMutatingGCFields: an update that touches only what the garbage collector writes is not checked.
 * A re-apply that changes nothing leaves the object as it was, so it passes too, as on a real server.
 * Managed-field times are left out: the simulator stamps them on every apply.
 */
function onlyGcFields(obj: SimObject, old: SimObject): boolean {
  const strip = (o: SimObject) => {
    const { ownerReferences, finalizers, selfLink, deletionTimestamp, deletionGracePeriodSeconds, ...meta } =
      o.metadata;
    const managedFields = (meta.managedFields as Array<Record<string, unknown>> | undefined)?.map(
      ({ time, ...m }) => m,
    );
    return { ...o, metadata: { ...meta, managedFields } };
  };
  return isDeepStrictEqual(strip(obj), strip(old));
}

/** An identity in system:masters bypasses every check (EscalationAllowed). */
function escalationAllowed(id: Identity): boolean {
  return id.rules === 'cluster-admin' || id.user.groups.includes('system:masters');
}

/**
 * Throws the StatusError the real registry answers when writing `obj` (a Role, ClusterRole, RoleBinding or
 * ClusterRoleBinding; anything else passes) would escalate privileges. `old` is the stored object of an update.
 */
export function confirmRbacWrite(
  authz: Authorizer,
  id: Identity,
  w: RbacWrite,
  obj: SimObject,
  old?: SimObject,
): void {
  if (w.group !== RBAC_GROUP || escalationAllowed(id)) return;
  const clusterScoped = w.resource === 'clusterroles' || w.resource === 'clusterrolebindings';
  const namespace = clusterScoped ? undefined : w.namespace;
  const name = obj.metadata.name;
  if (old && onlyGcFields(obj, old)) return;

  if (w.resource === 'roles' || w.resource === 'clusterroles') {
    // RoleEscalationAuthorized: `escalate` on the resource of the request.
    const escalate = { verb: 'escalate', group: w.group, resource: w.resource };
    if (authz.authorize(id, { ...escalate, namespace, name: w.name }).allowed) return;
    const why = escalationMessage(authz, id, namespace, (obj.rules as Rule[] | undefined) ?? []);
    if (why) throw errors.forbiddenBecause(w.group, w.resource, name, why);
    return;
  }
  if (w.resource !== 'rolebindings' && w.resource !== 'clusterrolebindings') return;
  const ref = (obj.roleRef ?? {}) as { apiGroup?: string; kind?: string; name?: string };
  const roleResource = ref.kind === 'ClusterRole' ? 'clusterroles' : ref.kind === 'Role' ? 'roles' : '';
  // BindingAuthorized: `bind` on the referenced role, in the binding's namespace.
  if (
    roleResource &&
    authz.authorize(id, {
      verb: 'bind',
      group: ref.apiGroup ?? '',
      resource: roleResource,
      name: ref.name ?? '',
      ...(namespace !== undefined ? { namespace } : {}),
    }).allowed
  )
    return;
  if (!roleResource)
    throw errors.internal(`unsupported role reference kind: ${JSON.stringify(ref.kind ?? '')}`);
  const role = authz.referencedRole(ref.kind, ref.name, namespace);
  // The role getter's NotFound names the request's resource (rolebindings), not roles (040-043).
  if (!role) throw errors.notFound(w.group, w.resource, ref.name ?? '');
  const why = escalationMessage(authz, id, namespace, (role.rules as Rule[] | undefined) ?? []);
  if (why) throw errors.forbiddenBecause(w.group, w.resource, name, why);
}
