import { describe, expect, it } from 'vitest';
import type { RecordUpdateArgs } from '../codecs.js';
import { asStored, fixture, json, requestObject, responseObject } from '../schema/fixture-helpers.js';
import { loadSchemas } from '../schema/index.js';
import type { SimObject } from '../types.js';
import { conflictMessage, recordUpdate, serverSideApply, typedPatchErrorMessage } from './index.js';

const schemas = loadSchemas();
const NOW = '<time>';

type Ok = { ok: true; object: SimObject };

/** recordUpdate with this file's schemas and, unless given, time. */
function record(args: Omit<RecordUpdateArgs, 'schemas' | 'now'> & { now?: string }): SimObject {
  return recordUpdate({ now: NOW, schemas, ...args });
}

function apply(
  existing: SimObject | undefined,
  applied: SimObject,
  manager = 'fixture-mgr',
  force = true,
  now = NOW,
): ReturnType<typeof serverSideApply> {
  return serverSideApply({ existing, applied, manager, force, apiVersion: applied.apiVersion, now, schemas });
}

function applyOk(...args: Parameters<typeof apply>) {
  const r = apply(...args);
  if (!r.ok) throw new Error(`apply failed: ${JSON.stringify(r)}`);
  return (r as Ok).object;
}

function fieldsOf(obj: SimObject, manager: string): unknown {
  const e = (obj.metadata.managedFields as Array<{ manager: string; fieldsV1: unknown }> | undefined)?.find(
    (m) => m.manager === manager,
  );
  return e?.fieldsV1;
}

function cm(data: Record<string, string>, labels?: Record<string, string>): SimObject {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'c', namespace: 'ns', ...(labels ? { labels } : {}) } as SimObject['metadata'],
    data,
  };
}

function deploy(containers: unknown[], extra: Record<string, unknown> = {}): SimObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace: 'ns' } as SimObject['metadata'],
    spec: {
      selector: { matchLabels: { app: 'web' } },
      template: { metadata: { labels: { app: 'web' } }, spec: { containers } },
      ...extra,
    },
  };
}

/** What the store does on create (generation only for kinds with a spec). */
function store(obj: SimObject): SimObject {
  return asStored(obj, obj.spec !== undefined ? 1 : undefined);
}

describe('server-side apply (fixtures)', () => {
  it('010/036: create fills defaults and records the Apply managedFields entry', () => {
    for (const num of ['010', '036']) {
      const f = fixture(num);
      const object = applyOk(undefined, requestObject(f));
      expect(json(store(object))).toBe(json(responseObject(f)));
    }
  });

  it('011: an identical re-apply changes nothing (same object, same time)', () => {
    const existing = responseObject(fixture('011'));
    const again = requestObject(fixture('011'));
    const r = apply(existing, again, 'fixture-mgr', true, '2030-01-01T00:00:00Z');
    expect(r.ok).toBe(true);
    expect((r as Ok).object).toEqual(existing);
    expect(json((r as Ok).object)).toBe(json(existing));
  });

  it('011: re-applying what 010 created keeps generation, managedFields and spec', () => {
    const created = store(applyOk(undefined, requestObject(fixture('010'))));
    const again = applyOk(
      created,
      requestObject(fixture('011')),
      'fixture-mgr',
      true,
      '2030-01-01T00:00:00Z',
    );
    expect(again).toEqual(created);
  });

  it('016: a template change on the rolled-out Deployment (013) gives 016', () => {
    const existing = responseObject(fixture('013'));
    const object = applyOk(existing, requestObject(fixture('016')));
    const want = responseObject(fixture('016'));
    object.metadata.generation = 2; // the store bumps generation when spec changes
    expect(json(object)).toBe(json(want));
  });

  it('051: another manager changing spec.replicas without force conflicts with fixture-mgr', () => {
    const f = fixture('051');
    const existing = responseObject(fixture('013'));
    const r = apply(existing, requestObject(f), 'other-mgr', false);
    expect(r.ok).toBe(false);
    if (r.ok || !('conflicts' in r)) throw new Error('expected conflicts');
    expect(r.conflicts.map((c) => ({ manager: c.manager, field: c.field }))).toEqual([
      { manager: 'fixture-mgr', field: '.spec.replicas' },
    ]);
    const body = f.response.body as { message: string; details: { causes: Array<{ field: string }> } };
    expect(conflictMessage(r.conflicts)).toBe(body.message);
    expect(r.conflicts[0]?.field).toBe(body.details.causes[0]?.field);
  });

  it('051 with force: ownership of spec.replicas moves to the new manager', () => {
    const existing = responseObject(fixture('013'));
    const object = applyOk(existing, requestObject(fixture('051')), 'other-mgr', true);
    expect(object.spec.replicas).toBe(2);
    expect(fieldsOf(object, 'other-mgr')).toEqual({ 'f:spec': { 'f:replicas': {} } });
    const mine = fieldsOf(object, 'fixture-mgr') as { 'f:spec': Record<string, unknown> };
    expect(mine['f:spec']['f:replicas']).toBeUndefined();
    expect(mine['f:spec']['f:selector']).toEqual({});
    expect((object.metadata.managedFields as Array<{ manager: string }>).map((m) => m.manager)).toEqual([
      'fixture-mgr',
      'other-mgr',
      'kube-controller-manager',
    ]);
  });

  it('a second manager applying the same value shares ownership without conflict', () => {
    const existing = responseObject(fixture('013'));
    const same = requestObject(fixture('051'));
    same.spec.replicas = 1;
    const object = applyOk(existing, same, 'other-mgr', false);
    expect(fieldsOf(object, 'other-mgr')).toEqual({ 'f:spec': { 'f:replicas': {} } });
    expect(
      (fieldsOf(object, 'fixture-mgr') as { 'f:spec': Record<string, unknown> })['f:spec']['f:replicas'],
    ).toEqual({});
  });

  it('056/059/061: unknown fields fail with SSA-style paths and the typed-patch message', () => {
    for (const num of ['056', '059', '061']) {
      const f = fixture(num);
      const existing = num === '061' ? store(responseObject(fixture('058'))) : undefined;
      const applied = requestObject(f);
      const r = apply(existing, applied);
      if (r.ok || !('unknownFields' in r)) throw new Error('expected unknown fields');
      expect(r.unknownFields).toEqual([
        '.spec.template.spec.containers[name="c"].bogusContainerField',
        '.spec.bogusField',
      ]);
      expect(typedPatchErrorMessage(applied, 'apps/v1', r)).toBe(
        (f.response.body as { message: string }).message,
      );
    }
  });

  it('type errors in the configuration are reported the structured-merge-diff way', () => {
    const r = apply(undefined, deploy([{ name: 'c', image: 'x' }], { replicas: 'two' }));
    if (r.ok || !('unknownFields' in r)) throw new Error('expected a typed error');
    expect(r.unknownFields).toEqual([]);
    expect(r.message).toBe('.spec.replicas: expected numeric (int or float), got string');
  });
});

describe('server-side apply (semantics)', () => {
  it('removes fields the manager applied before and no longer applies', () => {
    const first = store(applyOk(undefined, cm({ a: '1', b: '2' }, { x: '1', y: '2' })));
    const second = applyOk(first, cm({ a: '1' }, { x: '1' }));
    expect(second.data).toEqual({ a: '1' });
    expect(second.metadata.labels).toEqual({ x: '1' });
    expect(fieldsOf(second, 'fixture-mgr')).toEqual({
      'f:data': { 'f:a': {} },
      'f:metadata': { 'f:labels': { 'f:x': {} } },
    });
  });

  it('keeps fields another manager also owns, and fields set by an Update', () => {
    const first = store(applyOk(undefined, cm({ a: '1', b: '2' })));
    const shared = applyOk(first, cm({ b: '2' }), 'other');
    const updated = record({
      old: shared,
      updated: { ...structuredClone(shared), data: { ...shared.data, c: '3' } },
      manager: 'kubectl-edit',
      apiVersion: 'v1',
    });
    const after = applyOk(updated, cm({ a: '1' }));
    expect(after.data).toEqual({ a: '1', b: '2', c: '3' });
    // applying an empty map claims the map itself (f:data: {}), not its former entries
    const empty = applyOk(after, cm({}));
    expect(empty.data).toEqual({ b: '2', c: '3' });
    expect(fieldsOf(empty, 'fixture-mgr')).toEqual({ 'f:data': {} });
    // applying nothing at all drops the manager's entry
    const nothing = cm({});
    delete nothing.data;
    const dropA = applyOk(after, nothing);
    expect(dropA.data).toEqual({ b: '2', c: '3' });
    expect(fieldsOf(dropA, 'fixture-mgr')).toBeUndefined();
  });

  it('merges list-map items by key (containers by name), keeps others, removes dropped ones', () => {
    const v1 = store(
      applyOk(
        undefined,
        deploy([
          { name: 'a', image: 'a:1', ports: [{ containerPort: 80 }] },
          { name: 'b', image: 'b:1' },
        ]),
      ),
    );
    const c = v1.spec.template.spec.containers;
    expect(c.map((x: { name: string }) => x.name)).toEqual(['a', 'b']);
    expect(c[0].ports).toEqual([{ containerPort: 80, protocol: 'TCP' }]);
    const f = fieldsOf(v1, 'fixture-mgr') as Record<
      string,
      Record<string, Record<string, Record<string, unknown>>>
    >;
    const containers = f['f:spec']?.['f:template']?.['f:spec']?.['f:containers'] as Record<string, unknown>;
    expect(Object.keys(containers)).toEqual(['k:{"name":"a"}', 'k:{"name":"b"}']);
    expect((containers['k:{"name":"a"}'] as Record<string, unknown>)['f:ports']).toEqual({
      'k:{"containerPort":80,"protocol":"TCP"}': { '.': {}, 'f:containerPort': {} },
    });
    // another manager adds a sidecar; the first manager then drops container b and changes a's image
    const side = applyOk(v1, deploy([{ name: 'side', image: 's:1' }]), 'sidecar-injector');
    const v2 = applyOk(side, deploy([{ name: 'a', image: 'a:2', ports: [{ containerPort: 80 }] }]));
    const names = v2.spec.template.spec.containers.map(
      (x: { name: string; image: string }) => `${x.name}=${x.image}`,
    );
    expect(names).toEqual(['a=a:2', 'side=s:1']);
    // defaults of the kept container survive
    expect(v2.spec.template.spec.containers[0].terminationMessagePath).toBe('/dev/termination-log');
  });

  it('set lists use v: path elements; atomic lists are owned whole', () => {
    const obj: SimObject = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: {
        name: 'c',
        namespace: 'ns',
        finalizers: ['example.com/a', 'example.com/b'],
      } as SimObject['metadata'],
    };
    const out = applyOk(undefined, obj);
    expect(fieldsOf(out, 'fixture-mgr')).toEqual({
      'f:metadata': { 'f:finalizers': { 'v:"example.com/a"': {}, 'v:"example.com/b"': {} } },
    });
    const d = applyOk(undefined, deploy([{ name: 'c', image: 'x', args: ['a', 'b'] }]));
    const f = fieldsOf(d, 'fixture-mgr') as Record<
      string,
      Record<string, Record<string, Record<string, Record<string, Record<string, unknown>>>>>
    >;
    expect(f['f:spec']?.['f:template']?.['f:spec']?.['f:containers']?.['k:{"name":"c"}']?.['f:args']).toEqual(
      {},
    );
  });

  it('conflicts with an Update manager name it with its apiVersion', () => {
    const created = store(applyOk(undefined, cm({ a: '1' })));
    const edited = record({
      old: created,
      updated: { ...structuredClone(created), data: { a: '2' } },
      manager: 'kubectl',
      apiVersion: 'v1',
    });
    expect(fieldsOf(edited, 'kubectl')).toEqual({ 'f:data': { 'f:a': {} } });
    expect(fieldsOf(edited, 'fixture-mgr')).toBeUndefined();
    const r = apply(edited, cm({ a: '3', b: '1' }), 'fixture-mgr', false);
    if (r.ok || !('conflicts' in r)) throw new Error('expected conflicts');
    expect(conflictMessage(r.conflicts)).toBe(
      'Apply failed with 1 conflict: conflict with "kubectl" using v1: .data.a',
    );
    const two = apply(edited, { ...cm({ a: '3' }, { x: 'y' }) }, 'fixture-mgr', false);
    expect(two.ok).toBe(false);
  });

  it('formats several conflicts as the real server does', () => {
    const msg = conflictMessage([
      { manager: 'b', field: '.spec.replicas', operation: 'Apply', apiVersion: 'apps/v1' },
      { manager: 'a', field: '.data.x', operation: 'Update', apiVersion: 'v1' },
      { manager: 'b', field: '.spec.paused', operation: 'Apply', apiVersion: 'apps/v1' },
    ]);
    expect(msg).toBe(
      'Apply failed with 3 conflicts: conflicts with "a" using v1\n- .data.x\nconflicts with "b"\n- .spec.replicas\n- .spec.paused',
    );
  });

  it('the first apply to an object without managedFields attributes existing fields to before-first-apply', () => {
    const legacy = store(schemas.applyDefaults('v1', 'ConfigMap', cm({ a: '1' })));
    delete legacy.metadata.managedFields;
    const r = apply(legacy, cm({ a: '2' }), 'fixture-mgr', false);
    if (r.ok || !('conflicts' in r)) throw new Error('expected conflicts');
    expect(conflictMessage(r.conflicts)).toBe(
      'Apply failed with 1 conflict: conflict with "before-first-apply" using v1: .data.a',
    );
  });

  it('kinds without a schema (custom resources) merge untyped: maps granular, lists atomic', () => {
    const cr = (spec: Record<string, unknown>): SimObject => ({
      apiVersion: 'example.com/v1',
      kind: 'Widget',
      metadata: { name: 'w', namespace: 'ns' } as SimObject['metadata'],
      spec,
    });
    const first = store(applyOk(undefined, cr({ size: 1, tags: ['a'], nested: { a: 1, b: 2 } })));
    expect(fieldsOf(first, 'fixture-mgr')).toEqual({
      'f:spec': { '.': {}, 'f:nested': { '.': {}, 'f:a': {}, 'f:b': {} }, 'f:size': {}, 'f:tags': {} },
    });
    const second = applyOk(first, cr({ tags: ['b'], nested: { a: 1 } }));
    expect(second.spec).toEqual({ tags: ['b'], nested: { a: 1 } });
    expect(schemas.validate('example.com/v1', 'Widget', second)).toEqual([]);
  });

  it('ignores status in the configuration of a kind with a status subresource', () => {
    const applied = deploy([{ name: 'c', image: 'x' }]);
    applied.status = { replicas: 5 };
    const out = applyOk(undefined, applied);
    expect(out.status).toEqual({});
    expect((fieldsOf(out, 'fixture-mgr') as Record<string, unknown>)['f:status']).toBeUndefined();
  });

  it('does not conflict on the same value and keeps the time when nothing changed', () => {
    const created = store(applyOk(undefined, cm({ a: '1' }), 'fixture-mgr', true, '2026-01-01T00:00:00Z'));
    const again = applyOk(created, cm({ a: '1' }), 'fixture-mgr', true, '2026-06-01T00:00:00Z');
    expect(again).toEqual(created);
    const changed = applyOk(created, cm({ a: '2' }), 'fixture-mgr', true, '2026-06-01T00:00:00Z');
    expect((changed.metadata.managedFields as Array<{ time: string }>)[0]?.time).toBe('2026-06-01T00:00:00Z');
  });
});

describe('recordUpdate (fixtures)', () => {
  it('041 -> 043 -> 044 -> 045: ConfigMap POST and the three patch types, manager "unknown"', () => {
    // 041: create
    const posted = schemas.applyDefaults('v1', 'ConfigMap', requestObject(fixture('041')));
    posted.metadata.namespace = 'fixtures';
    const created = store(record({ updated: posted, manager: 'unknown', apiVersion: 'v1' }));
    expect(json(created)).toBe(json(responseObject(fixture('041'))));
    // 043: merge patch (the patch helpers are in patch.test.ts; here the result object is taken as given)
    let prev = responseObject(fixture('041'));
    for (const num of ['043', '044', '045']) {
      const want = responseObject(fixture(num));
      const patched = structuredClone(want);
      patched.metadata.managedFields = structuredClone(prev.metadata.managedFields);
      const out = record({ old: prev, updated: patched, manager: 'unknown', apiVersion: 'v1' });
      expect(json(out), num).toBe(json(want));
      prev = want;
    }
  });

  it('058/062: POSTed Deployment: Update entry includes the defaulted fields, with "." only for new maps/items', () => {
    for (const num of ['058', '062']) {
      const obj = schemas.pruneUnknown('apps/v1', 'Deployment', requestObject(fixture(num)));
      obj.metadata.namespace = 'fixtures';
      schemas.applyDefaults('apps/v1', 'Deployment', obj);
      const out = store(record({ updated: obj, manager: 'unknown', apiVersion: 'apps/v1' }));
      expect(json(out)).toBe(json(responseObject(fixture(num))));
    }
  });

  it('111: Namespace create tracks the defaulted label but not status', () => {
    const ns = schemas.applyDefaults('v1', 'Namespace', requestObject(fixture('111')));
    const out = record({ updated: ns, manager: 'unknown', apiVersion: 'v1' });
    expect(out.metadata.managedFields).toEqual(responseObject(fixture('111')).metadata.managedFields);
  });

  it('no change: no new entry, existing time kept; status subresource writes get their own entry', () => {
    const created = store(
      record({ updated: cm({ a: '1' }), manager: 'm', apiVersion: 'v1', now: '2026-01-01T00:00:00Z' }),
    );
    const same = record({
      old: created,
      updated: structuredClone(created),
      manager: 'other',
      apiVersion: 'v1',
      now: '2026-02-01T00:00:00Z',
    });
    expect(same.metadata.managedFields).toEqual(created.metadata.managedFields);

    const d = store(applyOk(undefined, deploy([{ name: 'c', image: 'x' }])));
    const withStatus = structuredClone(d);
    withStatus.status = { observedGeneration: 1, replicas: 1 };
    const s = record({
      old: d,
      updated: withStatus,
      manager: 'kube-controller-manager',
      apiVersion: 'apps/v1',
      subresource: 'status',
    });
    const entries = s.metadata.managedFields as Array<Record<string, unknown>>;
    expect(entries.map((e) => [e.manager, e.operation, e.subresource])).toEqual([
      ['fixture-mgr', 'Apply', undefined],
      ['kube-controller-manager', 'Update', 'status'],
    ]);
    expect(entries[1]?.fieldsV1).toEqual({ 'f:status': { 'f:observedGeneration': {}, 'f:replicas': {} } });
    // a status write through the main resource is not tracked (status is reset there)
    const main = record({ old: d, updated: withStatus, manager: 'x', apiVersion: 'apps/v1' });
    expect(main.metadata.managedFields).toEqual(d.metadata.managedFields);
  });

  it("011: the deployment controller's status write gives the recorded kube-controller-manager entry", () => {
    const created = store(applyOk(undefined, requestObject(fixture('010'))));
    const want = responseObject(fixture('011'));
    const updated = structuredClone(created);
    updated.metadata.annotations = want.metadata.annotations;
    updated.status = want.status;
    const out = record({
      old: created,
      updated,
      manager: 'kube-controller-manager',
      apiVersion: 'apps/v1',
      subresource: 'status',
    });
    expect(json(out)).toBe(json(want));
  });

  it('022: a Pod created by the ReplicaSet controller (before admission) gives the recorded Update entry', () => {
    const fx = fixture('022').response.body as { items: SimObject[] };
    const recorded = structuredClone(fx.items[0] as SimObject);
    const pod = Object.assign({ kind: 'Pod', apiVersion: 'v1' }, structuredClone(recorded)) as SimObject;
    // what admission and the scheduler add after the field manager ran
    for (const k of [
      'volumes',
      'serviceAccountName',
      'serviceAccount',
      'nodeName',
      'tolerations',
      'priority',
      'preemptionPolicy',
    ])
      delete pod.spec[k];
    delete pod.spec.containers[0].volumeMounts;
    delete pod.spec.enableServiceLinks;
    delete pod.status;
    delete pod.metadata.managedFields;
    schemas.applyDefaults('v1', 'Pod', pod);
    const out = record({ updated: pod, manager: 'kube-controller-manager', apiVersion: 'v1' });
    const entries = recorded.metadata.managedFields as Array<{ fieldsV1: unknown }>;
    expect(json((out.metadata.managedFields as Array<{ fieldsV1: unknown }>)[0]?.fieldsV1)).toBe(
      json(entries[0]?.fieldsV1),
    );
  });

  it('014: a ReplicaSet created by the deployment controller, then its status written, gives both recorded entries', () => {
    const fx = fixture('014').response.body as { items: SimObject[] };
    const recorded = Object.assign(
      { kind: 'ReplicaSet', apiVersion: 'apps/v1' },
      structuredClone(fx.items[0]),
    ) as SimObject;
    const rs = structuredClone(recorded);
    delete rs.metadata.managedFields;
    delete rs.status;
    schemas.applyDefaults('apps/v1', 'ReplicaSet', rs);
    expect(rs.status).toEqual({ replicas: 0 });
    const created = record({ updated: rs, manager: 'kube-controller-manager', apiVersion: 'apps/v1' });
    const withStatus = structuredClone(created);
    withStatus.status = recorded.status;
    const out = record({
      old: created,
      updated: withStatus,
      manager: 'kube-controller-manager',
      apiVersion: 'apps/v1',
      subresource: 'status',
    });
    expect(json(out.metadata.managedFields)).toBe(json(recorded.metadata.managedFields));
  });

  it('caps Update managers at 10, merging the oldest into ancient-changes', () => {
    let obj = store(
      record({ updated: cm({ k0: 'v' }), manager: 'm0', apiVersion: 'v1', now: '2026-01-01T00:00:00Z' }),
    );
    for (let i = 1; i <= 11; i++) {
      const next = structuredClone(obj);
      next.data = { ...next.data, [`k${i}`]: 'v' };
      const now = `2026-01-01T00:00:${String(i).padStart(2, '0')}Z`;
      obj = record({ old: obj, updated: next, manager: `m${i}`, apiVersion: 'v1', now });
    }
    const entries = obj.metadata.managedFields as Array<{ manager: string; time: string; fieldsV1: unknown }>;
    expect(entries.length).toBe(10);
    const ancient = entries.find((e) => e.manager === 'ancient-changes');
    expect(ancient?.fieldsV1).toEqual({ 'f:data': { '.': {}, 'f:k0': {}, 'f:k1': {}, 'f:k2': {} } });
    expect(ancient?.time).toBe('2026-01-01T00:00:02Z');
    expect(entries.map((e) => e.manager)).toEqual([
      'ancient-changes',
      'm3',
      'm4',
      'm5',
      'm6',
      'm7',
      'm8',
      'm9',
      'm10',
      'm11',
    ]);
  });

  it('takes ownership from an applier (Update is always forced)', () => {
    const created = store(applyOk(undefined, cm({ a: '1', b: '2' })));
    const edited = record({
      old: created,
      updated: { ...structuredClone(created), data: { a: 'changed', b: '2' } },
      manager: 'kubectl-edit',
      apiVersion: 'v1',
    });
    expect(fieldsOf(edited, 'fixture-mgr')).toEqual({ 'f:data': { 'f:b': {} } });
    expect(fieldsOf(edited, 'kubectl-edit')).toEqual({ 'f:data': { 'f:a': {} } });
  });
});
