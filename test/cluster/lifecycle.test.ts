import { describe, expect, it } from 'vitest';
import { down } from '../../src/commands/down.js';
import { up } from '../../src/commands/up.js';
import { ctxFor, template } from '../integration/harness.js';
import { inputsOn, useCluster } from './fixture.js';

const RENDERED = ['ConfigMap', 'Deployment', 'Secret', 'Service', 'ServiceAccount'];

function snapshot(
  objs: Map<string, { metadata: { resourceVersion: string; uid: string; generation?: number } }>,
) {
  return Object.fromEntries(
    [...objs].map(([k, o]) => [
      k,
      { rv: o.metadata.resourceVersion, uid: o.metadata.uid, gen: o.metadata.generation },
    ]),
  );
}

describe.each([
  ['server-side apply', true],
  ['client-side apply', false],
])('up and down with %s', (label, serverSideApply) => {
  const c = useCluster({ suite: `lifecycle ${label}` });

  it('first up creates exactly the rendered objects, labelled and annotated', async () => {
    const ctx = ctxFor(1);
    const result = await up(inputsOn(c, { serverSideApply }), ctx);
    expect(result.created).toBe(true);
    expect(result.id).toMatch(/^shop-pr-1-[a-z0-9]{5}$/);

    const objs = await c.envObjects('shop-pr-1');
    expect([...objs.keys()].map((k) => k.split('/')[0]).sort()).toEqual(RENDERED);
    expect([...(await c.userObjects()).keys()].sort()).toEqual([...objs.keys()].sort());
    for (const [ref, o] of objs) {
      expect(o.metadata.namespace, ref).toBe(c.namespace);
      expect(o.metadata.name.startsWith(result.id), ref).toBe(true);
      expect(o.metadata.labels, ref).toMatchObject({
        'preevy.dev/env-id': 'shop-pr-1',
        'preevy.dev/instance': result.id,
        'app.kubernetes.io/instance': result.id,
        'app.kubernetes.io/managed-by': 'preevy-kube-action',
      });
      expect(o.metadata.annotations?.['preevy.dev/created-at'], ref).toMatch(/^\d{4}-\d\d-\d\dT/);
      expect(o.metadata.annotations?.['preevy.dev/template-hash'], ref).toMatch(/^[0-9a-f]{16}$/);
      expect(o.metadata.annotations?.['preevy.dev/deployed-by'], ref).toBe(ctx.event.runUrl);
    }
    const host = objs.get(`Deployment/${result.dockerHost}`);
    expect(host?.metadata.labels?.['app.kubernetes.io/component']).toBe('docker-host');
    expect(host?.metadata.annotations?.['preevy.dev/all-types']?.split(',').sort()).toEqual([
      'apps/v1/Deployment',
      'v1/ConfigMap',
      'v1/Secret',
      'v1/Service',
      'v1/ServiceAccount',
    ]);
    // The docker host is ready, and its pods carry the environment's labels too.
    expect(host?.status?.availableReplicas).toBe(1);
    const pods = await c.pods(`preevy.dev/instance=${result.id}`);
    expect(pods).toHaveLength(1);
  });

  it('a second up of the same PR reuses the id and changes nothing', async () => {
    const before = snapshot(await c.envObjects('shop-pr-1'));
    const host = [...(await c.envObjects('shop-pr-1')).values()].find((o) => o.kind === 'Deployment');
    const result = await up(inputsOn(c, { serverSideApply }), ctxFor(1));
    expect(result.created).toBe(false);
    expect(result.id).toBe(host?.metadata.labels?.['preevy.dev/instance']);
    expect(snapshot(await c.envObjects('shop-pr-1'))).toEqual(before);
  });

  it('a changed template rolls the Deployment in place and keeps the id', async () => {
    const before = await c.envObjects('shop-pr-1');
    const hostBefore = [...before.values()].find((o) => o.kind === 'Deployment')!;
    const result = await up(
      inputsOn(c, {
        serverSideApply,
        template: template('full.yaml.njk', { 'revision: "1"': 'revision: "2"' }),
      }),
      ctxFor(1),
    );
    const after = await c.envObjects('shop-pr-1');
    const hostAfter = after.get(`Deployment/${result.dockerHost}`)!;
    expect(result.id).toBe(hostBefore.metadata.labels?.['preevy.dev/instance']);
    expect([...after.keys()].sort()).toEqual([...before.keys()].sort());
    expect(hostAfter.metadata.uid).toBe(hostBefore.metadata.uid);
    expect(hostAfter.metadata.generation).toBe((hostBefore.metadata.generation ?? 0) + 1);
    expect(hostAfter.status.observedGeneration).toBe(hostAfter.metadata.generation);
    expect(hostAfter.metadata.annotations?.['deployment.kubernetes.io/revision']).toBe('2');
    expect(hostAfter.metadata.annotations?.['preevy.dev/created-at']).toBe(
      hostBefore.metadata.annotations?.['preevy.dev/created-at'],
    );
    // The objects whose rendering did not change were not rewritten.
    for (const kind of ['ConfigMap', 'Secret', 'Service', 'ServiceAccount']) {
      const ref = [...before.keys()].find((k) => k.startsWith(`${kind}/`))!;
      expect(after.get(ref)?.metadata.uid, ref).toBe(before.get(ref)?.metadata.uid);
    }
    expect(await c.livePods(`preevy.dev/instance=${result.id}`)).toHaveLength(1);
  });

  it('down removes every object of the environment and nothing of its neighbours', async () => {
    await up(inputsOn(c, { serverSideApply }), ctxFor(2));
    await up(inputsOn(c, { serverSideApply }), ctxFor(3));
    // An unlabelled object and a neighbour's objects must survive.
    await c.create({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'unrelated' },
      data: { keep: 'me' },
    });
    const neighbours = {
      ...snapshot(await c.envObjects('shop-pr-1')),
      ...snapshot(await c.envObjects('shop-pr-3')),
    };
    const everythingBefore = [...(await c.userObjects()).keys()].sort();
    const doomed = [...(await c.envObjects('shop-pr-2')).keys()];
    expect(doomed).toHaveLength(5);

    const result = await down(inputsOn(c, { serverSideApply }), ctxFor(2));
    expect(result.deleted.sort()).toEqual(doomed.sort());
    expect((await c.envObjects('shop-pr-2')).size).toBe(0);
    expect([...(await c.userObjects()).keys()].sort()).toEqual(
      everythingBefore.filter((k) => !doomed.includes(k)),
    );
    expect({
      ...snapshot(await c.envObjects('shop-pr-1')),
      ...snapshot(await c.envObjects('shop-pr-3')),
    }).toEqual(neighbours);
    // Garbage collection took the docker host's ReplicaSets and Pods with it.
    expect(await c.pods('preevy.dev/env-id=shop-pr-2')).toHaveLength(0);
  });

  it('a second down, and a down of an environment that never existed, succeed with nothing to do', async () => {
    const before = [...(await c.userObjects()).keys()].sort();
    expect((await down(inputsOn(c, { serverSideApply }), ctxFor(2))).deleted).toEqual([]);
    expect((await down(inputsOn(c, { serverSideApply }), ctxFor(99))).deleted).toEqual([]);
    expect([...(await c.userObjects()).keys()].sort()).toEqual(before);
  });
});
