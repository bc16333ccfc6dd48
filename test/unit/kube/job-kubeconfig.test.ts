import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ActionError, InputError } from '../../../src/errors.js';
import { getInputs } from '../../../src/inputs.js';
import { loadKubeconfig } from '../../../src/kube/kubeconfig.js';
import { thrownBy } from '../support.js';

const TOKEN = 'k8s-aws-v1.very-secret-presigned-url-token';

/** What `aws eks update-kubeconfig` writes: an exec plugin for the credentials. */
const EKS = `apiVersion: v1
kind: Config
clusters:
- name: arn:aws:eks:eu-west-1:123456789012:cluster/previews
  cluster:
    server: https://ABCDEF.gr7.eu-west-1.eks.amazonaws.com
    certificate-authority: ca.crt
contexts:
- name: arn:aws:eks:eu-west-1:123456789012:cluster/previews
  context:
    cluster: arn:aws:eks:eu-west-1:123456789012:cluster/previews
    user: arn:aws:eks:eu-west-1:123456789012:cluster/previews
current-context: arn:aws:eks:eu-west-1:123456789012:cluster/previews
users:
- name: arn:aws:eks:eu-west-1:123456789012:cluster/previews
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      command: aws
      args: [--region, eu-west-1, eks, get-token, --cluster-name, previews]
`;

const OTHER = `apiVersion: v1
kind: Config
clusters:
- name: arn:aws:eks:eu-west-1:123456789012:cluster/previews
  cluster: {server: https://shadowed.example.com}
- name: kind
  cluster: {server: https://127.0.0.1:6443, insecure-skip-tls-verify: true}
contexts:
- name: kind
  context: {cluster: kind, user: kind}
current-context: kind
users:
- name: kind
  user: {token: ${TOKEN}}
`;

const source = (values: Record<string, string>) => (name: string) => values[name] ?? '';

function dir(): string {
  return mkdtempSync(path.join(tmpdir(), 'job-kube-'));
}

const inputError = (fn: () => unknown): InputError => thrownBy(InputError, fn);

describe("the job's own kubeconfig, when the input is empty", () => {
  it('merges the files of KUBECONFIG as kubectl does: the first name and current-context win', async () => {
    const d = dir();
    writeFileSync(path.join(d, 'eks'), EKS);
    writeFileSync(path.join(d, 'ca.crt'), 'not a real certificate\n');
    writeFileSync(path.join(d, 'other'), OTHER);
    const files = [path.join(d, 'missing'), path.join(d, 'eks'), path.join(d, 'other')];
    const inputs = getInputs(source({ kubeconfig: '' }), d, { KUBECONFIG: files.join(':') });
    expect(inputs.kubeconfigFiles).toEqual(files.slice(1));
    const merged = parse(inputs.kubeconfig);
    expect(merged['current-context']).toBe('arn:aws:eks:eu-west-1:123456789012:cluster/previews');
    expect(merged.clusters.map((c: { name: string }) => c.name)).toEqual([
      'arn:aws:eks:eu-west-1:123456789012:cluster/previews',
      'kind',
    ]);
    // The relative path is the file's neighbour, as kubectl reads it, not the runner's working directory.
    expect(merged.clusters[0].cluster['certificate-authority']).toBe(path.join(d, 'ca.crt'));
    expect(merged.users.map((u: { name: string }) => u.name)).toHaveLength(2);
    // A program on PATH stays as it is.
    expect(merged.users[0].user.exec.command).toBe('aws');

    // The job's exec plugin is allowed (connect passes allowExec for the job's kubeconfig); the input's is not.
    const loaded = await loadKubeconfig(inputs.kubeconfig, { allowExec: true });
    expect(loaded.server).toBe('https://ABCDEF.gr7.eu-west-1.eks.amazonaws.com');
    expect(inputs.allowKubeconfigExec).toBe(false);
  });

  it("an exec command given as a relative path is the file's neighbour too", () => {
    const d = dir();
    writeFileSync(path.join(d, 'config'), EKS.replace('command: aws', 'command: bin/get-token'));
    const inputs = getInputs(source({}), d, { KUBECONFIG: path.join(d, 'config') });
    expect(parse(inputs.kubeconfig).users[0].user.exec.command).toBe(path.join(d, 'bin/get-token'));
  });

  it('reads ~/.kube/config without KUBECONFIG', () => {
    const home = dir();
    mkdirSync(path.join(home, '.kube'));
    writeFileSync(path.join(home, '.kube', 'config'), OTHER);
    const inputs = getInputs(source({}), home, { HOME: home });
    expect(inputs.kubeconfigFiles).toEqual([path.join(home, '.kube', 'config')]);
    expect(parse(inputs.kubeconfig)['current-context']).toBe('kind');
  });

  it('the input wins over the job kubeconfig', () => {
    const home = dir();
    mkdirSync(path.join(home, '.kube'));
    writeFileSync(path.join(home, '.kube', 'config'), EKS);
    const inputs = getInputs(source({ kubeconfig: OTHER }), home, { HOME: home });
    expect(inputs.kubeconfigFiles).toBeUndefined();
    expect(inputs.kubeconfig).toBe(OTHER.trim());
  });

  it('neither: the error names the input and every place looked at', () => {
    const d = dir();
    const viaEnv = inputError(() => getInputs(source({}), d, { KUBECONFIG: `${d}/a:${d}/b`, HOME: d }));
    expect(viaEnv.input).toBe('kubeconfig');
    expect(viaEnv.message).toContain(
      `is empty, and the job has no kubeconfig of its own: looked at $KUBECONFIG (${d}/a:${d}/b)`,
    );
    expect(viaEnv.hint).toMatch(/aws eks update-kubeconfig/);
    // An empty file (what a failed login step may leave) counts as none.
    mkdirSync(path.join(d, '.kube'));
    writeFileSync(path.join(d, '.kube', 'config'), '\n');
    expect(inputError(() => getInputs(source({}), d, { HOME: d })).message).toContain(
      `looked at ${path.join(d, '.kube', 'config')} ($KUBECONFIG is not set)`,
    );
  });

  it('a job kubeconfig that is not YAML is named with its line, and its content is not quoted', () => {
    const d = dir();
    const file = path.join(d, 'config');
    writeFileSync(file, `users:\n- name: x\n  user: {token: ${TOKEN}\n`);
    const err = thrownBy(ActionError, () => getInputs(source({}), d, { KUBECONFIG: file }));
    expect(err.message).toMatch(
      new RegExp(`^The job's kubeconfig ${file} is not valid YAML \\(line \\d+\\)`),
    );
    expect(`${err.message}${err.hint}`).not.toContain(TOKEN);
  });
});
