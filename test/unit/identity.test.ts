import { describe, expect, it } from 'vitest';
import { ActionError, InputError } from '../../src/errors.js';
import {
  ANNOTATIONS,
  dockerHostSelector,
  envAnnotations,
  envIdFromPr,
  envLabels,
  envSelector,
  isDns1123Label,
  isDockerHost,
  isValidLabelValue,
  LABELS,
  newInstanceId,
  normalizeEnvId,
} from '../../src/identity.js';

// The Kubernetes rules, written independently of the implementation.
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

function expectValidName(s: string, max = 63) {
  expect(s.length).toBeLessThanOrEqual(max);
  expect(s).toMatch(DNS1123_LABEL);
  expect(s).toMatch(DNS1035_LABEL);
  expect(s).toMatch(LABEL_VALUE);
}

const fixed = (s: string) => () => s;

describe('envIdFromPr', () => {
  it('is <repo name>-pr-<number>', () => {
    expect(envIdFromPr('acme/shop', 42)).toBe('shop-pr-42');
  });

  it('is the same on every run of the PR', () => {
    expect(envIdFromPr('acme/Shop.Web', 7)).toBe(envIdFromPr('acme/Shop.Web', 7));
  });

  it.each([
    ['acme/My_Repo.js', 3, 'my-repo-js-pr-3'],
    ['acme/café-ünïcode', 3, 'cafe-unicode-pr-3'],
    ['acme/日本語', 3, 'pr-3'],
    ['acme/--.__--', 3, 'pr-3'],
    ['acme/.github', 12, 'github-pr-12'],
    ['acme/2048', 5, 'env-2048-pr-5'],
    ['noslash', 1, 'noslash-pr-1'],
  ])('normalizes %s', (repo, pr, expected) => {
    const id = envIdFromPr(repo, pr);
    expect(id).toBe(expected);
    expectValidName(id);
  });

  it('shortens the repo part of a long name and keeps the PR suffix', () => {
    const id = envIdFromPr(`acme/${'a-very-long-repository-name-'.repeat(5)}`, 123456);
    expectValidName(id);
    expect(id).toMatch(/^a-very-long-repository-name-.*-pr-123456$/);
    expect(id).not.toMatch(/--pr-/);
  });

  it('never leaves a dash before the suffix after truncation', () => {
    for (let n = 1; n < 70; n++) {
      const id = envIdFromPr(`acme/${'ab-'.repeat(n)}`, 99);
      expectValidName(id);
      expect(id.endsWith('-pr-99')).toBe(true);
    }
  });

  it('refuses a PR number that is not a positive integer', () => {
    expect(() => envIdFromPr('a/b', 0)).toThrow(ActionError);
    expect(() => envIdFromPr('a/b', 1.5)).toThrow(ActionError);
  });
});

describe('normalizeEnvId', () => {
  it('accepts a valid id unchanged', () => {
    expect(normalizeEnvId('staging-1')).toBe('staging-1');
  });

  it('normalizes a user override like a derived id', () => {
    expect(normalizeEnvId('  Feature/Login Page!! ')).toBe('feature-login-page');
    expectValidName(normalizeEnvId('x'.repeat(100)));
  });

  it('throws an InputError naming the input when nothing valid remains', () => {
    expect(() => normalizeEnvId('---', 'environment')).toThrow(InputError);
    expect(() => normalizeEnvId('!!!', 'environment')).toThrow(/Input "environment"/);
  });
});

describe('newInstanceId', () => {
  it('is the env id plus five random characters', () => {
    expect(newInstanceId('shop-pr-42', fixed('a1b2c'))).toBe('shop-pr-42-a1b2c');
  });

  it('is deterministic with an injected random source', () => {
    expect(newInstanceId('x-pr-1', fixed('zzzzz'))).toBe(newInstanceId('x-pr-1', fixed('zzzzz')));
  });

  it('stays within 53 characters so templates can add 10 of their own', () => {
    const env = envIdFromPr(`acme/${'long-'.repeat(20)}`, 987654);
    const id = newInstanceId(env, fixed('abcde'));
    expectValidName(id, 53);
    expect(id.endsWith('-abcde')).toBe(true);
    expectValidName(`${id}-dind-svc`);
  });

  it('never has a dash before the suffix after truncation', () => {
    for (let n = 40; n < 56; n++) {
      const env = `${'a'.repeat(n - 2)}-b`.slice(0, 63);
      const id = newInstanceId(env, fixed('00000'));
      expectValidName(id, 53);
      expect(id).not.toMatch(/--/);
    }
  });

  it('uses [a-z0-9] random suffixes by default, different each time', () => {
    const ids = new Set(Array.from({ length: 20 }, () => newInstanceId('env')));
    expect(ids.size).toBeGreaterThan(1);
    for (const id of ids) expect(id).toMatch(/^env-[a-z0-9]{5}$/);
  });

  it('refuses a random source that breaks the format', () => {
    expect(() => newInstanceId('env', fixed('ABCDE'))).toThrow(ActionError);
  });
});

describe('label and annotation scheme', () => {
  it('labels every object with the env id, instance and manager', () => {
    expect(envLabels('shop-pr-1', 'shop-pr-1-abcde')).toEqual({
      'preevy.dev/env-id': 'shop-pr-1',
      'preevy.dev/instance': 'shop-pr-1-abcde',
      'app.kubernetes.io/managed-by': 'preevy-kube-action',
      'app.kubernetes.io/instance': 'shop-pr-1-abcde',
    });
    for (const v of Object.values(envLabels(envIdFromPr('a/b', 1), newInstanceId('b-pr-1')))) {
      expect(isValidLabelValue(v)).toBe(true);
    }
  });

  it('builds selectors that find the environment and its docker host', () => {
    expect(envSelector('shop-pr-1')).toBe(
      'preevy.dev/env-id=shop-pr-1,app.kubernetes.io/managed-by=preevy-kube-action',
    );
    expect(dockerHostSelector('shop-pr-1')).toBe(
      'preevy.dev/env-id=shop-pr-1,app.kubernetes.io/managed-by=preevy-kube-action,app.kubernetes.io/component=docker-host',
    );
  });

  it('writes created-at as RFC 3339 and the PR number as a string', () => {
    const a = envAnnotations({
      createdAt: new Date(Date.UTC(2025, 0, 2, 3, 4, 5)),
      templateHash: 'abc',
      deployedBy: 'https://github.com/a/b/actions/runs/1',
      pr: 7,
    });
    expect(a[ANNOTATIONS.createdAt]).toBe('2025-01-02T03:04:05.000Z');
    expect(a[ANNOTATIONS.pr]).toBe('7');
    expect(a[ANNOTATIONS.deployedBy]).toBe('https://github.com/a/b/actions/runs/1');
    expect(envAnnotations({ createdAt: 'kept', templateHash: 'h', deployedBy: 'u' })).not.toHaveProperty(
      ANNOTATIONS.pr,
    );
  });

  it('recognizes the docker host Deployment only', () => {
    const labels = { [LABELS.component]: 'docker-host' };
    expect(isDockerHost({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'x', labels } })).toBe(
      true,
    );
    expect(
      isDockerHost({ apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: { name: 'x', labels } }),
    ).toBe(false);
  });

  it('validity helpers agree with the Kubernetes rules', () => {
    expect(isDns1123Label('a-b')).toBe(true);
    expect(isDns1123Label('a_b')).toBe(false);
    expect(isDns1123Label('a'.repeat(64))).toBe(false);
    expect(isValidLabelValue('')).toBe(true);
    expect(isValidLabelValue('A_b.c')).toBe(true);
    expect(isValidLabelValue('-a')).toBe(false);
  });
});
