import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/errors.js';
import { bundledTemplate, getInputs, requireUpFiles } from '../../src/inputs.js';
import { parseDuration } from '../../src/util/duration.js';
import { thrownBy } from './support.js';

const KUBECONFIG =
  'apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\ncurrent-context: x\n';

function source(values: Record<string, string>) {
  return (name: string) => values[name] ?? '';
}

const inputError = (fn: () => unknown): InputError => thrownBy(InputError, fn);

describe('getInputs', () => {
  it('applies the documented defaults', () => {
    const inputs = getInputs(source({ kubeconfig: KUBECONFIG }));
    expect(inputs).toMatchObject({
      namespace: 'default',
      template: bundledTemplate(),
      serverSideApply: true,
      readyTimeoutMs: 600_000,
      command: 'auto',
      allowKubeconfigExec: false,
    });
    expect(inputs.envId).toBeUndefined();
    expect(inputs.kubeconfigContext).toBeUndefined();
  });

  it('accepts the kubeconfig as base64', () => {
    const b64 = Buffer.from(KUBECONFIG).toString('base64');
    expect(getInputs(source({ kubeconfig: b64 })).kubeconfig).toBe(KUBECONFIG);
    expect(getInputs(source({ kubeconfig: `${b64.slice(0, 10)}\n${b64.slice(10)}` })).kubeconfig).toBe(
      KUBECONFIG,
    );
  });

  it('names the input for each bad value', () => {
    expect(inputError(() => getInputs(source({}))).input).toBe('kubeconfig');
    expect(
      inputError(() => getInputs(source({ kubeconfig: KUBECONFIG, namespace: 'Bad_NS' }))).message,
    ).toMatch(/Input "namespace": "Bad_NS" is not a valid namespace name/);
    expect(
      inputError(() => getInputs(source({ kubeconfig: KUBECONFIG, 'ready-timeout': '10 minutes' }))).input,
    ).toBe('ready-timeout');
    expect(inputError(() => getInputs(source({ kubeconfig: KUBECONFIG, command: 'deploy' }))).input).toBe(
      'command',
    );
    expect(
      inputError(() => getInputs(source({ kubeconfig: KUBECONFIG, 'server-side-apply': 'maybe' }))).input,
    ).toBe('server-side-apply');
    const missing = inputError(() =>
      requireUpFiles(getInputs(source({ kubeconfig: KUBECONFIG, template: 'nope.njk' }), '/tmp')),
    );
    expect(missing.input).toBe('template');
    expect(missing.message).toContain('/tmp/nope.njk');
    const comment = inputError(() =>
      requireUpFiles(getInputs(source({ kubeconfig: KUBECONFIG, 'comment-template': 'c.njk' }), '/tmp')),
    );
    expect(comment.input).toBe('comment-template');
    expect(comment.message).toContain('/tmp/c.njk');
  });

  it('reads neither template while reading the inputs: a down runs without the checkout', () => {
    const inputs = getInputs(
      source({
        kubeconfig: KUBECONFIG,
        template: '.preview/env.yaml.njk',
        'comment-template': '.preview/c.njk',
      }),
      '/nonexistent-workspace',
    );
    expect(inputs.template).toBe('/nonexistent-workspace/.preview/env.yaml.njk');
    expect(inputs.commentTemplate).toBe('/nonexistent-workspace/.preview/c.njk');
  });

  it('resolves the template against the workspace', () => {
    const ws = mkdtempSync(path.join(tmpdir(), 'inputs-'));
    writeFileSync(path.join(ws, 'env.yaml.njk'), '');
    const inputs = getInputs(
      source({ kubeconfig: KUBECONFIG, template: 'env.yaml.njk', 'server-side-apply': 'false' }),
      ws,
    );
    expect(inputs.template).toBe(path.join(ws, 'env.yaml.njk'));
    expect(inputs.serverSideApply).toBe(false);
  });
});

describe('parseDuration', () => {
  it.each([
    ['90s', 90_000],
    ['10m', 600_000],
    ['1h30m', 5_400_000],
    ['45', 45_000],
    ['250ms', 250],
  ])('%s', (text, ms) => expect(parseDuration(text)).toBe(ms));
  it.each(['', 'ten', '10 m', '5d', '1h 30m'])('rejects %j', (text) =>
    expect(parseDuration(text)).toBeUndefined(),
  );

  describe('exposure', () => {
    const get = (values: Record<string, string>) => getInputs(source({ kubeconfig: KUBECONFIG, ...values }));

    it('exposes nothing by default, and through an Ingress once a domain is set', () => {
      expect(get({})).toMatchObject({ expose: 'none', namedUrls: false, domain: undefined });
      expect(get({ domain: 'Preview.Example.com.' })).toMatchObject({
        expose: 'ingress',
        namedUrls: true,
        domain: 'preview.example.com',
        urlTemplate: 'https://{service}-{port}-{envId}.{domain}',
      });
      expect(get({ 'url-template': 'http://{envId}-{service}-{port}.previews.internal' })).toMatchObject({
        expose: 'ingress',
        namedUrls: true,
      });
      expect(get({ expose: 'loadbalancer' })).toMatchObject({ expose: 'loadbalancer', namedUrls: false });
    });

    it('names the input for each bad exposure setting', () => {
      const cases: Array<[Record<string, string>, string, RegExp]> = [
        [{ expose: 'nodeport' }, 'expose', /not one of ingress, loadbalancer, none/],
        [{ expose: 'ingress' }, 'domain', /required with expose: ingress/],
        [{ domain: 'bad_domain.com' }, 'domain', /not a DNS name/],
        [
          { domain: 'x.com', 'url-template': 'https://{service}-{envId}.{domain}' },
          'url-template',
          /has no \{port\}/,
        ],
        [
          { domain: 'x.com', 'url-template': 'https://{service}-{port}-{envId}.{domain}/{pr}' },
          'url-template',
          /unknown placeholder \{pr\}/,
        ],
        [
          { domain: 'x.com', 'url-template': 'https://{domain}/{service}/{port}/{envId}' },
          'url-template',
          /must be in the host name/,
        ],
        [
          { domain: 'x.com', 'url-template': 'ftp://{service}-{port}-{envId}.{domain}' },
          'url-template',
          /not an http or https URL/,
        ],
        [{ domain: 'x.com', 'ingress-class': 'Not Valid' }, 'ingress-class', /not a valid IngressClass name/],
        [{ domain: 'x.com', 'tls-secret': '../etc' }, 'tls-secret', /not a valid Secret name/],
      ];
      for (const [values, input, message] of cases) {
        const err = inputError(() => get(values));
        expect(err.input, JSON.stringify(values)).toBe(input);
        expect(err.message).toMatch(message);
      }
    });
  });
});
