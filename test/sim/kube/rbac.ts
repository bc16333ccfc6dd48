/**
 * Authentication (bearer tokens only) and authorization.
 *
 * Two kinds of identities:
 * - static tokens (`addToken`): cluster-admin, or an explicit rule list, or, with no rules, whatever the
 *   RBAC objects in the store grant to that user name;
 * - ServiceAccount tokens minted through the TokenRequest endpoint: RBAC from the Role/RoleBinding/
 *   ClusterRole/ClusterRoleBinding objects in the store, so tests can exercise the exact Role a user is told
 *   to create. Such a token dies with its ServiceAccount or at its expiry, like a bound token.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { MemoryStore } from './store.js';
import type { SimObject } from './types.js';

export interface Rule {
  verbs: string[];
  apiGroups?: string[];
  /** `pods`, `pods/exec`, `pods/portforward`, `*`, `*\/status` ... */
  resources?: string[];
  resourceNames?: string[];
  nonResourceURLs?: string[];
  /** Static rules only: the namespaces the rule applies in (all, and cluster scope, when absent). */
  namespaces?: string[];
}

export interface UserInfo {
  name: string;
  uid?: string;
  groups: string[];
}

export interface Identity {
  user: UserInfo;
  /** Static grant; undefined means "ask RBAC". */
  rules?: Rule[] | 'cluster-admin';
  /** For ServiceAccount tokens: the account that must still exist. */
  serviceAccount?: { namespace: string; name: string; uid: string };
  expiresAt?: number;
}

export interface Attributes {
  verb: string;
  group: string;
  resource: string;
  subresource?: string;
  namespace?: string;
  name?: string;
}

function b64url(v: string | Buffer): string {
  return Buffer.from(v).toString('base64url');
}

export class Authenticator {
  private readonly tokens = new Map<string, Identity>();
  constructor(
    private readonly store: MemoryStore,
    private readonly now: () => Date = () => new Date(),
  ) {}

  addToken(token: string, user: string, rules?: Rule[] | 'cluster-admin'): void {
    const groups = ['system:authenticated'];
    if (rules === 'cluster-admin') groups.unshift('system:masters');
    const sa = /^system:serviceaccount:([^:]+):([^:]+)$/.exec(user);
    if (sa) groups.unshift('system:serviceaccounts', `system:serviceaccounts:${sa[1]}`);
    this.tokens.set(token, { user: { name: user, groups }, rules });
  }

  removeToken(token: string): void {
    this.tokens.delete(token);
  }

  /** Looks like a real bound token (a JWT) so clients that peek at it are not surprised; only the map matters. */
  issueServiceAccountToken(
    sa: SimObject,
    expirationSeconds: number,
    audiences: string[],
  ): { token: string; expirationTimestamp: Date } {
    const iat = Math.floor(this.now().getTime() / 1000);
    const exp = iat + expirationSeconds;
    const namespace = sa.metadata.namespace as string;
    const name = sa.metadata.name;
    const payload = {
      aud: audiences,
      exp,
      iat,
      iss: 'https://kubernetes.default.svc.cluster.local',
      jti: randomUUID(),
      'kubernetes.io': { namespace, serviceaccount: { name, uid: sa.metadata.uid } },
      nbf: iat,
      sub: `system:serviceaccount:${namespace}:${name}`,
    };
    const token = `${b64url(JSON.stringify({ alg: 'RS256', kid: 'kube-sim' }))}.${b64url(JSON.stringify(payload))}.${b64url(randomBytes(64))}`;
    this.tokens.set(token, {
      user: {
        name: payload.sub,
        uid: sa.metadata.uid,
        groups: ['system:serviceaccounts', `system:serviceaccounts:${namespace}`, 'system:authenticated'],
      },
      serviceAccount: { namespace, name, uid: sa.metadata.uid },
      expiresAt: exp * 1000,
    });
    return { token, expirationTimestamp: new Date(exp * 1000) };
  }

  /** undefined for a missing, unknown, expired or orphaned token: the caller answers 401. */
  authenticate(authorization: string | undefined): Identity | undefined {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
    if (!m) return undefined;
    const id = this.tokens.get(m[1] as string);
    if (!id) return undefined;
    if (id.expiresAt !== undefined && id.expiresAt <= this.now().getTime()) return undefined;
    if (id.serviceAccount) {
      const sa = this.store.peek({
        group: '',
        resource: 'serviceaccounts',
        namespace: id.serviceAccount.namespace,
        name: id.serviceAccount.name,
      });
      if (!sa || sa.metadata.uid !== id.serviceAccount.uid) return undefined;
    }
    return id;
  }
}

function ruleMatches(rule: Rule, a: Attributes): boolean {
  const verbs = rule.verbs ?? [];
  if (!verbs.includes('*') && !verbs.includes(a.verb)) return false;
  const groups = rule.apiGroups ?? [];
  if (!groups.includes('*') && !groups.includes(a.group)) return false;
  const resources = rule.resources ?? [];
  const full = a.subresource ? `${a.resource}/${a.subresource}` : a.resource;
  const resourceOk =
    resources.includes('*') ||
    resources.includes(full) ||
    (a.subresource !== undefined && resources.includes(`*/${a.subresource}`));
  if (!resourceOk) return false;
  if (rule.resourceNames?.length) {
    if (a.name === undefined || !rule.resourceNames.includes(a.name)) return false;
  }
  return true;
}

interface Subject {
  kind: string;
  name: string;
  namespace?: string;
}

function subjectMatches(s: Subject, user: UserInfo, bindingNamespace?: string): boolean {
  switch (s.kind) {
    case 'User':
      return s.name === user.name;
    case 'Group':
      return user.groups.includes(s.name);
    case 'ServiceAccount':
      return user.name === `system:serviceaccount:${s.namespace ?? bindingNamespace}:${s.name}`;
  }
  return false;
}

export interface Decision {
  allowed: boolean;
  reason: string;
}

/** What the bootstrap ClusterRole system:basic-user grants every authenticated user: asking about oneself. */
const BASIC_USER: Rule[] = [
  { verbs: ['create'], apiGroups: ['authentication.k8s.io'], resources: ['selfsubjectreviews'] },
  {
    verbs: ['create'],
    apiGroups: ['authorization.k8s.io'],
    resources: ['selfsubjectaccessreviews', 'selfsubjectrulesreviews'],
  },
];

export class Authorizer {
  constructor(private readonly store: MemoryStore) {}

  authorize(id: Identity, a: Attributes): Decision {
    if (id.rules === 'cluster-admin' || id.user.groups.includes('system:masters')) {
      return { allowed: true, reason: '' };
    }
    if (BASIC_USER.some((r) => ruleMatches(r, a))) {
      return {
        allowed: true,
        reason:
          'RBAC: allowed by ClusterRoleBinding "system:basic-user" of ClusterRole "system:basic-user" to Group "system:authenticated"',
      };
    }
    if (id.rules) {
      const ok = id.rules.some(
        (r) =>
          (r.namespaces === undefined || (a.namespace !== undefined && r.namespaces.includes(a.namespace))) &&
          ruleMatches(r, a),
      );
      return { allowed: ok, reason: '' };
    }
    return this.rbac(id.user, a);
  }

  /** RBAC as the real authorizer evaluates it: ClusterRoleBindings everywhere, RoleBindings in their namespace. */
  private rbac(user: UserInfo, a: Attributes): Decision {
    for (const crb of this.store.list('rbac.authorization.k8s.io', 'clusterrolebindings')) {
      if (!((crb.subjects as Subject[] | undefined) ?? []).some((s) => subjectMatches(s, user))) continue;
      const role = this.role(crb.roleRef?.kind, crb.roleRef?.name);
      if (role && this.rulesOf(role).some((r) => ruleMatches(r, a))) {
        return {
          allowed: true,
          reason: `RBAC: allowed by ClusterRoleBinding "${crb.metadata.name}" of ClusterRole "${role.metadata.name}" to ${user.name}`,
        };
      }
    }
    if (a.namespace !== undefined) {
      for (const rb of this.store.list('rbac.authorization.k8s.io', 'rolebindings', {
        namespace: a.namespace,
      })) {
        if (!((rb.subjects as Subject[] | undefined) ?? []).some((s) => subjectMatches(s, user, a.namespace)))
          continue;
        const role = this.role(rb.roleRef?.kind, rb.roleRef?.name, a.namespace);
        if (role && this.rulesOf(role).some((r) => ruleMatches(r, a))) {
          return {
            allowed: true,
            reason: `RBAC: allowed by RoleBinding "${rb.metadata.name}/${a.namespace}" of ${role.kind} "${role.metadata.name}" to ${user.name}`,
          };
        }
      }
    }
    return { allowed: false, reason: '' };
  }

  /**
   * Every rule that applies to `id` in `namespace` (cluster-wide ones too), as the escalation checks'
   * RulesFor resolves them: ClusterRoleBindings, then the namespace's RoleBindings, plus what every
   * authenticated user holds. A static identity's rules count where their `namespaces` allow.
   */
  rulesFor(id: Identity, namespace: string | undefined): Rule[] {
    if (id.rules === 'cluster-admin') return [{ verbs: ['*'], apiGroups: ['*'], resources: ['*'] }];
    const out: Rule[] = [...BASIC_USER];
    if (id.rules) {
      for (const r of id.rules) {
        if (r.namespaces === undefined || (namespace !== undefined && r.namespaces.includes(namespace)))
          out.push({ ...r, namespaces: undefined });
      }
      return out;
    }
    for (const crb of this.store.list('rbac.authorization.k8s.io', 'clusterrolebindings')) {
      if (!((crb.subjects as Subject[] | undefined) ?? []).some((s) => subjectMatches(s, id.user))) continue;
      const role = this.role(crb.roleRef?.kind, crb.roleRef?.name);
      if (role) out.push(...this.rulesOf(role));
    }
    if (namespace !== undefined) {
      for (const rb of this.store.list('rbac.authorization.k8s.io', 'rolebindings', { namespace })) {
        if (
          !((rb.subjects as Subject[] | undefined) ?? []).some((s) => subjectMatches(s, id.user, namespace))
        )
          continue;
        const role = this.role(rb.roleRef?.kind, rb.roleRef?.name, namespace);
        if (role) out.push(...this.rulesOf(role));
      }
    }
    return out;
  }

  /** The Role (in `namespace`) or ClusterRole a binding refers to, if it exists. */
  referencedRole(
    kind: string | undefined,
    name: string | undefined,
    namespace?: string,
  ): SimObject | undefined {
    return this.role(kind, name, namespace);
  }

  private role(
    kind: string | undefined,
    name: string | undefined,
    namespace?: string,
  ): SimObject | undefined {
    if (!name) return undefined;
    if (kind === 'ClusterRole') {
      return this.store.peek({ group: 'rbac.authorization.k8s.io', resource: 'clusterroles', name });
    }
    if (kind === 'Role' && namespace !== undefined) {
      return this.store.peek({ group: 'rbac.authorization.k8s.io', resource: 'roles', namespace, name });
    }
    return undefined;
  }

  private rulesOf(role: SimObject): Rule[] {
    return ((role.rules as Rule[] | undefined) ?? []).map((r) => ({ ...r, namespaces: undefined }));
  }
}
