import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { toKubeError } from '../../../src/kube/errors.js';
import { escalationHint, isMissingRoleOf, missingRulesYaml, roleOfTemplate } from '../../../src/kube/rbac.js';
import type { KubeObject } from '../../../src/kube/types.js';

/** The API server's answer recorded in a kube-real-2 fixture, as the client sees it. */
function recorded(file: string) {
  const f = JSON.parse(readFileSync(`test/fixtures/kube-real-2/${file}`, 'utf8'));
  return toKubeError({ code: f.response.status, body: JSON.stringify(f.response.body) }, 'apply X');
}

const role = {
  apiVersion: 'rbac.authorization.k8s.io/v1',
  kind: 'Role',
  metadata: { name: 'missing-role-sa' },
} as KubeObject;
const binding = {
  apiVersion: 'rbac.authorization.k8s.io/v1',
  kind: 'RoleBinding',
  metadata: { name: 'bind-sa' },
  roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'missing-role-sa' },
} as unknown as KubeObject;

describe('RBAC escalation refusals', () => {
  it('turn the missing rules of a recorded refusal (036) into YAML to add to the Role', () => {
    const err = recorded('036-rbac-sa-role-create.json');
    const hint = escalationHint(err) ?? '';
    expect(hint).toContain('examples/rbac/role.yaml');
    expect(
      hint.endsWith('  - apiGroups: ["metrics.k8s.io"]\n    resources: ["pods"]\n    verbs: ["get", "list"]'),
    ).toBe(true);
  });

  it("read every field of Go's compact form, one rule a line, and ignore resolution errors", () => {
    const msg =
      'roles.rbac.authorization.k8s.io "r" is forbidden: user "u" (groups=["g"]) is attempting to grant RBAC permissions not currently held:\n' +
      '{APIGroups:[""], Resources:["secrets"], ResourceNames:["a \\"b\\""], Verbs:["get"]}\n' +
      '{NonResourceURLs:["/metrics"], Verbs:["get"]}; resolution errors: [role.rbac.authorization.k8s.io "x" not found]';
    expect(missingRulesYaml(msg)).toBe(
      '  - apiGroups: [""]\n    resources: ["secrets"]\n    resourceNames: ["a \\"b\\""]\n    verbs: ["get"]\n' +
        '  - nonResourceURLs: ["/metrics"]\n    verbs: ["get"]',
    );
  });

  it('leave other 403s alone', () => {
    const err = toKubeError(
      {
        code: 403,
        body: JSON.stringify({
          kind: 'Status',
          code: 403,
          reason: 'Forbidden',
          message: 'pods is forbidden: User "u" cannot list resource "pods"',
        }),
      },
      'x',
    );
    expect(escalationHint(err)).toBeUndefined();
  });
});

describe('a binding to a Role of the template', () => {
  it('is recognised from the recorded 404 that names the Role (040), not from other 404s', () => {
    expect(roleOfTemplate(binding, [role, binding])).toBe(role);
    expect(roleOfTemplate(binding, [binding])).toBeUndefined();
    expect(isMissingRoleOf(recorded('040-rbac-sa-binding-missing-role-create-dryrun.json'), role)).toBe(true);
    const nsMissing = toKubeError(
      {
        code: 404,
        body: JSON.stringify({
          kind: 'Status',
          code: 404,
          reason: 'NotFound',
          message: 'namespaces "x" not found',
          details: { name: 'x', kind: 'namespaces' },
        }),
      },
      'x',
    );
    expect(isMissingRoleOf(nsMissing, role)).toBe(false);
  });
});
