/**
 * src/kube against the Kubernetes API simulator: connect, apply (server-side and client-side), wait,
 * diagnose, find, delete. No mocks of our own modules.
 */
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { parse, stringify } from 'yaml';
import { ApplyError, applyObjects } from '../../src/environment/apply.js';
import { deleteEnvironment } from '../../src/environment/delete.js';
import { findEnvironment, listDockerHosts } from '../../src/environment/find.js';
import { waitForRollout } from '../../src/environment/wait.js';
import { errorMessage, IdentityError, InputError, KubeApiError, ReadinessError } from '../../src/errors.js';
import { connect, type KubeClient } from '../../src/kube/client.js';
import type { KubeObject } from '../../src/kube/types.js';
import { type KubeSim, startKubeSim } from '../sim/kube/index.js';
import { captureLog } from './harness.js';

const NS = 'kube-module';
const FM = 'preevy-kube-action';

function labels(envId: string, id: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    'preevy.dev/env-id': envId,
    'preevy.dev/instance': id,
    'app.kubernetes.io/managed-by': 'preevy-kube-action',
    'app.kubernetes.io/instance': id,
    ...extra,
  };
}

function envObjects(envId: string, id: string, image = 'docker:27.5.1-dind'): KubeObject[] {
  const l = labels(envId, id);
  return [
    {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: `${id}-cfg`, namespace: NS, labels: l },
      data: { a: '1' },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: `${id}-svc`, namespace: NS, labels: l },
      spec: { selector: { 'preevy.dev/instance': id }, ports: [{ port: 2375, targetPort: 2375 }] },
    },
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: {
        name: `${id}-dind`,
        namespace: NS,
        labels: { ...l, 'app.kubernetes.io/component': 'docker-host' },
        annotations: {
          'preevy.dev/created-at': '2026-01-01T00:00:00.000Z',
          'preevy.dev/all-types': 'apps/v1/Deployment,v1/ConfigMap,v1/Service',
        },
      },
      spec: {
        replicas: 1,
        selector: { matchLabels: { 'preevy.dev/instance': id } },
        template: {
          metadata: { labels: { ...l, 'app.kubernetes.io/component': 'docker-host' } },
          spec: { containers: [{ name: 'docker', image, securityContext: { privileged: true } }] },
        },
      },
    },
  ];
}

describe('src/kube against the simulator', () => {
  let sim: KubeSim;
  let client: KubeClient;
  beforeAll(async () => {
    sim = await startKubeSim({ namespaces: [NS] });
    sim.pods.startDelayMs = 20;
    sim.pods.readyDelayMs = 30;
    client = await connect({
      kubeconfig: sim.kubeconfig({ namespace: NS }),
      namespace: NS,
      log: captureLog(),
    });
  });
  afterAll(async () => {
    await client?.close();
    await sim?.close();
  });

  it('connect: bad context, bad token, missing namespace', async () => {
    const err = await connect({ kubeconfig: sim.kubeconfig(), context: 'prod', namespace: NS }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(InputError);
    expect(errorMessage(err)).toMatch(/"prod" is not a context of the kubeconfig; available: "/);
    const unauthorized = await connect({
      kubeconfig: sim.kubeconfig({ token: 'nope-token' }),
      namespace: NS,
    }).catch((e: unknown) => e);
    expect(unauthorized).toBeInstanceOf(KubeApiError);
    expect(errorMessage(unauthorized)).toMatch(/401/);
    expect(errorMessage(unauthorized)).not.toContain('nope-token');
    const missing = await connect({ kubeconfig: sim.kubeconfig(), namespace: 'does-not-exist' }).catch(
      (e: unknown) => e,
    );
    expect(missing).toBeInstanceOf(InputError);
    expect((missing as InputError).input).toBe('namespace');
    const kc = parse(sim.kubeconfig()) as { clusters: Array<{ cluster: Record<string, unknown> }> };
    delete kc.clusters[0]!.cluster['certificate-authority-data'];
    const tls = await connect({ kubeconfig: stringify(kc), namespace: NS }).catch((e: unknown) => e);
    expect(errorMessage(tls)).toMatch(/TLS/);
  });

  /**
   * Applies an environment whose pod starts `startDelayMs` after it is scheduled, so that the first poll of a
   * wait sees it rolling out; the environment is deleted when the test ends.
   */
  async function slowEnvironment(envId: string, startDelayMs: number): Promise<string> {
    const id = `${envId}-abcde`;
    sim.pods.startDelayMs = startDelayMs;
    onTestFinished(async () => {
      sim.pods.startDelayMs = 20;
      const found = await findEnvironment(client, { namespace: NS, envId });
      await deleteEnvironment(client, {
        namespace: NS,
        envId,
        types: found?.types ?? [],
        timeoutMs: 20_000,
        pollMs: 50,
      });
    });
    await applyObjects(client, envObjects(envId, id), { serverSide: true, fieldManager: FM });
    return `${id}-dind`;
  }

  it('the wait sees a rollout when it happens, through its watch, not a poll later', async () => {
    const name = await slowEnvironment('watch-pr-1', 1500);
    const auditFrom = sim.audit.length;
    // One poll, then a minute's sleep that only a watch event can end: the test's timeout is far shorter.
    const ready = await waitForRollout(client, {
      namespace: NS,
      name,
      timeoutMs: 120_000,
      pollMs: 60_000,
      fastPollForMs: 0,
    });
    expect(ready.status).toMatchObject({ availableReplicas: 1 });
    expect(
      sim.audit
        .slice(auditFrom)
        .some(
          (e) =>
            e.path === `/apis/apps/v1/namespaces/${NS}/deployments` &&
            e.query.watch === 'true' &&
            e.query.fieldSelector === `metadata.name=${name}`,
        ),
    ).toBe(true);
  }, 30_000);

  it('a watch the server refuses leaves the wait to its polls', async () => {
    const name = await slowEnvironment('nowatch-pr-1', 500);
    const rule = sim.faults.add({
      path: /\/deployments$/,
      query: /watch=true/,
      action: { type: 'status', code: 403 },
    });
    const auditFrom = sim.audit.length;
    try {
      const ready = await waitForRollout(client, { namespace: NS, name, timeoutMs: 20_000, pollMs: 50 });
      expect(ready.status).toMatchObject({ availableReplicas: 1 });
    } finally {
      sim.faults.remove(rule);
    }
    expect(sim.audit.slice(auditFrom).filter((e) => e.query.watch === 'true')).toHaveLength(1);
  });

  for (const serverSide of [true, false]) {
    it(`${serverSide ? 'server-side' : 'client-side'} apply, wait, re-apply, find, delete`, async () => {
      const envId = serverSide ? 'ssa-pr-1' : 'csa-pr-1';
      const id = `${envId}-abcde`;
      const log = captureLog();
      const first = await applyObjects(client, envObjects(envId, id), { serverSide, fieldManager: FM, log });
      expect(first.map((a) => `${a.ref} ${a.action}`)).toEqual([
        `ConfigMap/${id}-cfg created`,
        `Service/${id}-svc created`,
        `Deployment/${id}-dind created`,
      ]);
      const ready = await waitForRollout(client, {
        namespace: NS,
        name: `${id}-dind`,
        timeoutMs: 20_000,
        pollMs: 50,
        log,
      });
      expect(ready.status).toMatchObject({ availableReplicas: 1 });

      const again = await applyObjects(client, envObjects(envId, id), { serverSide, fieldManager: FM });
      expect(again.map((a) => a.action)).toEqual(['unchanged', 'unchanged', 'unchanged']);
      const changed = envObjects(envId, id);
      (changed[0] as unknown as { data: Record<string, string> }).data.a = '2';
      expect((await applyObjects(client, changed, { serverSide, fieldManager: FM }))[0]?.action).toBe(
        'changed',
      );

      const found = await findEnvironment(client, { namespace: NS, envId });
      expect(found?.id).toBe(id);
      expect(found?.createdAt).toBe('2026-01-01T00:00:00.000Z');

      const result = await deleteEnvironment(client, {
        namespace: NS,
        envId,
        types: found?.types ?? [],
        timeoutMs: 20_000,
        pollMs: 50,
      });
      expect(result.deleted.sort()).toEqual([
        `ConfigMap/${id}-cfg`,
        `Deployment/${id}-dind`,
        `Service/${id}-svc`,
      ]);
      expect(result.pending).toEqual([]);
      expect(
        sim.store.list('', 'pods', { namespace: NS, labelSelector: `preevy.dev/env-id=${envId}` }),
      ).toEqual([]);
      expect(await findEnvironment(client, { namespace: NS, envId })).toBeUndefined();
      expect(
        (await deleteEnvironment(client, { namespace: NS, envId, types: [], timeoutMs: 5000 })).deleted,
      ).toEqual([]);
    });
  }

  it('an unknown field is refused by the server, naming the field and what was applied', async () => {
    for (const serverSide of [true, false]) {
      const objs = envObjects('bad-pr-1', 'bad-pr-1-aaaaa');
      (objs[2]!.spec as Record<string, unknown>).strategyy = {};
      const err = await applyObjects(client, objs, { serverSide, fieldManager: FM }).catch((e: unknown) => e);
      expect(err, String(serverSide)).toBeInstanceOf(ApplyError);
      expect(errorMessage(err)).toMatch(/strategyy/);
      expect(errorMessage(err)).toMatch(/apply Deployment\/bad-pr-1-aaaaa-dind/);
      // The dry run caught it before the first write.
      expect(errorMessage(err)).toMatch(/Nothing was applied/);
      const left = sim.store.list('', 'configmaps', {
        namespace: NS,
        labelSelector: 'preevy.dev/env-id=bad-pr-1',
      });
      expect(left).toEqual([]);
    }
    await deleteEnvironment(client, { namespace: NS, envId: 'bad-pr-1', types: [], timeoutMs: 5000 });
  });

  it('an invalid value is a 422 with its field', async () => {
    const objs = envObjects('neg-pr-1', 'neg-pr-1-aaaaa');
    (objs[2]!.spec as Record<string, unknown>).replicas = -1;
    const err = await applyObjects(client, objs.slice(2), { serverSide: true, fieldManager: FM }).catch(
      (e: unknown) => e,
    );
    expect(errorMessage(err)).toMatch(/spec\.replicas/);
    expect((err as KubeApiError).code).toBe(422);
  });

  it('a missing image times out with the pod reasons', async () => {
    sim.pods.missingImages.add('registry.invalid/dind:nope');
    const id = 'img-pr-1-aaaaa';
    await applyObjects(client, envObjects('img-pr-1', id, 'registry.invalid/dind:nope'), {
      serverSide: true,
      fieldManager: FM,
    });
    const err = await waitForRollout(client, {
      namespace: NS,
      name: `${id}-dind`,
      timeoutMs: 3000,
      pollMs: 100,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ReadinessError);
    const msg = errorMessage(err);
    if (process.env.SHOW_MESSAGES) console.log(msg);
    expect(msg).toMatch(/did not become ready within 3s/);
    expect(msg).toMatch(/ErrImagePull|ImagePullBackOff/);
    expect(msg).toMatch(/cannot be pulled/);
    await deleteEnvironment(client, { namespace: NS, envId: 'img-pr-1', types: [], timeoutMs: 10_000 });
  });

  it('two docker hosts for one env id is an IdentityError; down removes both', async () => {
    for (const id of ['dup-pr-1-aaaaa', 'dup-pr-1-bbbbb'])
      await applyObjects(client, envObjects('dup-pr-1', id).slice(2), { serverSide: true, fieldManager: FM });
    const err = await findEnvironment(client, { namespace: NS, envId: 'dup-pr-1' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IdentityError);
    expect(errorMessage(err)).toMatch(/dup-pr-1-aaaaa-dind.*dup-pr-1-bbbbb-dind/s);
    const hosts = await listDockerHosts(client, { namespace: NS, envId: 'dup-pr-1' });
    const r = await deleteEnvironment(client, {
      namespace: NS,
      envId: 'dup-pr-1',
      types: hosts.flatMap((h) => h.types),
      timeoutMs: 10_000,
    });
    expect(r.deleted.sort()).toEqual(['Deployment/dup-pr-1-aaaaa-dind', 'Deployment/dup-pr-1-bbbbb-dind']);
  });

  it('a read-only token: apply names the missing permission; delete collects 403s', async () => {
    sim.addToken('viewer-token', `system:serviceaccount:${NS}:viewer`, [
      { verbs: ['get', 'list', 'watch'], apiGroups: ['*'], resources: ['*'] },
    ]);
    const viewer = await connect({ kubeconfig: sim.kubeconfig({ token: 'viewer-token' }), namespace: NS });
    try {
      const err = await applyObjects(viewer, envObjects('ro-pr-1', 'ro-pr-1-aaaaa'), {
        serverSide: true,
        fieldManager: FM,
      }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ApplyError);
      expect((err as ApplyError).code).toBe(403);
      expect((err as ApplyError).hint).toMatch(/lacks verb "patch" on resource "configmaps"/);

      await applyObjects(client, envObjects('ro-pr-1', 'ro-pr-1-aaaaa'), {
        serverSide: true,
        fieldManager: FM,
      });
      const del = await deleteEnvironment(viewer, {
        namespace: NS,
        envId: 'ro-pr-1',
        types: [],
        timeoutMs: 2000,
      }).catch((e: unknown) => e);
      expect(del).toBeInstanceOf(KubeApiError);
      expect(errorMessage(del)).toMatch(/failed for 3 request/);
      expect(errorMessage(del)).toMatch(/lacks verb "delete"/);
    } finally {
      await viewer.close();
      await deleteEnvironment(client, { namespace: NS, envId: 'ro-pr-1', types: [], timeoutMs: 10_000 });
    }
  });
});
