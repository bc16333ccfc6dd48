import { beforeEach, describe, expect, it } from 'vitest';
import { ApplyError, applyObjects } from '../../../src/environment/apply.js';
import { rollbackCreated } from '../../../src/environment/rollback.js';
import type { KubeObject } from '../../../src/kube/types.js';
import { captureLog, cm, deploy, FakeKube, status, svc } from '../support.js';

describe('applyObjects, server-side', () => {
  let k: FakeKube;
  beforeEach(() => {
    k = new FakeKube();
  });
  const opts = { serverSide: true, fieldManager: 'preevy-kube-action' } as const;

  it('sends each raw object as an apply patch, in order, and reports created/unchanged/changed', async () => {
    const objs = [cm('cm'), svc('svc'), deploy('dind', { strategyy: {} })];
    const first = await applyObjects(k, objs, opts);
    expect(first.map((a) => `${a.ref} ${a.action}`)).toEqual([
      'ConfigMap/cm created',
      'Service/svc created',
      'Deployment/dind created',
    ]);
    expect(first[2]?.uid).toMatch(/^uid-/);
    expect(first[2]?.generation).toBe(1);
    const patches = k.requests.filter((r) => r.method === 'PATCH');
    expect(patches.map((r) => r.path)).toEqual([
      '/api/v1/namespaces/ns/configmaps/cm',
      '/api/v1/namespaces/ns/services/svc',
      '/apis/apps/v1/namespaces/ns/deployments/dind',
    ]);
    for (const p of patches) {
      expect(p.contentType).toBe('application/apply-patch+yaml');
      expect(p.query).toMatchObject({ fieldManager: 'preevy-kube-action', force: true });
    }
    // The unknown field reaches the API server: it is the server's to reject.
    expect((patches[2]!.body as { spec: Record<string, unknown> }).spec.strategyy).toEqual({});

    const again = await applyObjects(k, objs, opts);
    expect(again.map((a) => a.action)).toEqual(['unchanged', 'unchanged', 'unchanged']);

    const changed = await applyObjects(k, [cm('cm', { a: '2' }), svc('svc')], opts);
    expect(changed.map((a) => a.action)).toEqual(['changed', 'unchanged']);
  });

  it('fills in the namespace without touching the caller objects; refuses foreign namespaces and cluster kinds', async () => {
    const o = cm('cm');
    delete o.metadata.namespace;
    await applyObjects(k, [o], opts);
    expect(o.metadata.namespace).toBeUndefined();
    expect(k.get({ apiVersion: 'v1', kind: 'ConfigMap' }, 'cm')?.metadata.namespace).toBe('ns');

    const foreign = cm('x');
    foreign.metadata.namespace = 'kube-system';
    await expect(applyObjects(k, [foreign], opts)).rejects.toThrow(/in namespace "kube-system", not in "ns"/);
    const cluster: KubeObject = {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: 'r' },
    };
    await expect(applyObjects(k, [cluster], opts)).rejects.toThrow(/cluster-scoped/);
    const unknown: KubeObject = { apiVersion: 'example.com/v9', kind: 'Gadget', metadata: { name: 'g' } };
    await expect(applyObjects(k, [unknown], opts)).rejects.toThrow(
      /does not serve Gadget in example\.com\/v9/,
    );
  });

  it('checks every object with a dry run first: refusals are reported together and nothing is written', async () => {
    k.refuseDryRun.set(
      'svc',
      status(422, 'Invalid', 'Service "svc" is invalid: spec.ports[0].port: Invalid value: 0'),
    );
    k.refuseDryRun.set(
      'dind',
      status(403, 'Forbidden', 'deployments.apps is forbidden: User "u" cannot patch'),
    );
    const err = await applyObjects(k, [cm('cm'), svc('svc'), deploy('dind')], opts).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApplyError);
    const e = err as ApplyError;
    expect(e.message).toMatch(/refused 2 objects/);
    expect(e.message).toContain('apply Service/svc');
    expect(e.message).toContain('apply Deployment/dind');
    expect(e.hint).toMatch(/Nothing was applied/);
    expect(e.applied).toEqual([]);
    expect(k.requests.filter((r) => r.method !== 'GET')).toEqual([]);
    expect(k.get({ apiVersion: 'v1', kind: 'ConfigMap' }, 'cm')).toBeUndefined();
    expect(k.dryRuns.map((r) => (r.body as KubeObject).metadata.name)).toEqual(['cm', 'svc', 'dind']);
  });

  it('stops at the first failure of the real pass, naming the object and what was already applied', async () => {
    k.inject = (req) =>
      req.method === 'PATCH' && req.path.endsWith('/services/svc')
        ? status(
            422,
            'Invalid',
            'Service "svc" is invalid: spec.ports[0].port: Invalid value: 0: must be between 1 and 65535',
            {
              causes: [
                { field: 'spec.ports[0].port', message: 'Invalid value: 0: must be between 1 and 65535' },
              ],
            },
          )
        : undefined;
    const log = captureLog();
    const err = await applyObjects(k, [cm('cm'), svc('svc'), deploy('dind')], { ...opts, log }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ApplyError);
    const e = err as ApplyError;
    expect(e.message).toMatch(/^apply Service\/svc: Service "svc" is invalid: .* \(Invalid, HTTP 422\)$/);
    expect(e.code).toBe(422);
    expect(e.failed).toBe('Service/svc');
    expect(e.applied.map((a) => a.ref)).toEqual(['ConfigMap/cm']);
    expect(e.hint).toContain('  - spec.ports[0].port: Invalid value: 0');
    expect(e.hint).toContain('Already applied in this run: ConfigMap/cm (created)');
    expect(e.hint).toMatch(/run down to remove it/);
    expect(k.get({ apiVersion: 'apps/v1', kind: 'Deployment' }, 'dind')).toBeUndefined();
    expect(log.lines).toContain('info: ConfigMap/cm created');
  });

  it('rollbackCreated deletes what the failed run created, newest first, by uid', async () => {
    k.put(cm('existing'));
    k.inject = (req) =>
      req.method === 'PATCH' && req.path.endsWith('/deployments/dind')
        ? status(403, 'Forbidden', 'no')
        : undefined;
    const err = await applyObjects(k, [cm('existing'), cm('new1'), svc('new2'), deploy('dind')], opts).catch(
      (e: unknown) => e,
    );
    k.inject = () => undefined;
    const removed = await rollbackCreated(k, err);
    expect(removed).toEqual(['Service/new2', 'ConfigMap/new1']);
    expect(k.get({ apiVersion: 'v1', kind: 'ConfigMap' }, 'existing')).toBeDefined();
    const del = k.requests.filter((r) => r.method === 'DELETE');
    expect(del[0]?.body).toMatchObject({
      propagationPolicy: 'Background',
      preconditions: { uid: expect.stringMatching(/^uid-/) },
    });
    expect(await rollbackCreated(k, new Error('not an apply error'))).toEqual([]);
  });
});

describe('applyObjects, client-side', () => {
  const opts = { serverSide: false, fieldManager: 'preevy-kube-action' } as const;

  it('creates with POST, then patches with the resourceVersion it read', async () => {
    const k = new FakeKube();
    const first = await applyObjects(k, [cm('cm'), deploy('dind')], opts);
    expect(first.map((a) => a.action)).toEqual(['created', 'created']);
    expect(k.requests.filter((r) => r.method === 'POST')[0]?.query).toMatchObject({
      fieldValidation: 'Strict',
    });

    k.requests.length = 0;
    const again = await applyObjects(k, [cm('cm'), deploy('dind', { replicas: 2 })], opts);
    expect(again.map((a) => a.action)).toEqual(['unchanged', 'changed']);
    const patches = k.requests.filter((r) => r.method === 'PATCH');
    expect(patches.map((p) => p.contentType)).toEqual([
      'application/strategic-merge-patch+json',
      'application/strategic-merge-patch+json',
    ]);
    expect((patches[0]!.body as KubeObject).metadata.resourceVersion).toMatch(/^\d+$/);
  });

  it('uses a merge patch for custom resources, and retries a conflict', async () => {
    const k = new FakeKube();
    const widget: KubeObject = {
      apiVersion: 'example.com/v1',
      kind: 'Widget',
      metadata: { name: 'w', namespace: 'ns' },
      spec: { size: 1 },
    };
    await applyObjects(k, [widget], opts);
    let conflicts = 1;
    k.inject = (req) => {
      if (req.method === 'PATCH' && conflicts > 0) {
        conflicts--;
        return status(409, 'Conflict', 'the object has been modified');
      }
      return undefined;
    };
    const r = await applyObjects(k, [{ ...widget, spec: { size: 2 } }], opts);
    expect(r[0]?.action).toBe('changed');
    expect(k.requests.filter((x) => x.method === 'PATCH').map((x) => x.contentType)).toEqual([
      'application/merge-patch+json',
      'application/merge-patch+json',
    ]);
  });
});
