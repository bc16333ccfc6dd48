import { describe, expect, it } from 'vitest';
import { StatusError } from '../errors.js';
import { fixture, json, responseObject } from '../schema/fixture-helpers.js';
import { loadSchemas } from '../schema/index.js';
import type { SimObject } from '../types.js';
import { jsonPatch, mergePatch, recordUpdate, strategicMergePatch } from './index.js';

const schemas = loadSchemas();

function statusOf(fn: () => unknown): { code: number; body: unknown } {
  try {
    fn();
  } catch (e) {
    if (e instanceof StatusError) return { code: e.code, body: e.body };
    throw e;
  }
  throw new Error('expected a StatusError');
}

/** The container `app`, its env given as a map (in order). */
function app(image: string, env: Record<string, string>, rest: Record<string, unknown>) {
  return { name: 'app', image, env: Object.entries(env).map(([name, value]) => ({ name, value })), ...rest };
}

function deployment(): SimObject {
  return schemas.applyDefaults('apps/v1', 'Deployment', {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace: 'ns' } as SimObject['metadata'],
    spec: {
      selector: { matchLabels: { app: 'web' } },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1 } },
      template: {
        metadata: { labels: { app: 'web' } },
        spec: {
          volumes: [{ name: 'v1', emptyDir: {} }],
          containers: [
            app('app:1', { A: '1', B: '2' }, { ports: [{ containerPort: 80 }], args: ['--x'] }),
            { name: 'side', image: 'side:1' },
          ],
        },
      },
    },
  });
}

describe('patch fixtures 043-046 (ConfigMap client-cm)', () => {
  it('merge, strategic and json patches give the recorded objects', () => {
    let cur = responseObject(fixture('041'));
    for (const num of ['043', '044', '045']) {
      const f = fixture(num);
      const patch = f.request.body;
      const ct = f.request.headers['Content-Type'];
      let patched: SimObject;
      if (ct === 'application/merge-patch+json') patched = mergePatch(cur, patch);
      else if (ct === 'application/strategic-merge-patch+json')
        patched = strategicMergePatch(cur, patch, 'v1', 'ConfigMap', schemas);
      else if (ct === 'application/json-patch+json') patched = jsonPatch(cur, patch);
      else throw new Error(`unexpected content type ${ct}`);
      schemas.applyDefaults('v1', 'ConfigMap', patched);
      const out = recordUpdate({
        old: cur,
        updated: patched,
        manager: 'unknown',
        apiVersion: 'v1',
        now: '<time>',
        schemas,
      });
      expect(json(out), num).toBe(json(responseObject(f)));
      cur = responseObject(f);
    }
  });

  it('046: a failed json-patch test is a generic 422', () => {
    const f = fixture('046');
    const err = statusOf(() => jsonPatch(responseObject(fixture('045')), f.request.body));
    expect(err.code).toBe(422);
    expect(err.body).toEqual(f.response.body);
  });
});

describe('strategic merge patch', () => {
  it('merges containers by name, env by name, ports by containerPort; atomic lists replace', () => {
    const d = deployment();
    const out = strategicMergePatch(
      d,
      {
        spec: {
          template: {
            spec: {
              containers: [
                app('app:2', { B: 'two', C: '3' }, { args: ['--y'] }),
                { name: 'new', image: 'new:1' },
              ],
            },
          },
        },
      },
      'apps/v1',
      'Deployment',
      schemas,
    );
    const c = out.spec.template.spec.containers;
    expect(c.map((x: { name: string }) => x.name)).toEqual(['app', 'side', 'new']);
    expect(c[0].image).toBe('app:2');
    expect(c[0].env).toEqual([
      { name: 'A', value: '1' },
      { name: 'B', value: 'two' },
      { name: 'C', value: '3' },
    ]);
    expect(c[0].args).toEqual(['--y']);
    expect(c[0].ports).toEqual([{ containerPort: 80, protocol: 'TCP' }]);
    expect(d.spec.template.spec.containers[0].image).toBe('app:1');
  });

  it('$patch: delete removes a list item; $patch: replace replaces a list or a map', () => {
    const d = deployment();
    const del = strategicMergePatch(
      d,
      { spec: { template: { spec: { containers: [{ name: 'side', $patch: 'delete' }] } } } },
      'apps/v1',
      'Deployment',
      schemas,
    );
    expect(del.spec.template.spec.containers.map((x: { name: string }) => x.name)).toEqual(['app']);
    const rep = strategicMergePatch(
      d,
      { spec: { template: { spec: { volumes: [{ $patch: 'replace' }, { name: 'v2', emptyDir: {} }] } } } },
      'apps/v1',
      'Deployment',
      schemas,
    );
    expect(rep.spec.template.spec.volumes).toEqual([{ name: 'v2', emptyDir: {} }]);
    const mapRep = strategicMergePatch(
      d,
      { metadata: { labels: { $patch: 'replace', only: 'this' } } },
      'apps/v1',
      'Deployment',
      schemas,
    );
    expect(mapRep.metadata.labels).toEqual({ only: 'this' });
    const mapDel = strategicMergePatch(
      d,
      { spec: { strategy: { $patch: 'delete' } } },
      'apps/v1',
      'Deployment',
      schemas,
    );
    expect(mapDel.spec.strategy).toBeUndefined();
  });

  it('$retainKeys clears the fields not listed (strategy type switch)', () => {
    const d = deployment();
    const out = strategicMergePatch(
      d,
      { spec: { strategy: { $retainKeys: ['type'], type: 'Recreate' } } },
      'apps/v1',
      'Deployment',
      schemas,
    );
    expect(out.spec.strategy).toEqual({ type: 'Recreate' });
  });

  it('$setElementOrder orders a merged list; $deleteFromPrimitiveList removes values; null deletes', () => {
    const d = deployment();
    const out = strategicMergePatch(
      d,
      {
        metadata: { finalizers: ['example.com/a', 'example.com/b'], labels: { app: null } },
        spec: {
          template: {
            spec: {
              '$setElementOrder/containers': [{ name: 'side' }, { name: 'app' }],
              containers: [{ name: 'side', image: 'side:2' }],
            },
          },
        },
      },
      'apps/v1',
      'Deployment',
      schemas,
    );
    expect(
      out.spec.template.spec.containers.map((x: { name: string; image: string }) => `${x.name}=${x.image}`),
    ).toEqual(['side=side:2', 'app=app:1']);
    expect(out.metadata.labels).toEqual({});
    const fin = strategicMergePatch(
      out,
      {
        metadata: { finalizers: ['example.com/c'], '$deleteFromPrimitiveList/finalizers': ['example.com/a'] },
      },
      'apps/v1',
      'Deployment',
      schemas,
    );
    expect(fin.metadata.finalizers).toEqual(['example.com/b', 'example.com/c']);
  });

  it('bad directives and merge keys are 400s', () => {
    const d = deployment();
    const bad = statusOf(() =>
      strategicMergePatch(
        d,
        { spec: { template: { spec: { containers: [{ image: 'x' }] } } } },
        'apps/v1',
        'Deployment',
        schemas,
      ),
    );
    expect(bad.code).toBe(400);
    expect(statusOf(() => strategicMergePatch(d, [1], 'apps/v1', 'Deployment', schemas)).code).toBe(400);
  });
});

describe('merge patch (RFC 7386)', () => {
  it('merges objects, null deletes, arrays replace', () => {
    const d = deployment();
    const out = mergePatch(d, {
      metadata: { labels: { a: 'b' } },
      spec: { replicas: null, template: { spec: { containers: [{ name: 'x', image: 'y' }] } } },
    });
    expect(out.metadata.labels).toEqual({ a: 'b' });
    expect(out.spec.replicas).toBeUndefined();
    expect(out.spec.template.spec.containers).toEqual([{ name: 'x', image: 'y' }]);
    expect(d.spec.replicas).toBe(1);
  });
});

describe('json patch (RFC 6902)', () => {
  it('add, remove, replace, move, copy, test, escaped pointers and "-"', () => {
    const obj: SimObject = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'c', annotations: { 'a/b': 'x' } } as unknown as SimObject['metadata'],
      data: { k: 'v' },
    };
    const out = jsonPatch(obj, [
      { op: 'add', path: '/metadata/finalizers', value: ['x'] },
      { op: 'add', path: '/metadata/finalizers/-', value: 'y' },
      { op: 'add', path: '/metadata/finalizers/0', value: 'w' },
      { op: 'test', path: '/metadata/annotations/a~1b', value: 'x' },
      { op: 'copy', from: '/data/k', path: '/data/k2' },
      { op: 'move', from: '/data/k', path: '/data/k3' },
      { op: 'replace', path: '/data/k2', value: 'v2' },
      { op: 'remove', path: '/metadata/annotations' },
    ]);
    expect(out.metadata.finalizers).toEqual(['w', 'x', 'y']);
    expect(out.data).toEqual({ k2: 'v2', k3: 'v' });
    expect(out.metadata.annotations).toBeUndefined();
  });

  it('malformed operations are 400, operations on missing paths 422', () => {
    const obj: SimObject = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'c' } as SimObject['metadata'],
    };
    expect(statusOf(() => jsonPatch(obj, { op: 'add' })).code).toBe(400);
    expect(statusOf(() => jsonPatch(obj, [{ op: 'frobnicate', path: '/x' }])).code).toBe(400);
    expect(statusOf(() => jsonPatch(obj, [{ op: 'add', value: 1 }])).code).toBe(400);
    expect(statusOf(() => jsonPatch(obj, [{ op: 'replace', path: '/data/x', value: 1 }])).code).toBe(422);
    expect(statusOf(() => jsonPatch(obj, [{ op: 'remove', path: '/metadata/labels' }])).code).toBe(422);
    expect(statusOf(() => jsonPatch(obj, [{ op: 'add', path: '/data/x', value: 1 }])).code).toBe(422);
  });
});
