import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { down } from '../../src/commands/down.js';
import { up } from '../../src/commands/up.js';
import { ActionError } from '../../src/errors.js';
import type { KubeSim } from '../sim/kube/index.js';
import type { SimObject } from '../sim/kube/types.js';
import {
  applyExampleRole,
  ctxFor,
  envObjects,
  expectRejects,
  grantOnRoles,
  inputsFor,
  NAMESPACE,
  startSim,
  template,
} from './harness.js';

const SA_USER = `system:serviceaccount:${NAMESPACE}:preevy-kube-action`;

/** Writes by the action's ServiceAccount that were not dry runs, except its lock (a Lease). */
function realWrites(sim: KubeSim, since: number): string[] {
  return sim.audit
    .slice(since)
    .filter(
      (a) =>
        a.user === SA_USER &&
        ['POST', 'PUT', 'PATCH', 'DELETE'].includes(a.method) &&
        a.query.dryRun === undefined &&
        !a.path.includes('/leases'),
    )
    .map((a) => `${a.method} ${a.path} ${a.status}`);
}

/**
 * A template shaped like Preevy's own (ServiceAccount, ConfigMap with daemon.json, docker host, a Role reading
 * pods in "" and metrics.k8s.io, a RoleBinding of it to the ServiceAccount), deployed by the namespace-scoped
 * identity of examples/rbac/role.yaml. The simulator runs RBAC's escalation checks as a real API server does
 * (fixtures kube-real-2/036-055): a binding to a Role that does not exist yet is refused even in a dry run.
 */
describe('templates with RBAC objects, as the ServiceAccount of examples/rbac/role.yaml', () => {
  let sim: KubeSim;
  beforeAll(async () => {
    sim = await startSim();
    applyExampleRole(sim, NAMESPACE);
    sim.addToken('sa-token', SA_USER);
  });
  afterAll(async () => {
    await sim?.close();
  });

  const inputs = (over: Parameters<typeof inputsFor>[1] = {}) =>
    inputsFor(sim, {
      kubeconfig: sim.kubeconfig({ token: 'sa-token', namespace: NAMESPACE }),
      template: template('preevy-rbac.yaml.njk'),
      ...over,
    });

  it.each([
    ['server-side apply', true, 21],
    ['client-side apply', false, 22],
  ])('deploys, re-deploys and removes a Preevy-style template (%s)', async (_mode, serverSideApply, pr) => {
    const env = `shop-pr-${pr}`;
    await up(inputs({ serverSideApply }), ctxFor(pr));
    const objs = envObjects(sim, env);
    expect([...objs.keys()].map((k) => k.split('/')[0]).sort()).toEqual([
      'ConfigMap',
      'Deployment',
      'Role',
      'RoleBinding',
      'ServiceAccount',
    ]);
    const binding = [...objs.values()].find((o) => o.kind === 'RoleBinding') as SimObject;
    const role = [...objs.values()].find((o) => o.kind === 'Role') as SimObject;
    expect(binding.roleRef.name).toBe(role.metadata.name);
    // A re-deploy: the Role exists now, so the binding's dry run checks it against the Role.
    await up(inputs({ serverSideApply }), ctxFor(pr));
    expect(envObjects(sim, env).size).toBe(5);
    await down(inputs({ serverSideApply }), ctxFor(pr));
    expect(envObjects(sim, env).size).toBe(0);
  });

  it('refuses a Role granting what the identity does not hold before anything is written, naming the rule to add', async () => {
    const since = sim.audit.length;
    const file = template('preevy-rbac.yaml.njk', {
      'resources: ["pods"]\n    verbs: ["get", "list"]':
        'resources: ["pods"]\n    verbs: ["get", "list"]\n  - apiGroups: [""]\n    resources: ["pods/attach"]\n    verbs: ["get"]',
    });
    const err = await expectRejects(up(inputs({ template: file }), ctxFor(23)));
    expect(err).toBeInstanceOf(ActionError);
    const text = (err as ActionError).userMessage;
    expect(text).toContain('is attempting to grant RBAC permissions not currently held');
    expect(text).toContain('{APIGroups:[""], Resources:["pods/attach"], Verbs:["get"]}');
    // The hint is the rule as YAML, ready to add to the action's Role.
    expect(text).toContain('- apiGroups: [""]\n    resources: ["pods/attach"]\n    verbs: ["get"]');
    expect(text).toContain('Nothing was applied');
    expect(envObjects(sim, 'shop-pr-23').size).toBe(0);
    expect(realWrites(sim, since)).toEqual([]);
  });

  it('with `escalate` but not `bind`, a binding refused at its real apply leaves nothing of a first deploy', async () => {
    // The one case the dry run cannot cover: the Role passes through `escalate`, its binding is checked only
    // once the Role exists, and the identity does not hold what the Role grants.
    grantOnRoles(sim, NAMESPACE, 'escalator', 'escalate');
    const file = template('preevy-rbac.yaml.njk', {
      'resources: ["pods"]': 'resources: ["pods", "pods/attach"]',
    });
    const err = await expectRejects(up(inputs({ template: file }), ctxFor(24)));
    const text = (err as ActionError).userMessage;
    expect(text).toMatch(
      /apply RoleBinding\/shop-pr-24-[a-z0-9]+-rolebind: .*is attempting to grant RBAC permissions/,
    );
    expect(text).toContain('- apiGroups: [""]\n    resources: ["pods/attach"]\n    verbs: ["get", "list"]');
    expect(envObjects(sim, 'shop-pr-24').size).toBe(0);
  });
});
