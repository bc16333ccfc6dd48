import { describe, expect, it } from 'vitest';
import { findEnvironment, listDockerHosts, parseAllTypes } from '../../../src/environment/find.js';
import { IdentityError } from '../../../src/errors.js';
import { typeKey } from '../../../src/kube/types.js';
import { dockerHost, ENV, FakeKube } from '../support.js';

describe('findEnvironment', () => {
  it('finds the docker host by labels and reads id, types and created-at', async () => {
    const k = new FakeKube();
    k.put(dockerHost(ENV, `${ENV}-abcde`));
    k.put(dockerHost('shop-pr-3', 'shop-pr-3-zzzzz'));
    const found = await findEnvironment(k, { namespace: 'ns', envId: ENV });
    expect(found?.id).toBe(`${ENV}-abcde`);
    expect(found?.createdAt).toBe('2026-01-01T00:00:00.000Z');
    expect(found?.types.map(typeKey).sort()).toEqual([
      'apps/v1/Deployment',
      'example.com/v1/Widget',
      'v1/ConfigMap',
      'v1/Service',
    ]);
    const list = k.requests.find((r) => r.method === 'GET');
    expect(list?.path).toBe('/apis/apps/v1/namespaces/ns/deployments');
    expect(list?.query?.labelSelector).toBe(
      `preevy.dev/env-id=${ENV},app.kubernetes.io/managed-by=preevy-kube-action,app.kubernetes.io/component=docker-host`,
    );
    expect(await findEnvironment(k, { namespace: 'ns', envId: 'shop-pr-9' })).toBeUndefined();
  });

  it('two live instances are an IdentityError naming both; a terminating one does not count', async () => {
    const k = new FakeKube();
    k.put(dockerHost(ENV, `${ENV}-aaaaa`));
    k.put(dockerHost(ENV, `${ENV}-bbbbb`, { deletionTimestamp: '2026-01-02T00:00:00Z' }));
    expect((await findEnvironment(k, { namespace: 'ns', envId: ENV }))?.id).toBe(`${ENV}-aaaaa`);
    expect(
      (await listDockerHosts(k, { namespace: 'ns', envId: ENV })).map((h) => h.terminating).sort(),
    ).toEqual([false, true]);

    const b = k.get({ apiVersion: 'apps/v1', kind: 'Deployment' }, `${ENV}-bbbbb-dind`)!;
    delete b.metadata.deletionTimestamp;
    const err = await findEnvironment(k, { namespace: 'ns', envId: ENV }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IdentityError);
    const msg = (err as IdentityError).message;
    expect(msg).toContain(`Deployment/${ENV}-aaaaa-dind (id ${ENV}-aaaaa, created 2026-01-01T00:00:00.000Z)`);
    expect(msg).toContain(`Deployment/${ENV}-bbbbb-dind (id ${ENV}-bbbbb`);
    expect((err as IdentityError).hint).toMatch(/down/);
  });

  it('refuses an env id that is not a label value', async () => {
    await expect(findEnvironment(new FakeKube(), { namespace: 'ns', envId: 'a,b=c' })).rejects.toThrow(
      /not a valid label value/,
    );
  });

  it('parseAllTypes reads comma lists and JSON arrays', () => {
    expect(parseAllTypes('apps/v1/Deployment, v1/Service').map(typeKey)).toEqual([
      'apps/v1/Deployment',
      'v1/Service',
    ]);
    expect(parseAllTypes('["v1/ConfigMap","bad"]').map(typeKey)).toEqual(['v1/ConfigMap']);
    expect(parseAllTypes(undefined)).toEqual([]);
  });
});
