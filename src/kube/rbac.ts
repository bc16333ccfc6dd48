/**
 * What the API server's RBAC escalation checks mean for a template's Roles and RoleBindings.
 *
 * kube-apiserver lets an identity write a Role only if it already holds every permission the Role grants (or
 * holds `escalate` on roles), and a RoleBinding only if it may `bind` the referenced role or holds every
 * permission of that role. Both checks run in the registry, so dry runs and server-side apply meet them too
 * (recorded on a real 1.32 server: shared fixtures kube-real-2/036-055).
 */
import { KubeApiError } from '../errors.js';
import { parseErrorBody } from './errors.js';
import type { KubeObject } from './types.js';

const RBAC_GROUP = 'rbac.authorization.k8s.io';
const ESCALATION = /is attempting to grant RBAC permissions not currently held:\n([\s\S]*)$/;

const FIELDS: Record<string, string> = {
  APIGroups: 'apiGroups',
  Resources: 'resources',
  NonResourceURLs: 'nonResourceURLs',
  ResourceNames: 'resourceNames',
  Verbs: 'verbs',
};

/**
 * The missing rules of an escalation refusal as YAML list items, ready to paste into a Role's `rules`.
 * Each line of the message is one rule in Go's compact form: `{APIGroups:["metrics.k8s.io"], Resources:["pods"], Verbs:["get" "list"]}`.
 */
export function missingRulesYaml(message: string): string | undefined {
  const m = ESCALATION.exec(message);
  if (!m) return undefined;
  const rules: string[] = [];
  // The server may append "; resolution errors: ..." after the last rule.
  for (const line of (m[1] as string).split('\n')) {
    const parts: string[] = [];
    for (const f of line.matchAll(/(\w+):\[((?:"(?:[^"\\]|\\.)*"\s*)*)\]/g)) {
      const key = FIELDS[f[1] as string];
      if (!key) continue;
      const values = [...(f[2] as string).matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((v) =>
        JSON.stringify(JSON.parse(`"${v[1]}"`)),
      );
      parts.push(`${key}: [${values.join(', ')}]`);
    }
    if (parts.length) rules.push(`  - ${parts.join('\n    ')}`);
  }
  return rules.length ? rules.join('\n') : undefined;
}

/**
 * The hint of a Role the API server refused because it grants more than the action's identity holds, or
 * undefined for any other error.
 */
export function escalationHint(err: KubeApiError): string | undefined {
  if (err.code !== 403) return undefined;
  const message = parseErrorBody(err.details).status?.message ?? err.message;
  const rules = missingRulesYaml(message);
  if (!rules) return undefined;
  return (
    "The template grants permissions (in a Role, or by binding a role) that the action's own identity does " +
    'not hold, and Kubernetes lets an identity grant only what it holds. Add these rules to the Role bound to ' +
    "the action's credentials (examples/rbac/role.yaml), or drop them from the template (see the README's " +
    '"Templates with RBAC objects"):\n' +
    rules
  );
}

/** The same error with the escalation hint, when it is an escalation refusal. */
export function withEscalationHint(err: KubeApiError): KubeApiError {
  const hint = escalationHint(err);
  if (!hint) return err;
  return new KubeApiError(err.message, err.code, err.reason, { hint, details: err.details, cause: err });
}

/**
 * The template's Role that `binding` refers to, when `binding` is a RoleBinding and the Role is one of `objs`.
 */
export function roleOfTemplate(binding: KubeObject, objs: readonly KubeObject[]): KubeObject | undefined {
  if (binding.kind !== 'RoleBinding' || !binding.apiVersion.startsWith(`${RBAC_GROUP}/`)) return undefined;
  const ref = (binding as { roleRef?: { kind?: string; name?: string } }).roleRef;
  if (ref?.kind !== 'Role' || !ref.name) return undefined;
  return objs.find(
    (o) => o.kind === 'Role' && o.apiVersion.startsWith(`${RBAC_GROUP}/`) && o.metadata.name === ref.name,
  );
}

/**
 * True when `err` is the API server's answer to a binding whose Role does not exist: 404 NotFound named after
 * the *Role* (under the rolebindings resource: the registry's lookup carries the request's resource).
 */
export function isMissingRoleOf(err: KubeApiError, role: KubeObject): boolean {
  if (err.code !== 404) return false;
  return parseErrorBody(err.details).status?.details?.name === role.metadata.name;
}
