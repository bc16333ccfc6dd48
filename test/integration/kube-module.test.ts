/**
 * The wait's watch, against the Kubernetes API simulator: what needs its powers (a pod's start delay, the audit of
 * requests, a refused watch). The rest of src/kube and src/environment runs on any cluster:
 * test/cluster/environment.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { applyObjects } from '../../src/environment/apply.js';
import { deleteEnvironment } from '../../src/environment/delete.js';
import { findEnvironment } from '../../src/environment/find.js';
import { waitForRollout } from '../../src/environment/wait.js';
import { connect, type KubeClient } from '../../src/kube/client.js';
import { type KubeSim, startKubeSim } from '../sim/kube/index.js';
import { captureLog, stampedEnvironment } from './harness.js';

const NS = 'kube-module';
const FM = 'preevy-kube-action';

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
    await applyObjects(client, stampedEnvironment(NS, envId, id), { serverSide: true, fieldManager: FM });
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
});
