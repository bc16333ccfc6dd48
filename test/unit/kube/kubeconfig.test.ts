import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { errorMessage, InputError } from '../../../src/errors.js';
import { loadKubeconfig, secretsOf } from '../../../src/kube/kubeconfig.js';

const TOKEN = 'eyJhbGciOiJSUzI1NiJ9.secret-token-value';
const CERT_DATA = Buffer.from('-----BEGIN CERTIFICATE-----\nclient\n-----END CERTIFICATE-----\n').toString(
  'base64',
);
const KEY_DATA = Buffer.from('-----BEGIN PRIVATE KEY-----\nkey\n-----END PRIVATE KEY-----\n').toString(
  'base64',
);
const CA_DATA = Buffer.from('-----BEGIN CERTIFICATE-----\nca\n-----END CERTIFICATE-----\n').toString(
  'base64',
);

interface Doc {
  clusters: Array<{ name: string; cluster: Record<string, unknown> }>;
  contexts: Array<{ name: string; context: Record<string, unknown> }>;
  users: Array<{ name: string; user: Record<string, unknown> }>;
  'current-context'?: string;
  [k: string]: unknown;
}

function doc(): Doc {
  return {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      {
        name: 'prod',
        cluster: { server: 'https://k8s.example.com:6443', 'certificate-authority-data': CA_DATA },
      },
      { name: 'staging', cluster: { server: 'https://staging.example.com' } },
    ],
    contexts: [
      { name: 'prod-ctx', context: { cluster: 'prod', user: 'deployer' } },
      { name: 'staging-ctx', context: { cluster: 'staging', user: 'deployer' } },
    ],
    users: [{ name: 'deployer', user: { token: TOKEN } }],
    'current-context': 'prod-ctx',
  };
}

async function fails(text: string, opts: Parameters<typeof loadKubeconfig>[1] = {}): Promise<InputError> {
  try {
    await loadKubeconfig(text, opts);
  } catch (err) {
    expect(err).toBeInstanceOf(InputError);
    expect(errorMessage(err)).not.toContain(TOKEN);
    expect(errorMessage(err)).not.toContain(KEY_DATA);
    return err as InputError;
  }
  throw new Error('expected loadKubeconfig to throw');
}

describe('loadKubeconfig', () => {
  it('accepts a good kubeconfig and selects current-context', async () => {
    const k = await loadKubeconfig(stringify(doc()));
    expect(k.contextName).toBe('prod-ctx');
    expect(k.server).toBe('https://k8s.example.com:6443');
    expect(k.userName).toBe('deployer');
    expect(k.warnings).toEqual([]);
    expect(k.kc.getCurrentContext()).toBe('prod-ctx');
  });

  it('the context input overrides current-context', async () => {
    expect((await loadKubeconfig(stringify(doc()), { context: 'staging-ctx' })).server).toBe(
      'https://staging.example.com',
    );
  });

  it('accepts a base64-encoded kubeconfig', async () => {
    const b64 = Buffer.from(stringify(doc())).toString('base64');
    expect((await loadKubeconfig(b64)).contextName).toBe('prod-ctx');
  });

  it('malformed YAML: says so with the line, without echoing the content', async () => {
    const text = `apiVersion: v1\nusers:\n- name: u\n  user:\n    token: "${TOKEN}\n  bad: [\n`;
    const e = await fails(text);
    expect(e.input).toBe('kubeconfig');
    expect(e.message).toMatch(/is not valid YAML/);
    expect(e.message).toMatch(/line \d+/);
    const e2 = await fails('apiVersion: v1\nclusters: [\n');
    expect(e2.message).toMatch(/not valid YAML/);
  });

  it('not a mapping, empty, no contexts', async () => {
    expect((await fails('just a string')).message).toMatch(/not a kubeconfig/);
    expect((await fails('   ')).message).toMatch(/empty/);
    expect((await fails(stringify({ ...doc(), contexts: [] }))).message).toMatch(/has no contexts/);
  });

  it('a structural problem client-node finds is reported without content', async () => {
    const d = doc();
    d.clusters[0] = { name: 'prod', cluster: {} };
    expect((await fails(stringify(d))).message).toMatch(/clusters\[0\]\.cluster\.server is missing/);
  });

  it('a missing context input lists the available contexts', async () => {
    const e = await fails(stringify(doc()), { context: 'dev' });
    expect(e.input).toBe('kubeconfig-context');
    expect(e.message).toBe(
      'Input "kubeconfig-context": "dev" is not a context of the kubeconfig; available: "prod-ctx", "staging-ctx"',
    );
  });

  it('a current-context that does not exist lists the available contexts', async () => {
    const e = await fails(stringify({ ...doc(), 'current-context': 'gone' }));
    expect(e.message).toMatch(
      /current-context "gone" is not among its contexts; available: "prod-ctx", "staging-ctx"/,
    );
    expect(e.hint).toMatch(/context input/);
  });

  it('no current-context: one context is used, several are an error', async () => {
    const one = doc();
    delete one['current-context'];
    one.contexts = [one.contexts[1]!];
    expect((await loadKubeconfig(stringify(one))).contextName).toBe('staging-ctx');
    const two = doc();
    delete two['current-context'];
    expect((await fails(stringify(two))).message).toMatch(
      /sets no current-context; available contexts: "prod-ctx", "staging-ctx"/,
    );
  });

  it('a context whose cluster or user is missing', async () => {
    const d = doc();
    d.contexts[0]!.context.cluster = 'nope';
    expect((await fails(stringify(d))).message).toMatch(
      /refers to cluster "nope", which is not defined; clusters: "prod", "staging"/,
    );
    const u = doc();
    u.contexts[0]!.context.user = 'ghost';
    expect((await fails(stringify(u))).message).toMatch(
      /refers to user "ghost", which is not defined; users: "deployer"/,
    );
  });

  it('server URL must parse and be https, or http with insecure-skip-tls-verify', async () => {
    const bad = doc();
    bad.clusters[0]!.cluster.server = 'not a url';
    expect((await fails(stringify(bad))).message).toMatch(/server that is not a URL/);
    const http = doc();
    http.clusters[0]!.cluster.server = 'http://127.0.0.1:8080';
    const e = await fails(stringify(http));
    expect(e.message).toMatch(/plain http:\/\/ without insecure-skip-tls-verify/);
    http.clusters[0]!.cluster['insecure-skip-tls-verify'] = true;
    expect((await loadKubeconfig(stringify(http))).server).toBe('http://127.0.0.1:8080');
  });

  it('https with insecure-skip-tls-verify is a warning', async () => {
    const d = doc();
    d.clusters[0]!.cluster['insecure-skip-tls-verify'] = true;
    expect((await loadKubeconfig(stringify(d))).warnings.join('\n')).toMatch(/insecure-skip-tls-verify/);
  });

  it.each([
    ['cluster', 'certificate-authority', 'certificate-authority-data'],
    ['user', 'client-certificate', 'client-certificate-data'],
    ['user', 'client-key', 'client-key-data'],
    ['user', 'token-file', 'token'],
  ])('a relative %s %s path is refused with a hint to embed %s', async (owner, field, embed) => {
    const d = doc();
    if (owner === 'cluster') d.clusters[0]!.cluster[field] = 'certs/ca.crt';
    else d.users[0]!.user[field] = 'certs/file';
    const e = await fails(stringify(d));
    expect(e.message).toContain(`names its ${field} by the relative path`);
    expect(e.hint).toContain(embed);
  });

  it('an absolute path that does not exist is refused; one that exists is fine', async () => {
    const d = doc();
    d.clusters[0]!.cluster['certificate-authority'] = '/nonexistent/ca.crt';
    expect((await fails(stringify(d))).message).toMatch(
      /"\/nonexistent\/ca\.crt", which does not exist on the runner/,
    );
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'kc-')), 'ca.crt');
    writeFileSync(file, 'x');
    d.clusters[0]!.cluster['certificate-authority'] = file;
    expect((await loadKubeconfig(stringify(d))).clusterName).toBe('prod');
  });

  it('an exec plugin is refused unless allow-kubeconfig-exec is set', async () => {
    const d = doc();
    d.users[0]!.user = {
      exec: {
        apiVersion: 'client.authentication.k8s.io/v1beta1',
        command: '/usr/local/bin/aws',
        args: ['eks', 'get-token'],
      },
    };
    const e = await fails(stringify(d));
    expect(e.message).toMatch(/exec plugin \("aws"\), which runs a program on the runner/);
    expect(e.message).toContain('allow-kubeconfig-exec: true');
    expect((await loadKubeconfig(stringify(d), { allowExec: true })).userName).toBe('deployer');
  });

  it('an auth-provider is refused unless allow-kubeconfig-exec is set', async () => {
    const d = doc();
    d.users[0]!.user = { 'auth-provider': { name: 'oidc', config: { 'id-token': 'x' } } };
    expect((await fails(stringify(d))).message).toMatch(/auth-provider "oidc".*allow-kubeconfig-exec/);
  });

  it('a user without credentials is a warning', async () => {
    const d = doc();
    d.users[0]!.user = {};
    expect((await loadKubeconfig(stringify(d))).warnings.join('\n')).toMatch(/no credentials/);
  });
});

describe('secretsOf', () => {
  it('finds tokens, passwords, client keys and certificates, exec env values and auth-provider tokens', () => {
    const d = doc();
    d.users = [
      { name: 'a', user: { token: TOKEN } },
      { name: 'b', user: { 'client-certificate-data': CERT_DATA, 'client-key-data': KEY_DATA } },
      { name: 'c', user: { username: 'admin', password: 'hunter2-password' } },
      {
        name: 'd',
        user: {
          exec: {
            command: 'aws',
            env: [
              { name: 'AWS_SECRET_ACCESS_KEY', value: 'wJalrXUtnFEMI/K7MDENG' },
              { name: 'AWS_PROFILE', value: 'ci' },
            ],
          },
        },
      },
      {
        name: 'e',
        user: {
          'auth-provider': {
            name: 'oidc',
            config: { 'id-token': 'idtok-123', 'refresh-token': 'reftok-456', 'client-id': 'public-id' },
          },
        },
      },
    ];
    const secrets = secretsOf(stringify(d));
    expect(secrets).toEqual(
      expect.arrayContaining([
        TOKEN,
        CERT_DATA,
        KEY_DATA,
        'hunter2-password',
        'wJalrXUtnFEMI/K7MDENG',
        'idtok-123',
        'reftok-456',
      ]),
    );
    // Not secrets: the CA, the user name, a short env value, the OIDC client id.
    expect(secrets).not.toContain(CA_DATA);
    expect(secrets).not.toContain('admin');
    expect(secrets).not.toContain('ci');
    expect(secrets).not.toContain('public-id');
  });

  it('a base64 kubeconfig is itself a secret, and its content is searched', () => {
    const b64 = Buffer.from(stringify(doc())).toString('base64');
    const secrets = secretsOf(b64);
    expect(secrets).toContain(b64);
    expect(secrets).toContain(TOKEN);
  });

  it('unparsable input gives what it can', () => {
    expect(secretsOf('clusters: [\n')).toEqual([]);
    expect(parse(stringify(doc()))).toBeTruthy();
  });
});
