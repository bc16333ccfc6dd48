import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { up } from '../../src/commands/up.js';
import { ActionError, errorMessage } from '../../src/errors.js';
import { useSim } from '../e2e/support.js';
import { ctxFor, expectRejects, inputsFor, template, templateText, userObjects } from './harness.js';

/** Every case must fail before anything exists in the namespace, with a message that says what is wrong. */
describe('bad input fails clearly and creates nothing', () => {
  const kube = useSim();

  async function failsWith(over: Parameters<typeof inputsFor>[1], ...patterns: RegExp[]): Promise<string> {
    const before = [...userObjects(kube.sim).keys()].sort();
    const err = await expectRejects(up(inputsFor(kube.sim, over), ctxFor(7)));
    expect(err).toBeInstanceOf(ActionError);
    const msg = errorMessage(err);
    for (const p of patterns) expect(msg).toMatch(p);
    expect([...userObjects(kube.sim).keys()].sort()).toEqual(before);
    expect(
      kube.sim.store.list('', 'pods', {
        namespace: 'previews',
        labelSelector: 'preevy.dev/env-id=shop-pr-7',
      }),
    ).toEqual([]);
    // Nothing of the kubeconfig's credentials leaks into the message.
    expect(msg).not.toContain(kube.sim.adminToken);
    return msg;
  }

  it('malformed kubeconfig', async () => {
    await failsWith({ kubeconfig: 'apiVersion: v1\nclusters: [\n' }, /kubeconfig/i);
  });

  it('a context that does not exist names the ones that do', async () => {
    const msg = await failsWith({ kubeconfigContext: 'prod' }, /context/i, /prod/);
    const ctxName = (parse(kube.sim.kubeconfig()) as { 'current-context': string })['current-context'];
    expect(msg).toContain(ctxName);
  });

  it('an unreachable server', async () => {
    const port = await new Promise<number>((resolve) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    const kc = parse(kube.sim.kubeconfig()) as { clusters: Array<{ cluster: { server: string } }> };
    kc.clusters[0]!.cluster.server = `https://127.0.0.1:${port}`;
    await failsWith(
      { kubeconfig: stringify(kc) },
      new RegExp(`127\\.0\\.0\\.1:${port}`),
      /reach|connect|refused/i,
    );
  });

  it('credentials the server rejects (401)', async () => {
    await failsWith(
      { kubeconfig: kube.sim.kubeconfig({ token: 'not-a-token' }) },
      /401|Unauthorized|credentials/i,
    );
  });

  it('a token that may not apply (403) says which permission is missing', async () => {
    kube.sim.addToken('read-only-token', 'system:serviceaccount:previews:viewer', [
      { verbs: ['get', 'list', 'watch'], apiGroups: ['*'], resources: ['*'] },
    ]);
    await failsWith(
      { kubeconfig: kube.sim.kubeconfig({ token: 'read-only-token' }) },
      /forbidden|403/i,
      /patch|create/,
    );
  });

  it('a template syntax error names file and line', async () => {
    const file = templateText('apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ id }\n');
    await failsWith({ template: file }, new RegExp(`${file}:\\d+`));
  });

  it('an undefined template variable names file, line and variable', async () => {
    const file = template('full.yaml.njk', { 'greeting: "hello"': 'greeting: {{ greting | dump }}' });
    await failsWith({ template: file }, new RegExp(`${file}:1[0-9]`), /greting|undefined/);
  });

  it('invalid YAML names file and line', async () => {
    const file = template('full.yaml.njk', { 'greeting: "hello"': 'greeting: "hello\n  oops: [' });
    await failsWith({ template: file }, new RegExp(file.replace(/[.]/g, '\\.')), /line|:\d+/);
  });

  it('an object in another namespace', async () => {
    const file = template('full.yaml.njk', {
      'name: {{ id }}-secret\n  namespace: {{ namespace }}':
        'name: {{ id }}-secret\n  namespace: kube-system',
    });
    await failsWith({ template: file }, /Secret\/.*-secret/, /kube-system/, /previews/);
  });

  it('a cluster-scoped kind', async () => {
    const file = template('full.yaml.njk', {
      'kind: ServiceAccount': 'kind: ClusterRole\nrules: []',
      'apiVersion: v1\nkind: ClusterRole': 'apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole',
    });
    await failsWith({ template: file }, /ClusterRole/, /cluster-scoped|namespace/i);
  });

  it('no docker-host Deployment', async () => {
    const file = template('full.yaml.njk', {
      '    app.kubernetes.io/component: docker-host\nspec:': '\nspec:',
    });
    await failsWith({ template: file }, /docker-host/, /none|no |exactly one/i);
  });

  it('two docker-host Deployments name both', async () => {
    const base = template('full.yaml.njk');
    const text = (await import('node:fs')).readFileSync(base, 'utf8');
    const deployment = text.slice(text.indexOf('apiVersion: apps/v1'));
    const file = templateText(`${text}\n---\n${deployment.replaceAll('{{ id }}-dind', '{{ id }}-dind2')}`);
    await failsWith({ template: file }, /-dind\b/, /-dind2/, /exactly one|two|2/i);
  });

  it('a field the schema rejects', async () => {
    const file = template('full.yaml.njk', { 'replicas: 1': 'replicas: -1' });
    await failsWith({ template: file }, /spec\.replicas/, /greater than or equal to 0|Invalid/);
  });

  it('an unknown field is refused as a real cluster refuses it', async () => {
    const file = template('full.yaml.njk', { 'strategy:\n': 'strategyy: {}\n  strategy:\n' });
    await failsWith({ template: file }, /strategyy/);
  });

  it('a Deployment that never becomes ready times out with the pod reasons', async () => {
    kube.sim.pods.missingImages.add('registry.invalid/dind:nope');
    const file = template('full.yaml.njk', { 'docker:27.5.1-dind': 'registry.invalid/dind:nope' });
    const err = await expectRejects(
      up(inputsFor(kube.sim, { template: file, readyTimeoutMs: 3_000 }), ctxFor(8)),
    );
    const msg = errorMessage(err);
    expect(msg).toMatch(/ErrImagePull|ImagePullBackOff/);
    expect(msg).toMatch(/shop-pr-8/);
    expect(msg).toMatch(/down/);
  });
});
