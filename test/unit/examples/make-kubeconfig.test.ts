import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const SCRIPT = path.resolve('examples/rbac/make-kubeconfig.sh');

/** A JWT-shaped token whose payload carries `exp`, as `kubectl create token` prints. */
function jwt(exp?: number): string {
  const part = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${part({ alg: 'RS256' })}.${part({ sub: 'system:serviceaccount:previews:preevy-kube-action', ...(exp ? { exp } : {}) })}.c2ln`;
}

/**
 * A kubectl on PATH that answers what the script asks: the context's cluster, the ServiceAccount, a token, and the
 * Secret's token once it was applied. It records the manifest given to `apply`.
 */
function fakeKubectl(token: string): { dir: string; applied: string } {
  const dir = mkdtempSync(path.join(tmpdir(), 'fake-kubectl-'));
  const applied = path.join(dir, 'applied.yaml');
  const b64 = Buffer.from(token).toString('base64');
  writeFileSync(
    path.join(dir, 'kubectl'),
    `#!/bin/sh
case "$*" in
  *"jsonpath={.clusters[0].cluster.server}"*) printf 'https://api.example.com:6443' ;;
  *"jsonpath={.clusters[0].cluster.certificate-authority-data}"*) printf 'Q0EK' ;;
  *"config view"*) ;;
  *"get serviceaccount"*) echo serviceaccount/preevy-kube-action ;;
  *"create token"*) printf '%s\\n' '${token}' ;;
  *"apply -f -"*) cat > ${applied} ;;
  *"get secret"*) [ -f ${applied} ] && printf '%s' '${b64}' ;;
  *) echo "unexpected: $*" >&2; exit 1 ;;
esac
`,
  );
  chmodSync(path.join(dir, 'kubectl'), 0o755);
  return { dir, applied };
}

function runScript(dir: string, args: string[]) {
  const r = spawnSync('bash', [SCRIPT, ...args], {
    env: { PATH: `${dir}:${process.env.PATH}` },
    encoding: 'utf8',
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('examples/rbac/make-kubeconfig.sh', () => {
  it('-s mints a token that does not expire from a service-account-token Secret', () => {
    const token = jwt();
    const { dir, applied } = fakeKubectl(token);
    const r = runScript(dir, ['-s', 'previews', 'preevy-kube-action']);
    expect(r.stderr).toContain('The token of Secret previews/preevy-kube-action-token does not expire');
    expect(r.code).toBe(0);
    const secret = parse(readFileSync(applied, 'utf8'));
    expect(secret).toEqual({
      apiVersion: 'v1',
      kind: 'Secret',
      type: 'kubernetes.io/service-account-token',
      metadata: {
        name: 'preevy-kube-action-token',
        annotations: { 'kubernetes.io/service-account.name': 'preevy-kube-action' },
      },
    });
    const kubeconfig = parse(r.stdout);
    expect(kubeconfig.users[0].user.token).toBe(token);
    expect(kubeconfig.contexts[0].context.namespace).toBe('previews');
  });

  it('warns when the cluster capped `kubectl create token` (24 hours on a managed cluster)', () => {
    const { dir } = fakeKubectl(jwt(Math.floor(Date.now() / 1000) + 24 * 3600));
    const r = runScript(dir, ['previews', 'preevy-kube-action']);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/warning: the cluster issued a token for less than a week/);
    expect(r.stderr).toMatch(/401 Unauthorized\. Use -s/);
    const year = fakeKubectl(jwt(Math.floor(Date.now() / 1000) + 365 * 24 * 3600));
    expect(runScript(year.dir, ['previews', 'preevy-kube-action']).stderr).not.toMatch(/warning/);
  });
});
