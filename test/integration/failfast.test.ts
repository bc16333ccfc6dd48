import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyObjects } from '../../src/environment/apply.js';
import { type WaitOptions, waitForRollout } from '../../src/environment/wait.js';
import { ActionError, errorMessage, ReadinessError } from '../../src/errors.js';
import { connect, type KubeClient } from '../../src/kube/client.js';
import type { KubeObject } from '../../src/kube/types.js';
import { type KubeSim, type SimObject, startKubeSim } from '../sim/kube/index.js';
import { applyExampleRole } from './harness.js';

const NS = 'failfast';
const PSA_NS = 'failfast-baseline';
const FM = 'preevy-kube-action';
const TEN_MINUTES = 10 * 60_000;
/** Short, so that the states a retry might fix fail within the test; the real default is 45 s. */
const GRACE_MS = 300;
const CRASH_IMAGE = 'registry.example/dind:crashes';
const CRASH_LOG = 'starting\nfailed to start daemon: error initializing graphdriver: driver not supported\n';

type Container = Record<string, unknown>;

function dockerHost(name: string, namespace: string, container: Container): KubeObject {
  const labels = { 'preevy.dev/instance': name, 'app.kubernetes.io/component': 'docker-host' };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace, labels },
    spec: {
      replicas: 1,
      selector: { matchLabels: { 'preevy.dev/instance': name } },
      template: {
        metadata: { labels },
        spec: {
          containers: [
            {
              name: 'docker',
              image: 'docker:27.5.1-dind',
              securityContext: { privileged: true },
              terminationMessagePolicy: 'FallbackToLogsOnError',
              ...container,
            },
          ],
        },
      },
    },
  };
}

describe('the wait fails fast, naming the reason', () => {
  let sim: KubeSim;
  let admin: KubeClient;

  beforeAll(async () => {
    sim = await startKubeSim({ namespaces: [NS], controllers: { backoffScale: 0.01 } });
    sim.pods.startDelayMs = 20;
    sim.pods.readyDelayMs = 30;
    sim.pods.crashingImages.add(CRASH_IMAGE);
    sim.pods.containerLogs.set(CRASH_IMAGE, CRASH_LOG);
    // Fixture 099: a namespace whose Pod Security level refuses privileged pods.
    sim.store.create({
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: PSA_NS, labels: { 'pod-security.kubernetes.io/enforce': 'baseline' } },
    } as unknown as SimObject);
    admin = await connect({ kubeconfig: sim.kubeconfig({ namespace: NS }), namespace: NS });
  });
  afterAll(async () => {
    await admin?.close();
    await sim?.close();
  });

  const apply = (client: KubeClient, objects: KubeObject[]) =>
    applyObjects(client, objects, { serverSide: true, fieldManager: FM });

  /** The wait under test on Deployment `name` (of NS unless `more` says), polling fast. */
  const rollout = (
    client: KubeClient,
    name: string,
    failureGraceMs: number,
    more: Partial<WaitOptions> = {},
  ) =>
    waitForRollout(client, {
      namespace: NS,
      name,
      timeoutMs: TEN_MINUTES,
      pollMs: 50,
      failureGraceMs,
      ...more,
    });

  async function failure(
    client: KubeClient,
    name: string,
    container: Container,
    namespace = NS,
  ): Promise<ReadinessError> {
    await apply(client, [dockerHost(name, namespace, container)]);
    const err = await rollout(client, name, GRACE_MS, { namespace }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ReadinessError);
    if (process.env.SHOW_MESSAGES) console.log(errorMessage(err));
    return err as ReadinessError;
  }

  /** Polls the store (not the code under test) until a pod of `name` satisfies `ok`. */
  async function podOf(name: string, ok: (pod: SimObject) => boolean): Promise<SimObject> {
    for (;;) {
      const pod = sim.store
        .list('', 'pods', { namespace: NS, labelSelector: `preevy.dev/instance=${name}` })
        .find(ok);
      if (pod) return pod;
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** A pod one of whose containers waits for one of `reasons`. */
  const waitingFor =
    (...reasons: string[]) =>
    (pod: SimObject): boolean =>
      (pod.status?.containerStatuses ?? []).some((c: { state?: { waiting?: { reason?: string } } }) =>
        reasons.includes(c.state?.waiting?.reason ?? ''),
      );
  const available = (deployment: KubeObject) =>
    (deployment.status as { availableReplicas?: number }).availableReplicas;

  it('an image absent with pull policy Never (ErrImageNeverPull)', async () => {
    sim.pods.missingImages.add('localhost/not-imported:1.0');
    const err = await failure(admin, 'img-never', {
      image: 'localhost/not-imported:1.0',
      imagePullPolicy: 'Never',
    });
    expect(err.message).toMatch(/Pod img-never-[a-z0-9]+-[a-z0-9]+, container docker: ErrImageNeverPull/);
    expect(err.message).toContain(
      'Container image "localhost/not-imported:1.0" is not present with pull policy of Never',
    );
    expect(err.message).not.toMatch(/did not become ready within/);
    expect(err.hint).toMatch(/imagePullPolicy is Never/);
  });

  it('an image that cannot be pulled (ImagePullBackOff past the grace)', async () => {
    sim.pods.missingImages.add('registry.invalid.example/team/dind:1.0');
    const err = await failure(admin, 'img-pull', { image: 'registry.invalid.example/team/dind:1.0' });
    expect(err.message).toMatch(/container docker: (ErrImagePull|ImagePullBackOff) \(for over 300ms\)/);
    expect(err.message).toContain('failed to resolve reference "registry.invalid.example/team/dind:1.0"');
    expect(err.hint).toMatch(/cannot be pulled/);
  });

  it('a progress deadline that passes first: the error still names the pod, container and reason', async () => {
    sim.pods.missingImages.add('registry.invalid.example/team/dind:2.0');
    const host = dockerHost('deadline', NS, { image: 'registry.invalid.example/team/dind:2.0' });
    (host.spec as Record<string, unknown>).progressDeadlineSeconds = 1;
    await apply(admin, [host]);
    const err = await rollout(admin, 'deadline', TEN_MINUTES).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ReadinessError);
    const text = errorMessage(err);
    expect(text).toMatch(
      /^Deployment deadline exceeded its progress deadline \(ProgressDeadlineExceeded\): ReplicaSet "deadline-[a-z0-9]+" has timed out progressing\. Pod deadline-[a-z0-9]+-[a-z0-9]+, container docker: (ErrImagePull|ImagePullBackOff): /,
    );
  });

  it('a crash loop: the reason, the exit code and the last log lines', async () => {
    const err = await failure(admin, 'crash', { image: CRASH_IMAGE });
    expect(err.message).toMatch(/container docker: (CrashLoopBackOff|restarted \d+ times, last Error)/);
    expect(err.message).toMatch(/exit code 1, restarted \d+ times/);
    expect(err.message).toContain('Last 2 log lines:\n    starting\n    failed to start daemon');
    expect(err.logs).toBe(CRASH_LOG.trimEnd());
    expect(err.hint).toMatch(/keeps exiting/);
  });

  it('a crash loop whose log lines are JSON: shown as text', async () => {
    const image = 'registry.example/dind:json-logs';
    const json = '{"level":"info","msg":"starting"}\n{"level":"fatal","msg":"no space left on device"}\n';
    sim.pods.crashingImages.add(image);
    sim.pods.containerLogs.set(image, json);
    const err = await failure(admin, 'crash-json', { image });
    expect(err.message).toContain(
      'Last 2 log lines:\n    {"level":"info","msg":"starting"}\n    {"level":"fatal"',
    );
    expect(err.message).not.toMatch(/could not be read/);
  });

  it('a crash loop as the documented Role: the log lines are readable (pods/log)', async () => {
    applyExampleRole(sim, NS);
    sim.addToken('role-token', `system:serviceaccount:${NS}:preevy-kube-action`);
    const sa = await connect({
      kubeconfig: sim.kubeconfig({ token: 'role-token', namespace: NS }),
      namespace: NS,
    });
    try {
      const err = await failure(sa, 'crash-role', { image: CRASH_IMAGE });
      expect(err.message).toContain('failed to start daemon: error initializing graphdriver');
      expect(err.message).toContain('Last 2 log lines');
    } finally {
      await sa.close();
    }
  });

  it('a crash loop without pods/log: the reason and the termination message, and what to grant', async () => {
    // The Role of before: everything to read pods, not their logs (fixture 082 answers 403).
    sim.addToken('nolog-token', `system:serviceaccount:${NS}:nolog`, [
      { verbs: ['get', 'list', 'watch', 'create', 'patch'], apiGroups: ['apps'], resources: ['deployments'] },
      { verbs: ['get', 'list', 'watch'], apiGroups: ['apps'], resources: ['replicasets'] },
      { verbs: ['get', 'list', 'watch'], apiGroups: [''], resources: ['pods', 'events'] },
    ]);
    const sa = await connect({
      kubeconfig: sim.kubeconfig({ token: 'nolog-token', namespace: NS }),
      namespace: NS,
    });
    try {
      const err = await failure(sa, 'crash-nolog', { image: CRASH_IMAGE });
      expect(err.message).toMatch(/container docker: (CrashLoopBackOff|restarted \d+ times)/);
      expect(err.message).toContain('403 on pods/log');
      expect(err.message).toMatch(/grant `get` on `pods\/log`/);
      // FallbackToLogsOnError put the log's tail in the termination message (fixture 077).
      expect(err.message).toContain('Termination message:\n    starting\n    failed to start daemon');
      expect(err.logs).toBe(CRASH_LOG.trimEnd());
    } finally {
      await sa.close();
    }
  });

  it('a missing ConfigMap (CreateContainerConfigError past the grace)', async () => {
    const err = await failure(admin, 'config-error', {
      env: [{ name: 'X', valueFrom: { configMapKeyRef: { name: 'no-such-configmap', key: 'x' } } }],
    });
    expect(err.message).toMatch(/container docker: CreateContainerConfigError \(for over 300ms\)/);
    expect(err.message).toContain('configmap "no-such-configmap" not found');
    expect(err.hint).toMatch(/ConfigMap or Secret/);
  });

  it('a ConfigMap applied within the grace: the wait goes on and succeeds', async () => {
    const host = dockerHost('config-late', NS, {
      env: [{ name: 'X', valueFrom: { configMapKeyRef: { name: 'late', key: 'x' } } }],
    });
    await apply(admin, [host]);
    await podOf('config-late', waitingFor('CreateContainerConfigError'));
    await apply(admin, [
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'late', namespace: NS }, data: { x: '1' } },
    ]);
    expect(available(await rollout(admin, 'config-late', 60_000))).toBe(1);
  });

  it('a missing ConfigMap key names the key', async () => {
    sim.store.create({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'present', namespace: NS },
      data: { other: '1' },
    } as unknown as SimObject);
    const err = await failure(admin, 'config-key', {
      env: [{ name: 'X', valueFrom: { configMapKeyRef: { name: 'present', key: 'absent-key' } } }],
    });
    expect(err.message).toContain(`couldn't find key absent-key in ConfigMap ${NS}/present`);
  });

  it('an unschedulable pod with no scale-up in sight', async () => {
    const err = await failure(admin, 'unschedulable', { resources: { requests: { cpu: '1000' } } });
    expect(err.message).toMatch(/Pod unschedulable-[a-z0-9]+-[a-z0-9]+: Unschedulable \(for over 300ms\)/);
    expect(err.message).toContain('0/1 nodes are available: 1 Insufficient cpu.');
    expect(err.hint).toMatch(/No node can run the pod/);
  });

  it('a Pod Security refusal names the namespace label to set', async () => {
    const client = await connect({ kubeconfig: sim.kubeconfig({ namespace: PSA_NS }), namespace: PSA_NS });
    const err = await failure(client, 'psa', {}, PSA_NS).finally(() => client.close());
    expect(err.message).toContain('violates PodSecurity "baseline:latest"');
    expect(err.message).toContain(
      'privileged (container "docker" must not set securityContext.privileged=true)',
    );
    expect(err.message).toContain(
      `namespace ${PSA_NS} needs the label pod-security.kubernetes.io/enforce=privileged`,
    );
    expect(err.hint).toContain(
      `kubectl label namespace ${PSA_NS} pod-security.kubernetes.io/enforce=privileged --overwrite`,
    );
    expect(err.hint).toMatch(/rootless-sysbox/);
    expect(err).toBeInstanceOf(ActionError);
  });

  it('an image pull that recovers within the grace does not fail the wait', async () => {
    const image = 'registry.example/dind:late';
    sim.pods.missingImages.add(image);
    await apply(admin, [dockerHost('img-late', NS, { image })]);
    await podOf('img-late', waitingFor('ErrImagePull', 'ImagePullBackOff'));
    sim.pods.missingImages.delete(image);
    expect(available(await rollout(admin, 'img-late', 60_000))).toBe(1);
  });

  it('an unschedulable pod waits while the cluster autoscaler adds a node (TriggeredScaleUp)', async () => {
    await apply(admin, [dockerHost('scale-up', NS, { resources: { requests: { cpu: '8' } } })]);
    const pod = await podOf('scale-up', (p) =>
      (p.status?.conditions ?? []).some((c: { reason?: string }) => c.reason === 'Unschedulable'),
    );
    const now = new Date().toISOString();
    sim.store.create({
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name: `${pod.metadata.name}.scaleup`, namespace: NS },
      involvedObject: { kind: 'Pod', namespace: NS, name: pod.metadata.name, uid: pod.metadata.uid },
      reason: 'TriggeredScaleUp',
      message: 'pod triggered scale-up: [{pool-large 1->2 (max: 3)}]',
      source: { component: 'cluster-autoscaler' },
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1,
      type: 'Normal',
    } as unknown as SimObject);
    const lines: string[] = [];
    const log = {
      info: (m: string) => {
        lines.push(m);
        // The new node comes once the wait has decided to wait for it (the simulator has one node: it grows,
        // and stays grown for the tests after this one); the scheduler's periodic retry then binds the pod.
        if (m.includes('waits for a new node')) sim.pods.nodeCpuMillis = 16_000;
      },
      warning: () => {},
      debug: () => {},
    };
    expect(available(await rollout(admin, 'scale-up', GRACE_MS, { log }))).toBe(1);
    expect(lines).toContain(
      `Pod ${pod.metadata.name} waits for a new node: pod triggered scale-up: [{pool-large 1->2 (max: 3)}]`,
    );
  });

  it("an old pod's crash loop does not fail the rollout that replaces it", async () => {
    await apply(admin, [dockerHost('fixed', NS, { image: CRASH_IMAGE })]);
    await podOf('fixed', (p) =>
      (p.status?.containerStatuses ?? []).some(
        (c: { restartCount?: number; state?: { waiting?: { reason?: string } } }) =>
          (c.restartCount ?? 0) >= 2 && c.state?.waiting?.reason === 'CrashLoopBackOff',
      ),
    );
    // The fix: a RollingUpdate keeps the crash-looping pod until the new one is available, which takes a
    // while here (the new pod starts late), so the wait sees the old pod's crash loop for a few checks.
    sim.pods.startDelayMs = 2500;
    try {
      await apply(admin, [dockerHost('fixed', NS, {})]);
      const ready = await rollout(admin, 'fixed', GRACE_MS);
      expect((ready.status as { updatedReplicas?: number }).updatedReplicas).toBe(1);
    } finally {
      sim.pods.startDelayMs = 20;
    }
  });
});
