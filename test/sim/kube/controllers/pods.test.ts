import { describe, expect, it } from 'vitest';
import type { PodBackend, PodBehaviour, SimObject, Store } from '../types.js';
import { type ControllerOptions, defaultPodBehaviour } from './index.js';
import {
  condition,
  controllerHarness,
  DEPLOY,
  EVENTS,
  eventsFor,
  failingDeployment,
  fixture,
  meta,
  NS,
  normalize,
  PODS,
  podsOf,
  STORES,
  sleep,
  waitFor,
  webDeployment,
} from './test-helpers.js';

const DIND = 'localhost/realkube/dind:bookworm';
const MISSING = 'localhost/realkube/does-not-exist:v1';
/** Names that differ from the recording by design: the node and the scheduler's instance. */
const HOSTS: Array<[string, string]> = [
  ['default-scheduler-vm', 'default-scheduler-sim-node'],
  ['realkube-node', 'sim-node'],
];

function containerStatus(pod: SimObject | undefined): Record<string, unknown> | undefined {
  return (pod?.status?.containerStatuses as Array<Record<string, unknown>> | undefined)?.[0];
}

function waitingMessage(pod: SimObject | undefined): string | undefined {
  return (containerStatus(pod)?.state as { waiting?: { message?: string } } | undefined)?.waiting?.message;
}

function lastTerminated(pod: SimObject | undefined): Record<string, unknown> | undefined {
  return (containerStatus(pod)?.lastState as { terminated?: Record<string, unknown> } | undefined)
    ?.terminated;
}

function waitingReason(pod: SimObject | undefined): string | undefined {
  return (containerStatus(pod)?.state as { waiting?: { reason?: string } } | undefined)?.waiting?.reason;
}

/** An Event without what varies: count, timestamps, name suffix, uids, resourceVersions. */
function eventShape(e: SimObject, names: Array<[string, string]>): unknown {
  const { count: _count, kind: _kind, apiVersion: _apiVersion, ...rest } = structuredClone(e);
  rest.metadata.name = rest.metadata.name.replace(/\.(<event-id>|[0-9a-f]{16})$/, '.<event-id>');
  return normalize(rest, [...HOSTS, ...names]);
}

describe.each(STORES)('scheduler and kubelet on %s', (_name, makeStore) => {
  const controllers = controllerHarness(makeStore);

  function start(
    tweak: (b: PodBehaviour) => void = () => {},
    backend?: PodBackend,
    opts: ControllerOptions = {},
  ): { store: Store; behaviour: PodBehaviour } {
    const behaviour = defaultPodBehaviour();
    tweak(behaviour);
    return { store: controllers.start(behaviour, backend, { backoffScale: 0.01, ...opts }), behaviour };
  }

  it('reports a missing image with pull policy Never as fixtures 084 and 090 do', async () => {
    const { store } = start((b) => b.missingImages.add(MISSING));
    store.create(failingDeployment('081-fail-img-missing-ssa-create.json'));
    const pod = await waitFor(
      () => podsOf(store, 'img-missing').find((p) => waitingReason(p) === 'ErrImageNeverPull'),
      'ErrImageNeverPull',
    );

    const fxPod = fixture('084-fail-img-missing-pod-get.json').response.body;
    const names: Array<[string, string]> = [
      [fxPod.metadata.name, '<pod>'],
      [pod.metadata.name, '<pod>'],
    ];
    expect(normalize(pod.status, names)).toEqual(normalize(fxPod.status, names));

    const events = await waitFor(() => {
      const evs = eventsFor(store, pod.metadata.name);
      return evs.length >= 3 && evs;
    }, 'events');
    const fxEvents = fixture('090-fail-img-missing-pod-events.json').response.body.items as SimObject[];
    expect(events.map((e) => e.reason)).toEqual(fxEvents.map((e) => e.reason));
    expect(events.map((e) => eventShape(e, names))).toEqual(fxEvents.map((e) => eventShape(e, names)));
    // The kubelet keeps retrying: the same events are counted, not repeated.
    await waitFor(
      () =>
        (eventsFor(store, pod.metadata.name).find((e) => e.reason === 'ErrImageNeverPull')?.count ?? 0) >= 2,
      'count grows',
    );
  });

  /** Fixture 081's Deployment with another image, pulled only when missing. */
  function pulledIfNotPresent(image: string): SimObject {
    const d = failingDeployment('081-fail-img-missing-ssa-create.json');
    d.spec.template.spec.containers[0].image = image;
    d.spec.template.spec.containers[0].imagePullPolicy = 'IfNotPresent';
    return d;
  }

  it('fails the pull of an image whose registry does not resolve by itself, with the message of fixtures 074-075', async () => {
    // Nothing told the simulator: a real node cannot resolve a name under .invalid either.
    const image = 'registry.invalid.example/team/app:1.0';
    const { store } = start();
    store.create(pulledIfNotPresent(image));
    const later = await waitFor(
      () => podsOf(store, 'img-missing').find((p) => waitingReason(p) === 'ImagePullBackOff'),
      'ImagePullBackOff',
    );
    const fxPod = fixture('../kube-real-2/074-fail-img-pull-pod-get.json').response.body;
    expect(waitingMessage(later)).toBe(fxPod.status.containerStatuses[0].state.waiting.message);
  });

  it('reports a missing image with pull policy IfNotPresent as ErrImagePull, then ImagePullBackOff', async () => {
    const image = 'ghcr.io/example/nope:v1';
    const { store } = start((b) => b.missingImages.add(image));
    store.create(pulledIfNotPresent(image));
    const first = await waitFor(
      () => podsOf(store, 'img-missing').find((p) => waitingReason(p) === 'ErrImagePull'),
      'ErrImagePull',
    );
    expect(waitingMessage(first)).toContain('failed to pull and unpack image "ghcr.io/example/nope:v1"');
    const later = await waitFor(
      () => podsOf(store, 'img-missing').find((p) => waitingReason(p) === 'ImagePullBackOff'),
      'ImagePullBackOff',
    );
    expect(waitingMessage(later)).toMatch(
      /^Back-off pulling image "ghcr\.io\/example\/nope:v1": ErrImagePull: /,
    );
    expect(later.status.phase).toBe('Pending');
    const events = eventsFor(store, later.metadata.name).map((e) => [
      e.type,
      e.reason,
      e.message.split(':')[0],
    ]);
    expect(events).toEqual(
      expect.arrayContaining([
        ['Normal', 'Scheduled', `Successfully assigned fixtures/${later.metadata.name} to sim-node`],
        ['Normal', 'Pulling', 'Pulling image "ghcr.io/example/nope'],
        ['Warning', 'Failed', 'Failed to pull image "ghcr.io/example/nope'],
        ['Warning', 'Failed', 'Error'],
        ['Normal', 'BackOff', 'Back-off pulling image "ghcr.io/example/nope'],
      ]),
    );
  });

  it('crash-loops with back-off 10s then 20s and the events of fixtures 085, 091, 093, 094', async () => {
    const { store } = start((b) => b.crashingImages.add(DIND));
    store.create(failingDeployment('082-fail-crash-ssa-create.json'));
    const isCrash = (n: number) => (p: SimObject) =>
      waitingReason(p) === 'CrashLoopBackOff' && containerStatus(p)?.restartCount === n;
    const first = await waitFor(() => podsOf(store, 'crash').find(isCrash(1)), 'CrashLoopBackOff 1');
    const fx1 = fixture('085-fail-crash-pod-get.json').response.body;
    const names: Array<[string, string]> = [
      [fx1.metadata.name, '<pod>'],
      [first.metadata.name, '<pod>'],
    ];
    expect(normalize(first.status, names)).toEqual(normalize(fx1.status, names));

    const second = await waitFor(() => podsOf(store, 'crash').find(isCrash(2)), 'CrashLoopBackOff 2');
    expect(normalize(second.status, names)).toEqual(
      normalize(fixture('093-fail-crash-pod-get-later.json').response.body.status, names),
    );

    const events = eventsFor(store, second.metadata.name);
    const fxEvents = fixture('094-fail-crash-pod-events-later.json').response.body.items as SimObject[];
    expect(events.map((e) => e.reason)).toEqual(fxEvents.map((e) => e.reason));
    expect(events.map((e) => eventShape(e, names))).toEqual(fxEvents.map((e) => eventShape(e, names)));
    const count = (r: string) => events.find((e) => e.reason === r)?.count;
    expect(count('Started')).toBe(3);
    expect(count('BackOff')).toBe(2);
  });

  it('leaves a pod that asks for too much cpu Unschedulable as fixtures 086 and 092 show', async () => {
    const { store } = start();
    store.create(failingDeployment('083-fail-unschedulable-ssa-create.json'));
    const pod = await waitFor(
      () => podsOf(store, 'unschedulable').find((p) => condition(p, 'PodScheduled')?.status === 'False'),
      'Unschedulable',
    );
    const fxPod = fixture('086-fail-unschedulable-pod-get.json').response.body;
    expect(normalize(pod.status)).toEqual(normalize(fxPod.status));
    expect(pod.spec.nodeName).toBeUndefined();

    const events = await waitFor(
      () => eventsFor(store, pod.metadata.name).length > 0 && eventsFor(store, pod.metadata.name),
      'event',
    );
    const names: Array<[string, string]> = [
      [fxPod.metadata.name, '<pod>'],
      [pod.metadata.name, '<pod>'],
    ];
    const fxEvent = (
      fixture('092-fail-unschedulable-pod-events.json').response.body.items as SimObject[]
    )[0] as SimObject;
    expect(eventShape(events[0] as SimObject, names)).toEqual(eventShape(fxEvent, names));
  });

  it('does not schedule a pod whose nodeSelector the node does not match', async () => {
    const { store } = start();
    const d = webDeployment('picky');
    d.spec.template.spec.nodeSelector = { 'kubernetes.io/os': 'windows' };
    store.create(d);
    const pod = await waitFor(
      () => podsOf(store, 'picky').find((p) => condition(p, 'PodScheduled')?.status === 'False'),
      'picky',
    );
    expect((condition(pod, 'PodScheduled') as { message?: string }).message).toBe(
      "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.",
    );
  });

  it('retries an unschedulable pod when a pod goes away and frees the node', async () => {
    const { store } = start((b) => {
      b.nodeCpuMillis = 1000;
    });
    const big = webDeployment('big');
    big.spec.template.spec.containers[0].resources = { requests: { cpu: '800m' } };
    store.create(big);
    await waitFor(() => podsOf(store, 'big').find((p) => p.status?.phase === 'Running'), 'big runs');
    const small = webDeployment('small');
    small.spec.template.spec.containers[0].resources = { requests: { cpu: '0.5', memory: '64Mi' } };
    store.create(small);
    await waitFor(
      () => podsOf(store, 'small').find((p) => condition(p, 'PodScheduled')?.status === 'False'),
      'small waits',
    );

    store.delete({ ...DEPLOY, namespace: NS, name: 'big' }, 'Background');
    const running = await waitFor(
      () => podsOf(store, 'small').find((p) => p.status?.phase === 'Running'),
      'small runs',
    );
    expect(condition(running, 'PodScheduled')?.status).toBe('True');
  });

  it('times out progressing after progressDeadlineSeconds as fixtures 087-089 show', async () => {
    const { store } = start((b) => {
      b.missingImages.add(MISSING);
      b.crashingImages.add(DIND);
    });
    const cases: Array<[string, string, string]> = [
      [
        '081-fail-img-missing-ssa-create.json',
        '087-fail-img-missing-deploy-progress-deadline.json',
        'img-missing-f67cd66b9',
      ],
      ['082-fail-crash-ssa-create.json', '088-fail-crash-deploy-progress-deadline.json', 'crash-5b55f7b'],
      [
        '083-fail-unschedulable-ssa-create.json',
        '089-fail-unschedulable-deploy-progress-deadline.json',
        'unschedulable-56c7f8cd57',
      ],
    ];
    for (const [create] of cases) store.create(failingDeployment(create, 1));
    for (const [create, expected, fxRs] of cases) {
      const name = fixture(create).response.body.metadata.name;
      const d = await waitFor(
        () => {
          const x = store.get({ ...DEPLOY, namespace: NS, name });
          return condition(x, 'Progressing')?.reason === 'ProgressDeadlineExceeded' && x;
        },
        `${name} deadline`,
        4000,
      );
      const rs = store.list('apps', 'replicasets', { namespace: NS, labelSelector: `app=${name}` })[0];
      const names: Array<[string, string]> = [
        [fxRs, '<rs>'],
        [rs?.metadata.name as string, '<rs>'],
      ];
      expect(normalize(d.status, names)).toEqual(normalize(fixture(expected).response.body.status, names));
    }
  });

  it('starts a PodBackend before Running, turns a rejection into a crash, and stops it on deletion', async () => {
    const calls: string[] = [];
    const backend: PodBackend = {
      async start(pod) {
        calls.push(
          `start ${pod.metadata.labels?.app} ip=${pod.status?.podIP !== undefined} phase=${pod.status?.phase}`,
        );
        await sleep(20);
        if (pod.metadata.labels?.app === 'bad') throw new Error('dockerd: cannot create container');
      },
      async stop(pod) {
        calls.push(`stop ${pod.metadata.labels?.app}`);
      },
    };
    const { store } = start(() => {}, backend);
    store.create(webDeployment('good'));
    store.create(webDeployment('bad'));
    const good = await waitFor(
      () => podsOf(store, 'good').find((p) => condition(p, 'Ready')?.status === 'True'),
      'good ready',
    );
    expect(good.status.phase).toBe('Running');
    expect(calls).toContain('start good ip=true phase=Pending');

    const bad = await waitFor(
      () => podsOf(store, 'bad').find((p) => waitingReason(p) === 'CrashLoopBackOff'),
      'bad crashes',
    );
    const last = lastTerminated(bad);
    expect(last).toMatchObject({ exitCode: 1, reason: 'Error', message: 'dockerd: cannot create container' });

    store.delete({ ...DEPLOY, namespace: NS, name: 'good' }, 'Foreground');
    await waitFor(() => podsOf(store, 'good').length === 0, 'good pods gone');
    expect(calls).toContain('stop good');
    const killing = store
      .list(EVENTS.group, EVENTS.resource, { namespace: NS })
      .find((e) => e.reason === 'Killing');
    expect(killing?.message).toBe('Stopping container docker');

    // stop() of the controllers stops what is still running, and waits for it.
    await controllers.stop();
    expect(calls).toContain('stop bad');
  });

  it('computes qosClass Guaranteed, Burstable and BestEffort', async () => {
    const { store } = start();
    const pod = (name: string, resources: unknown): SimObject => ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: meta({ name, namespace: NS }),
      spec: { containers: [{ name: 'c', image: DIND, imagePullPolicy: 'Never', resources }] },
    });
    store.create(
      pod('g', { requests: { cpu: '100m', memory: '64Mi' }, limits: { cpu: '100m', memory: '64Mi' } }),
    );
    store.create(pod('b', { requests: { memory: '64Mi' } }));
    store.create(pod('e', {}));
    const qos = (name: string) => store.get({ ...PODS, namespace: NS, name })?.status?.qosClass;
    await waitFor(
      () =>
        ['g', 'b', 'e'].every(
          (n) => store.get({ ...PODS, namespace: NS, name: n })?.status?.phase === 'Running',
        ),
      'running',
    );
    expect([qos('g'), qos('b'), qos('e')]).toEqual(['Guaranteed', 'Burstable', 'BestEffort']);
    // A bare pod is deleted gracefully too, and the kubelet finishes it.
    store.delete({ ...PODS, namespace: NS, name: 'g' });
    await waitFor(() => !store.get({ ...PODS, namespace: NS, name: 'g' }), 'bare pod gone');
  });

  it('keeps the Endpoints of a Service on the ready pod IPs', async () => {
    const { store } = start((b) => {
      b.readyDelayMs = 150;
    });
    store.create({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: meta({ name: 'web', namespace: NS, labels: { app: 'web' } }),
      spec: {
        selector: { app: 'web' },
        ports: [{ name: 'docker', port: 2375, targetPort: 2375, protocol: 'TCP' }],
      },
    });
    store.create(webDeployment());
    const getEp = () => store.get({ group: '', resource: 'endpoints', namespace: NS, name: 'web' });
    const notReady = await waitFor(
      () => getEp()?.subsets?.[0]?.notReadyAddresses && getEp(),
      'not-ready address',
    );
    expect(notReady.subsets[0].addresses).toBeUndefined();
    const ep = await waitFor(() => getEp()?.subsets?.[0]?.addresses && getEp(), 'ready address');
    const [pod] = podsOf(store, 'web');
    expect(ep.subsets).toEqual([
      {
        addresses: [
          {
            ip: pod?.status.podIP,
            nodeName: 'sim-node',
            targetRef: { kind: 'Pod', namespace: NS, name: pod?.metadata.name, uid: pod?.metadata.uid },
          },
        ],
        ports: [{ name: 'docker', port: 2375, protocol: 'TCP' }],
      },
    ]);
    expect(pod?.status.podIP).toMatch(/^10\.244\.0\.\d+$/);
    store.delete({ group: '', resource: 'services', namespace: NS, name: 'web' });
    await waitFor(() => !getEp(), 'endpoints deleted with the service');
  });

  it('stops cleanly: no timers and no writes after stop(), even with pods crash-looping', async () => {
    const timersBefore = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const { store } = start((b) => b.crashingImages.add(DIND));
    store.create(failingDeployment('082-fail-crash-ssa-create.json'));
    await waitFor(
      () => podsOf(store, 'crash').find((p) => waitingReason(p) === 'CrashLoopBackOff'),
      'crash loop',
    );
    await controllers.stop();
    // The kubelet's back-off timers are gone (store.ts's own GC uses immediates, not timers).
    expect(process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length).toBeLessThanOrEqual(
      timersBefore,
    );
    const rv = store.resourceVersion();
    await sleep(300);
    expect(store.resourceVersion()).toBe(rv);
    expect(store.get({ ...DEPLOY, namespace: NS, name: 'crash' })).toBeDefined();
  });
});
