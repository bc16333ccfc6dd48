import { describe, expect, it } from 'vitest';
import type { SimObject, Store, WatchEvent } from '../types.js';
import { defaultPodBehaviour } from './index.js';
import {
  condition,
  controllerHarness,
  DEPLOY,
  EVENTS,
  fixture,
  NS,
  normalize,
  PODS,
  podsOf,
  RS,
  STORES,
  waitFor,
  webDeployment,
} from './test-helpers.js';

const HASH_ALPHABET = /^[bcdfghjklmnpqrstvwxz2456789]+$/;

/** kubectl's rollout rule: observed, and updated == available == replicas == spec.replicas, and progressed. */
function complete(store: Store, name: string, generation?: number): SimObject | undefined {
  const d = store.get({ ...DEPLOY, namespace: NS, name });
  if (!d) return undefined;
  const st = d.status ?? {};
  const want = d.spec.replicas;
  const observed = (st.observedGeneration ?? 0) >= (generation ?? d.metadata.generation ?? 0);
  const counts =
    (st.updatedReplicas ?? 0) === want && (st.availableReplicas ?? 0) === want && (st.replicas ?? 0) === want;
  return observed && counts && condition(d, 'Progressing')?.reason === 'NewReplicaSetAvailable'
    ? d
    : undefined;
}

function replicaSets(store: Store, app: string): SimObject[] {
  return store.list(RS.group, RS.resource, { namespace: NS, labelSelector: `app=${app}` });
}

/** What a watch of the Deployment would show: generation, revision annotation and status of each event. */
function view(ev: { object: SimObject }, names: Array<[string, string]>): unknown {
  return normalize(
    {
      generation: ev.object.metadata.generation,
      revision: ev.object.metadata.annotations?.['deployment.kubernetes.io/revision'],
      status: ev.object.status,
    },
    names,
  );
}

function dedupe<T>(xs: T[]): T[] {
  return xs.filter((x, i) => i === 0 || JSON.stringify(x) !== JSON.stringify(xs[i - 1]));
}

describe.each(STORES)('Deployment controller on %s', (storeName, makeStore) => {
  const controllers = controllerHarness(makeStore);
  const start = (): Store => controllers.start(defaultPodBehaviour());

  async function rollOut(
    store: Store,
  ): Promise<{ deployment: SimObject; rs: SimObject; statuses: unknown[] }> {
    const statuses: unknown[] = [];
    const unsub = store.subscribe(DEPLOY.group, DEPLOY.resource, (ev) => statuses.push(ev.object.status));
    store.create(webDeployment());
    const deployment = await waitFor(() => complete(store, 'web'), 'rollout 1');
    unsub();
    const [rs] = replicaSets(store, 'web');
    return { deployment, rs: rs as SimObject, statuses };
  }

  it('rolls out a Recreate Deployment with the statuses, ReplicaSet and Pod of fixtures 012-015', async () => {
    const store = start();
    const { deployment, rs, statuses } = await rollOut(store);

    const hash = rs.metadata.labels?.['pod-template-hash'] as string;
    expect(hash).toMatch(HASH_ALPHABET);
    expect(rs.metadata.name).toBe(`web-${hash}`);
    const names: Array<[string, string]> = [
      ['8954b446d', '<hash>'],
      [hash, '<hash>'],
    ];

    expect(deployment.metadata.annotations).toEqual({ 'deployment.kubernetes.io/revision': '1' });
    expect(normalize(deployment.status, names)).toEqual(
      normalize(fixture('013-deploy-get-rollout1-02-final.json').response.body.status, names),
    );
    // The rolling snapshot of fixture 012 is one of the statuses on the way.
    const rolling = normalize(fixture('012-deploy-get-rollout1-01-rolling.json').response.body.status, names);
    expect(statuses.map((s) => normalize(s, names))).toContainEqual(rolling);

    const fxRs = fixture('014-replicasets-list-by-label.json').response.body.items?.[0] as SimObject;
    expect(normalize({ metadata: rs.metadata, spec: rs.spec, status: rs.status }, names)).toEqual(
      normalize({ metadata: fxRs.metadata, spec: fxRs.spec, status: fxRs.status }, names),
    );

    const [pod] = podsOf(store, 'web');
    const fxPod = fixture('015-pods-list-by-label.json').response.body.items?.[0] as SimObject;
    const podNames: Array<[string, string]> = [
      ...names,
      [pod?.metadata.name as string, '<pod>'],
      [fxPod.metadata.name, '<pod>'],
    ];
    expect(pod?.metadata.name).toMatch(new RegExp(`^web-${hash}-[bcdfghjklmnpqrstvwxz2456789]{5}$`));
    expect(pod?.spec.nodeName).toBe('sim-node');
    const pick = (p: SimObject) => ({
      generateName: p.metadata.generateName,
      labels: p.metadata.labels,
      ownerReferences: p.metadata.ownerReferences,
      status: p.status,
    });
    expect(normalize(pick(pod as SimObject), podNames)).toEqual(normalize(pick(fxPod), podNames));

    const reasons = store
      .list(EVENTS.group, EVENTS.resource, { namespace: NS })
      .filter((e) => e.involvedObject.kind !== 'Pod')
      .map((e) => [e.involvedObject.kind, e.reason, e.message, e.source.component]);
    expect(reasons).toContainEqual([
      'Deployment',
      'ScalingReplicaSet',
      `Scaled up replica set web-${hash} from 0 to 1`,
      'deployment-controller',
    ]);
    expect(reasons).toContainEqual([
      'ReplicaSet',
      'SuccessfulCreate',
      `Created pod: ${pod?.metadata.name}`,
      'replicaset-controller',
    ]);
  });

  it('walks a Recreate template change through the watch sequence of fixture 017 and ends as 020-022', async () => {
    const store = start();
    const { rs: oldRs } = await rollOut(store);
    const oldHash = oldRs.metadata.labels?.['pod-template-hash'] as string;

    const seen: WatchEvent[] = [];
    const unsub = store.subscribe(DEPLOY.group, DEPLOY.resource, (ev) => seen.push(ev));
    const d = store.get({ ...DEPLOY, namespace: NS, name: 'web' }) as SimObject;
    d.spec.template.metadata.annotations = { 'fixtures.example.com/revision': '2' };
    store.update(d);
    const done = await waitFor(() => complete(store, 'web', 2), 'rollout 2');
    unsub();

    const newRs = replicaSets(store, 'web').find((r) => r.metadata.uid !== oldRs.metadata.uid) as SimObject;
    const newHash = newRs.metadata.labels?.['pod-template-hash'] as string;
    const names: Array<[string, string]> = [
      ['8954b446d', '<old>'],
      [oldHash, '<old>'],
      ['5c9d7d6958', '<new>'],
      [newHash, '<new>'],
    ];
    const stream = fixture('017-deploy-watch-rollout2.json').response.stream ?? [];
    const expected = dedupe(stream.map((ev) => view(ev, names)));
    const actual = dedupe(seen.filter((ev) => ev.type === 'MODIFIED').map((ev) => view(ev, names)));
    expect(actual).toEqual(expected);

    expect(normalize(done.status, names)).toEqual(
      normalize(fixture('020-deploy-get-after-rollout2.json').response.body.status, names),
    );
    expect(done.metadata.annotations?.['deployment.kubernetes.io/revision']).toBe('2');
    const fx = fixture('021-replicasets-list-by-label-after-rollout2.json').response.body
      .items as SimObject[];
    const shape = (r: SimObject) => ({
      name: r.metadata.name,
      generation: r.metadata.generation,
      annotations: r.metadata.annotations,
      replicas: r.spec.replicas,
      templateAnnotations: r.spec.template.metadata.annotations,
      status: r.status,
    });
    const sortByName = (xs: SimObject[]) =>
      xs
        .map((r) => normalize(shape(r), names))
        .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
    expect(sortByName(replicaSets(store, 'web'))).toEqual(sortByName(fx));

    const pods = podsOf(store, 'web');
    expect(pods).toHaveLength(1);
    expect(pods[0]?.metadata.annotations).toEqual({ 'fixtures.example.com/revision': '2' });
    expect(pods[0]?.metadata.labels?.['pod-template-hash']).toBe(newHash);

    const messages = store.list(EVENTS.group, EVENTS.resource, { namespace: NS }).map((e) => e.message);
    expect(messages).toContain(`Scaled down replica set web-${oldHash} from 1 to 0`);
    expect(messages).toContain(`Scaled up replica set web-${newHash} from 0 to 1`);
  });

  it('scales up and down through spec.replicas', async () => {
    const store = start();
    const { rs } = await rollOut(store);
    const scale = (n: number) => {
      const d = store.get({ ...DEPLOY, namespace: NS, name: 'web' }) as SimObject;
      d.spec.replicas = n;
      store.update(d);
    };

    scale(3);
    const up = await waitFor(() => complete(store, 'web', 2), 'scale to 3');
    expect(up.status).toMatchObject({
      replicas: 3,
      updatedReplicas: 3,
      readyReplicas: 3,
      availableReplicas: 3,
    });
    expect(podsOf(store, 'web').filter((p) => !p.metadata.deletionTimestamp)).toHaveLength(3);
    const scaledRs = store.get({ ...RS, namespace: NS, name: rs.metadata.name }) as SimObject;
    expect(scaledRs.spec.replicas).toBe(3);
    expect(scaledRs.metadata.annotations?.['deployment.kubernetes.io/desired-replicas']).toBe('3');
    expect(replicaSets(store, 'web')).toHaveLength(1);

    scale(1);
    await waitFor(() => complete(store, 'web', 3) && podsOf(store, 'web').length === 1, 'scale to 1');
    const down = store.get({ ...DEPLOY, namespace: NS, name: 'web' }) as SimObject;
    expect(down.status).toMatchObject({ replicas: 1, availableReplicas: 1 });
    expect(down.status.unavailableReplicas).toBeUndefined();
    expect(condition(down, 'Progressing')?.reason).toBe('NewReplicaSetAvailable');
  });

  it('rolls a RollingUpdate Deployment without losing availability', async () => {
    const store = start();
    const d = webDeployment('roll');
    d.spec.replicas = 2;
    d.spec.strategy = { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' } };
    store.create(d);
    await waitFor(() => complete(store, 'roll'), 'first rollout');

    const availability: Array<string | undefined> = [];
    const unsub = store.subscribe(DEPLOY.group, DEPLOY.resource, (ev) =>
      availability.push(condition(ev.object, 'Available')?.status),
    );
    const cur = store.get({ ...DEPLOY, namespace: NS, name: 'roll' }) as SimObject;
    cur.spec.template.metadata.annotations = { rev: '2' };
    store.update(cur);
    const done = await waitFor(
      () =>
        complete(store, 'roll', 2) &&
        podsOf(store, 'roll').length === 2 &&
        store.get({ ...DEPLOY, namespace: NS, name: 'roll' }),
      'second rollout',
    );
    unsub();

    expect(availability).not.toContain('False');
    expect(done.metadata.annotations?.['deployment.kubernetes.io/revision']).toBe('2');
    const rss = replicaSets(store, 'roll');
    expect(rss.map((r) => r.spec.replicas).sort()).toEqual([0, 2]);
    const newRs = rss.find((r) => r.spec.replicas === 2) as SimObject;
    // maxSurge 25% of 2 rounds up to 1: max-replicas is 3.
    expect(newRs.metadata.annotations).toMatchObject({
      'deployment.kubernetes.io/desired-replicas': '2',
      'deployment.kubernetes.io/max-replicas': '3',
      'deployment.kubernetes.io/revision': '2',
    });
  });

  it('deletes in the foreground: observedGeneration follows the bump (fixtures 033-035), then everything goes', async () => {
    const store = start();
    await rollOut(store);
    const observed: SimObject[] = [];
    const unsub = store.subscribe(DEPLOY.group, DEPLOY.resource, (ev) => observed.push(ev.object));
    const deleting = store.delete({ ...DEPLOY, namespace: NS, name: 'web' }, 'Foreground') as SimObject;
    expect(deleting.metadata.finalizers).toEqual(['foregroundDeletion']);
    expect(deleting.metadata.generation).toBe(2);
    expect(deleting.status.observedGeneration).toBe(1);

    // Fixture 034: while the dependents go, the controller catches up with the generation the delete bumped.
    await waitFor(
      () => observed.some((d) => d.metadata.deletionTimestamp && d.status?.observedGeneration === 2),
      'observedGeneration 2 while deleting',
    );
    await waitFor(
      () =>
        !store.get({ ...DEPLOY, namespace: NS, name: 'web' }) &&
        replicaSets(store, 'web').length === 0 &&
        podsOf(store, 'web').length === 0,
      'foreground cascade',
    );
    unsub();
  });

  it('deletes in the background: the Deployment goes at once, its ReplicaSet and Pods after (fixtures 037-040)', async () => {
    const store = start();
    await rollOut(store);
    const gone = store.delete({ ...DEPLOY, namespace: NS, name: 'web' }, 'Background');
    expect(gone).toBeUndefined();
    expect(store.get({ ...DEPLOY, namespace: NS, name: 'web' })).toBeUndefined();
    await waitFor(
      () => replicaSets(store, 'web').length === 0 && podsOf(store, 'web').length === 0,
      'background cascade',
    );
    expect(
      store.list(PODS.group, PODS.resource, { namespace: NS, labelSelector: 'app in (web,web-bg)' }),
    ).toEqual([]);
  });

  // Only store.ts has a namespace controller: deleting a namespace must not make the controllers report errors.
  it.skipIf(storeName !== 'store.ts')('tears down quietly when the namespace is deleted', async () => {
    const store = start();
    await rollOut(store);
    store.delete({ group: '', resource: 'namespaces', name: NS });
    await waitFor(() => !store.get({ group: '', resource: 'namespaces', name: NS }), 'namespace gone');
    expect(store.list(PODS.group, PODS.resource, { namespace: NS })).toEqual([]);
  });
});
