/**
 * The simulator's RBAC escalation checks where the recordings (kube-real-2/036-055, replayed in
 * test/integration/sim-rbac-fixtures.test.ts) do not reach: `escalate`, a binding to an existing Role,
 * updates, and the compaction of the missing rules in the message (ConfirmNoEscalation, Covers, CompactRules).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SimClient } from './http-client.js';
import { type KubeSim, startKubeSim } from './index.js';
import type { SimObject } from './types.js';

const NS = 'esc';
const RBAC = `/apis/rbac.authorization.k8s.io/v1/namespaces/${NS}`;
const USER = `system:serviceaccount:${NS}:writer`;

let sim: KubeSim;
let admin: SimClient;
let tokenSeq = 0;

beforeAll(async () => {
  sim = await startKubeSim({ namespaces: [NS] });
  admin = new SimClient(sim.url, sim.caPem, sim.adminToken);
});
afterAll(async () => {
  await sim?.close();
});

/** A token whose identity holds `rules` through a Role and RoleBinding in the store. */
function identityWith(rules: unknown[]): string {
  const name = `writer-rules-${++tokenSeq}`;
  sim.store.create({
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'Role',
    metadata: { name, namespace: NS },
    rules,
  } as unknown as SimObject);
  sim.store.create({
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'RoleBinding',
    metadata: { name, namespace: NS },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name },
    subjects: [{ kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: `${USER}-${tokenSeq}` }],
  } as unknown as SimObject);
  const token = `t-${tokenSeq}`;
  sim.addToken(token, `${USER}-${tokenSeq}`);
  return token;
}

// Not `*`: a wildcard verb includes `escalate` and `bind`.
const WRITE_RBAC = {
  apiGroups: ['rbac.authorization.k8s.io'],
  resources: ['roles', 'rolebindings'],
  verbs: ['get', 'list', 'create', 'update', 'patch', 'delete'],
};
const role = (name: string, rules: unknown[]) => ({
  apiVersion: 'rbac.authorization.k8s.io/v1',
  kind: 'Role',
  metadata: { name },
  rules,
});
const binding = (name: string, roleName: string) => ({
  apiVersion: 'rbac.authorization.k8s.io/v1',
  kind: 'RoleBinding',
  metadata: { name },
  roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: roleName },
  subjects: [{ kind: 'ServiceAccount', name: 'default' }],
});

describe('RBAC escalation checks', () => {
  it('lists each missing group/resource once, verbs merged, sorted; held and wildcard-covered parts are left out', async () => {
    const token = identityWith([
      WRITE_RBAC,
      { apiGroups: [''], resources: ['pods', '*/log'], verbs: ['get'] },
      { apiGroups: ['apps'], resources: ['*'], verbs: ['*'] },
    ]);
    const r = await admin.request({
      method: 'POST',
      path: `${RBAC}/roles`,
      token,
      body: role('wide', [
        { apiGroups: ['', 'batch'], resources: ['pods', 'pods/log'], verbs: ['get', 'delete'] },
        { apiGroups: ['apps'], resources: ['deployments'], verbs: ['create'] },
        { apiGroups: [''], resources: ['secrets'], resourceNames: ['s1'], verbs: ['get'] },
      ]),
    });
    expect(r.status).toBe(403);
    expect(r.json.message.split('\n').slice(1)).toEqual([
      '{APIGroups:[""], Resources:["pods"], Verbs:["delete"]}',
      '{APIGroups:[""], Resources:["pods/log"], Verbs:["delete"]}',
      '{APIGroups:[""], Resources:["secrets"], ResourceNames:["s1"], Verbs:["get"]}',
      '{APIGroups:["batch"], Resources:["pods"], Verbs:["get" "delete"]}',
      '{APIGroups:["batch"], Resources:["pods/log"], Verbs:["get" "delete"]}',
    ]);
    expect(
      sim.store.peek({ group: 'rbac.authorization.k8s.io', resource: 'roles', namespace: NS, name: 'wide' }),
    ).toBeUndefined();
  });

  it('lets an identity holding `escalate` on roles write any Role, but not bind it without holding its rules', async () => {
    const token = identityWith([
      WRITE_RBAC,
      { apiGroups: ['rbac.authorization.k8s.io'], resources: ['roles'], verbs: ['escalate'] },
    ]);
    const grant = [{ apiGroups: [''], resources: ['nodes'], verbs: ['list'] }];
    expect(
      (await admin.request({ method: 'POST', path: `${RBAC}/roles`, token, body: role('esc-role', grant) }))
        .status,
    ).toBe(201);
    const b = await admin.request({
      method: 'POST',
      path: `${RBAC}/rolebindings`,
      token,
      body: binding('esc-bind', 'esc-role'),
    });
    expect(b.status).toBe(403);
    expect(b.json.message).toMatch(
      /^rolebindings\.rbac\.authorization\.k8s\.io "esc-bind" is forbidden: user "[^"]+" \(groups=\[[^\]]+\]\) is attempting to grant RBAC permissions not currently held:\n\{APIGroups:\[""\], Resources:\["nodes"\], Verbs:\["list"\]\}$/,
    );
    expect(b.json.details).toEqual({
      name: 'esc-bind',
      group: 'rbac.authorization.k8s.io',
      kind: 'rolebindings',
    });
  });

  it('binds an existing Role whose rules the identity holds, by POST and by server-side apply', async () => {
    const token = identityWith([
      WRITE_RBAC,
      { apiGroups: [''], resources: ['pods'], verbs: ['get', 'list'] },
    ]);
    const grant = [{ apiGroups: [''], resources: ['pods'], verbs: ['get'] }];
    expect(
      (await admin.request({ method: 'POST', path: `${RBAC}/roles`, token, body: role('readpods', grant) }))
        .status,
    ).toBe(201);
    expect(
      (
        await admin.request({
          method: 'POST',
          path: `${RBAC}/rolebindings`,
          token,
          query: { dryRun: 'All' },
          body: binding('rp', 'readpods'),
        })
      ).status,
    ).toBe(201);
    const ssa = await admin.request({
      method: 'PATCH',
      path: `${RBAC}/rolebindings/rp-ssa`,
      query: { fieldManager: 'm', force: 'true' },
      headers: { 'Content-Type': 'application/apply-patch+yaml' },
      token,
      body: binding('rp-ssa', 'readpods'),
    });
    expect(ssa.status).toBe(201);
  });

  it('checks updates too, but lets a re-apply that changes nothing through', async () => {
    const token = identityWith([WRITE_RBAC, { apiGroups: [''], resources: ['pods'], verbs: ['get'] }]);
    // An admin-made Role granting more than the identity holds.
    const grant = [{ apiGroups: [''], resources: ['secrets'], verbs: ['get'] }];
    const apply = (body: unknown, as: string) =>
      admin.request({
        method: 'PATCH',
        path: `${RBAC}/roles/admin-made`,
        query: { fieldManager: 'm', force: 'true' },
        headers: { 'Content-Type': 'application/apply-patch+yaml' },
        token: as,
        body,
      });
    expect((await apply(role('admin-made', grant), sim.adminToken)).status).toBe(201);
    // The same content applied by the identity: nothing changes, nothing is checked (IsOnlyMutatingGCFields).
    expect((await apply(role('admin-made', grant), token)).status).toBe(200);
    const more = [...grant, { apiGroups: [''], resources: ['pods'], verbs: ['get'] }];
    const changed = await apply(role('admin-made', more), token);
    expect(changed.status).toBe(403);
    expect(changed.json.message).toMatch(/\n\{APIGroups:\[""\], Resources:\["secrets"\], Verbs:\["get"\]\}$/);
  });
});
