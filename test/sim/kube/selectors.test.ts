import { describe, expect, it } from 'vitest';
import { StatusError } from './errors.js';
import { compileSelector, matchesLabels, parseFieldSelector, parseLabelSelector } from './selectors.js';
import type { SimObject } from './types.js';

const cm = (name: string, labels?: Record<string, string>): SimObject => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, namespace: 'ns', uid: name, resourceVersion: '1', creationTimestamp: '', labels },
});

const objects = [
  cm('sel-a', { env: 'prod', tier: 'frontend' }),
  cm('sel-b', { env: 'prod', tier: 'backend' }),
  cm('sel-c', { env: 'dev' }),
  cm('kube-root-ca.crt'),
];

function names(selector: string): string[] {
  const reqs = parseLabelSelector(selector);
  return objects.filter((o) => matchesLabels(reqs, o.metadata.labels)).map((o) => o.metadata.name);
}

describe('label selectors (fixtures 023-031)', () => {
  it.each([
    ['tier=frontend', ['sel-a']],
    ['env==prod', ['sel-a', 'sel-b']],
    ['tier!=frontend', ['sel-b', 'sel-c', 'kube-root-ca.crt']],
    ['tier in (frontend,backend)', ['sel-a', 'sel-b']],
    ['tier notin (frontend)', ['sel-b', 'sel-c', 'kube-root-ca.crt']],
    ['tier', ['sel-a', 'sel-b']],
    ['!tier', ['sel-c', 'kube-root-ca.crt']],
    ['env=prod,tier!=backend', ['sel-a']],
    ['env=staging', []],
    ['', ['sel-a', 'sel-b', 'sel-c', 'kube-root-ca.crt']],
    [' env = prod , tier in ( frontend ) ', ['sel-a']],
  ])('%s', (selector, expected) => {
    expect(names(selector)).toEqual(expected);
  });

  it('numeric gt/lt', () => {
    const reqs = parseLabelSelector('n>3');
    expect(matchesLabels(reqs, { n: '4' })).toBe(true);
    expect(matchesLabels(reqs, { n: '3' })).toBe(false);
    expect(matchesLabels(reqs, {})).toBe(false);
  });

  it.each([
    ['tier in frontend', "unable to parse requirement: found 'frontend' expected: '('"],
    ['tier in ()', "for 'in', 'notin' operators, values set can't be empty"],
    ['a=b,', "found '', expected: identifier after ','"],
    ['=b', "found '=', expected: !, identifier, or 'end of string'"],
    ['!a=b', "expected: ',' or 'end of string'"],
    ['a b', "found 'b', expected: in, notin, =, ==, !=, gt, lt"],
    ['a=b c', "found 'c', expected: ',' or 'end of string'"],
    ['a=b_', 'a valid label must be an empty string or consist of alphanumeric characters'],
  ])('rejects %j with a 400 worded as the real parser', (selector, message) => {
    let err: unknown;
    try {
      parseLabelSelector(selector);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(StatusError);
    expect((err as StatusError).code).toBe(400);
    expect((err as StatusError).message).toContain(message);
  });
});

describe('field selectors', () => {
  it('parses =, == and != with escapes', () => {
    expect(parseFieldSelector('metadata.name=web,status.phase!=Running,a==b\\,c')).toEqual([
      { field: 'metadata.name', op: '=', value: 'web' },
      { field: 'status.phase', op: '!=', value: 'Running' },
      { field: 'a', op: '=', value: 'b,c' },
    ]);
  });

  it('matches pods by status.phase and events by involvedObject', () => {
    const pod = { ...cm('p'), kind: 'Pod', status: { phase: 'Running' } } as SimObject;
    expect(compileSelector('', 'pods', '', 'status.phase=Running').matches(pod)).toBe(true);
    expect(compileSelector('', 'pods', '', 'status.phase!=Running').matches(pod)).toBe(false);
    const ev = {
      ...cm('e'),
      kind: 'Event',
      involvedObject: { kind: 'Pod', name: 'p', uid: 'u1' },
    } as SimObject;
    expect(
      compileSelector('', 'events', '', 'involvedObject.name=p,involvedObject.kind=Pod').matches(ev),
    ).toBe(true);
    expect(compileSelector('', 'events', '', 'involvedObject.uid=u2').matches(ev)).toBe(false);
  });

  it('rejects unknown fields and malformed terms', () => {
    expect(() => compileSelector('', 'configmaps', '', 'status.phase=x')).toThrow(
      'field label not supported: status.phase',
    );
    expect(() => parseFieldSelector('nonsense')).toThrow("can't understand 'nonsense'");
  });
});
