import { beforeEach, describe, expect, it } from 'vitest';
import {
  type DeleteEnvironmentOptions,
  deleteEnvironment,
  deletionTypes,
} from '../../../src/environment/delete.js';
import { parseAllTypes } from '../../../src/environment/find.js';
import { KubeApiError } from '../../../src/errors.js';
import { type TypeRef, typeKey } from '../../../src/kube/types.js';
import { captureLog, cm, dockerHost, ENV, envLabels, FakeKube, status, svc } from '../support.js';

describe('deleteEnvironment', () => {
  let k: FakeKube;
  const other = envLabels('shop-pr-3', 'shop-pr-3-zzzzz');
  const mine = envLabels(ENV, `${ENV}-abcde`);
  beforeEach(() => {
    k = new FakeKube();
    k.put(dockerHost(ENV, `${ENV}-abcde`));
    k.put(cm('cfg', {}, mine));
    k.put({ ...svc('svc'), metadata: { name: 'svc', namespace: 'ns', labels: mine } });
    k.put({
      apiVersion: 'example.com/v1',
      kind: 'Widget',
      metadata: { name: 'w', namespace: 'ns', labels: mine },
    });
    k.put({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: `${ENV}-abcde-dind-123-xyz`,
        namespace: 'ns',
        labels: mine,
        ownerReferences: [
          { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'rs', uid: 'u', controller: true },
        ],
      },
    });
    k.put(dockerHost('shop-pr-3', 'shop-pr-3-zzzzz'));
    k.put(cm('neighbour', {}, other));
    k.put(cm('unrelated'));
    k.put(cm('elsewhere', {}, mine));
    k.get({ apiVersion: 'v1', kind: 'ConfigMap' }, 'elsewhere')!.metadata.namespace = 'other';
  });

  /** Deletes ENV from ns, where it recorded `types`: waits a second for its objects to go, unless `over` says. */
  const del = (types: TypeRef[], over: Partial<DeleteEnvironmentOptions> = {}) =>
    deleteEnvironment(k, { namespace: 'ns', envId: ENV, types, timeoutMs: 1000, pollMs: 5, ...over });

  it('deletes exactly the env objects in the namespace, workloads first, and waits until they are gone', async () => {
    const log = captureLog();
    k.deleteAfterGets = 1;
    const types = parseAllTypes(dockerHost(ENV, 'x').metadata.annotations?.['preevy.dev/all-types']);
    const r = await del(types, { timeoutMs: 5000, log });
    expect(r.deleted).toEqual([`Deployment/${ENV}-abcde-dind`, 'Widget/w', 'Service/svc', 'ConfigMap/cfg']);
    expect(r.pending).toEqual([]);
    const left = [...k.store.values()].map((o) => `${o.kind}/${o.metadata.name}`).sort();
    expect(left).toEqual([
      'ConfigMap/elsewhere',
      'ConfigMap/neighbour',
      'ConfigMap/unrelated',
      'Deployment/shop-pr-3-zzzzz-dind',
      // Owned by its ReplicaSet: garbage collection removes it with the Deployment, we do not.
      `Pod/${ENV}-abcde-dind-123-xyz`,
    ]);
    for (const req of k.requests) expect(req.path).toMatch(/^\/apis?\/.*\/namespaces\/ns\//);
    for (const list of k.requests.filter((x) => x.method === 'GET' && x.query?.labelSelector !== undefined)) {
      expect(list.query?.labelSelector).toBe(
        `preevy.dev/env-id=${ENV},app.kubernetes.io/managed-by=preevy-kube-action`,
      );
      expect(list.path).toMatch(/\/namespaces\/ns\/[a-z]+$/);
    }
    const dels = k.requests.filter((x) => x.method === 'DELETE');
    for (const d of dels) {
      expect(d.query).toMatchObject({ propagationPolicy: 'Foreground' });
      expect(d.body).toMatchObject({
        propagationPolicy: 'Foreground',
        preconditions: { uid: expect.any(String) },
      });
    }

    // Idempotent.
    const again = await del(types);
    expect(again.deleted).toEqual([]);
  });

  it('skips objects the server returns without the env label, and kinds the cluster does not serve', async () => {
    k.served.delete('example.com/v1/Widget');
    // A server that ignores the selector for ConfigMaps.
    k.inject = (req) => {
      if (req.method === 'GET' && req.path.endsWith('/configmaps') && req.query?.labelSelector) {
        const items = [...k.store.values()].filter(
          (o) => o.kind === 'ConfigMap' && o.metadata.namespace === 'ns',
        );
        return { status: 200, body: { items } };
      }
      return undefined;
    };
    const log = captureLog();
    const r = await del([{ apiVersion: 'example.com/v1', kind: 'Widget' }], { log });
    expect(r.deleted).toEqual([`Deployment/${ENV}-abcde-dind`, 'Service/svc', 'ConfigMap/cfg']);
    expect(k.get({ apiVersion: 'v1', kind: 'ConfigMap' }, 'neighbour')).toBeDefined();
    expect(k.get({ apiVersion: 'v1', kind: 'ConfigMap' }, 'unrelated')).toBeDefined();
    expect(log.lines.join('\n')).toMatch(/warning: ConfigMap\/neighbour was returned .* left alone/);
  });

  it('skips a default kind it may not list when the environment did not record it', async () => {
    k.inject = (req) =>
      req.method === 'GET' && req.path.endsWith('/secrets')
        ? status(403, 'Forbidden', 'secrets is forbidden: User "u" cannot list resource "secrets"')
        : undefined;
    const r = await del([]);
    expect(r.deleted.length).toBeGreaterThan(0);
  });

  it('collects 403s on list and delete, deletes the rest, and reports once', async () => {
    k.inject = (req) => {
      if (req.method === 'GET' && req.path.endsWith('/secrets'))
        return status(
          403,
          'Forbidden',
          'secrets is forbidden: User "system:serviceaccount:ns:ci" cannot list resource "secrets" in API group "" in the namespace "ns"',
        );
      if (req.method === 'DELETE' && req.path.endsWith('/services/svc'))
        return status(
          403,
          'Forbidden',
          'services "svc" is forbidden: User "system:serviceaccount:ns:ci" cannot delete resource "services" in API group "" in the namespace "ns"',
        );
      return undefined;
    };
    const err = await del(
      // Recorded: a refused list of it is a failure. (An unrecorded default kind would just be skipped.)
      [{ apiVersion: 'v1', kind: 'Secret' }],
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KubeApiError);
    const e = err as KubeApiError;
    expect(e.code).toBe(403);
    expect(e.message).toMatch(/failed for 2 request\(s\)/);
    expect(e.message).toMatch(/list Secret \(preevy\.dev\/env-id=shop-pr-2,[^)]*\): secrets is forbidden/);
    expect(e.message).toMatch(/delete Service\/svc: services "svc" is forbidden/);
    expect(e.message).toContain(`Deleted: Deployment/${ENV}-abcde-dind, ConfigMap/cfg.`);
    expect(e.hint).toContain('lacks verb "list" on resource "secrets"');
    expect(e.hint).toContain('lacks verb "delete" on resource "services"');
    expect(e.hint).toMatch(/again .* is safe/);
    expect(k.get({ apiVersion: 'v1', kind: 'ConfigMap' }, 'cfg')).toBeUndefined();
  });

  it('a bounded wait: objects still terminating are reported as pending', async () => {
    k.deleteAfterGets = 1_000_000;
    const log = captureLog();
    const r = await del([], { timeoutMs: 50, pollMs: 10, log });
    expect(r.pending).toEqual(r.deleted);
    expect(log.lines.join('\n')).toMatch(/warning: Still being deleted after 0s/);
  });

  it('deletionTypes: defaults plus recorded kinds, deduplicated, workloads first and RBAC last', () => {
    const order = deletionTypes([
      { apiVersion: 'example.com/v1', kind: 'Widget' },
      { apiVersion: 'v1', kind: 'Service' },
    ]).map(typeKey);
    expect(order[0]).toBe('apps/v1/Deployment');
    expect(order.at(-1)).toBe('v1/ServiceAccount');
    expect(order.filter((t) => t === 'v1/Service')).toHaveLength(1);
    expect(order.indexOf('example.com/v1/Widget')).toBeLessThan(order.indexOf('v1/Service'));
    expect(order.indexOf('v1/Pod')).toBeLessThan(order.indexOf('v1/ConfigMap'));
  });
});
