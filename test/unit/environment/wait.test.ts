import { describe, expect, it } from 'vitest';
import { rolloutState, type WaitOptions, waitForRollout } from '../../../src/environment/wait.js';
import { ReadinessError } from '../../../src/errors.js';
import type { KubeClient } from '../../../src/kube/client.js';
import type { KubeObject } from '../../../src/kube/types.js';
import { captureLog, FakeKube, recorded, recordedBody, status } from '../support.js';

const body = (num: string) => recordedBody<KubeObject>(num);

function deployment(over: {
  generation?: number;
  spec?: Record<string, unknown>;
  status?: Record<string, unknown>;
}): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'd', generation: over.generation ?? 1 },
    spec: { replicas: 1, ...over.spec },
    status: over.status ?? {},
  };
}

describe('rolloutState on recorded Deployments', () => {
  it('012: rolling (no available replica yet) is not done', () => {
    const s = rolloutState(body('012'));
    expect(s.done).toBe(false);
    expect(s.failed).toBeUndefined();
    expect(s.message).toMatch(/0 of 1 updated replicas available/);
  });

  it('013: final snapshot of rollout 1 is done', () => {
    const s = rolloutState(body('013'));
    expect(s.done).toBe(true);
    expect(s.message).toMatch(/rolled out/);
  });

  it('016: the SSA answer with generation 2 and observedGeneration 1 is not done', () => {
    const s = rolloutState(body('016'));
    expect(s.done).toBe(false);
    expect(s.message).toMatch(/generation 2/);
  });

  it('017: every item of the Recreate watch stream is not done until the last', () => {
    const stream = recorded('017').response.stream ?? [];
    expect(stream.length).toBeGreaterThan(2);
    const states = stream.map((e) => rolloutState(e.object!));
    expect(states.slice(0, -1).map((s) => s.done)).toEqual(states.slice(0, -1).map(() => false));
    expect(states.at(-1)?.done).toBe(true);
    expect(states.every((s) => s.failed === undefined)).toBe(true);
  });

  it('020: after rollout 2 it is done', () => {
    expect(rolloutState(body('020')).done).toBe(true);
  });

  it.each(['087', '088', '089'])('%s: ProgressDeadlineExceeded fails', (num) => {
    const s = rolloutState(body(num));
    expect(s.done).toBe(false);
    expect(s.failed).toMatch(/ProgressDeadlineExceeded/);
    expect(s.failed).toMatch(/has timed out progressing/);
  });
});

describe('rolloutState rule', () => {
  it('waits while old replicas remain', () => {
    const s = rolloutState(
      deployment({
        status: { observedGeneration: 1, replicas: 2, updatedReplicas: 1, availableReplicas: 1 },
      }),
    );
    expect(s.done).toBe(false);
    expect(s.message).toMatch(/1 old replicas pending termination/);
  });

  it('waits until updated replicas reach spec.replicas', () => {
    const s = rolloutState(
      deployment({
        spec: { replicas: 3 },
        status: { observedGeneration: 1, replicas: 2, updatedReplicas: 2, availableReplicas: 2 },
      }),
    );
    expect(s.message).toMatch(/2 of 3 new replicas updated/);
  });

  it('spec.replicas defaults to 1; 0 replicas is done at once', () => {
    expect(
      rolloutState(deployment({ spec: { replicas: undefined }, status: { observedGeneration: 1 } })).done,
    ).toBe(false);
    expect(rolloutState(deployment({ spec: { replicas: 0 }, status: { observedGeneration: 1 } })).done).toBe(
      true,
    );
  });

  it('a paused Deployment fails', () => {
    expect(rolloutState(deployment({ spec: { paused: true } })).failed).toMatch(/paused/);
  });

  it('ReplicaFailure=True is a warning, not yet a failure', () => {
    const s = rolloutState(
      deployment({
        status: {
          observedGeneration: 1,
          conditions: [
            {
              type: 'ReplicaFailure',
              status: 'True',
              reason: 'FailedCreate',
              message: 'pods "d-1" is forbidden: violates PodSecurity "baseline:latest": privileged',
            },
          ],
        },
      }),
    );
    expect(s.failed).toBeUndefined();
    expect(s.warning).toMatch(/FailedCreate: pods "d-1" is forbidden/);
  });
});

describe('waitForRollout', () => {
  function serving(seq: KubeObject[], k = new FakeKube('fixtures')): FakeKube {
    let i = 0;
    const prev = k.inject;
    k.inject = (req) => {
      if (req.method === 'GET' && /\/deployments\/[^/]+$/.test(req.path)) {
        const d = seq[Math.min(i++, seq.length - 1)]!;
        return { status: 200, body: d };
      }
      return prev(req);
    };
    return k;
  }

  /** Waits for `name` in fixtures: ten seconds, polling every millisecond, unless `over` says otherwise. */
  const wait = (k: KubeClient, over: Partial<WaitOptions> = {}) =>
    waitForRollout(k, { namespace: 'fixtures', name: 'web', timeoutMs: 10_000, pollMs: 1, ...over });
  /** The ReadinessError the wait fails with. */
  const readinessError = async (k: KubeClient, over: Partial<WaitOptions> = {}) => {
    const err = await wait(k, over).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ReadinessError);
    return err as ReadinessError;
  };

  it('follows the recorded Recreate rollout to the end, logging only changes', async () => {
    const seq = (recorded('017').response.stream ?? []).map((e) => e.object!);
    const log = captureLog();
    const k = serving([...seq.slice(0, 3), seq[2]!, ...seq.slice(3)]);
    const d = await wait(k, { log });
    expect(d.status).toMatchObject({ availableReplicas: 1, updatedReplicas: 1, observedGeneration: 2 });
    const infos = log.lines.filter((l) => l.startsWith('info:'));
    expect(new Set(infos).size).toBe(infos.length);
    expect(infos.at(-1)).toMatch(/Deployment web rolled out: 1 of 1 replicas available/);
  });

  it('fails fast on ProgressDeadlineExceeded with the pod reasons and events', async () => {
    const k = new FakeKube('fixtures');
    k.put(recorded('084').response.body as KubeObject);
    (recorded('090').response.body as { items: KubeObject[] }).items.forEach((e, i) => {
      k.put({
        ...e,
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { ...e.metadata, name: `${e.metadata.name}-${i}` },
      });
    });
    serving([recorded('087').response.body as KubeObject], k);
    const e = await readinessError(k, { name: 'img-missing' });
    expect(e.message).toMatch(
      /^Deployment img-missing exceeded its progress deadline \(ProgressDeadlineExceeded\)/,
    );
    expect(e.message).toContain('Container app: waiting: ErrImageNeverPull');
    expect(e.message).toMatch(/Warning ErrImageNeverPull \(x3\)/);
    expect(e.hint).toMatch(/cannot be pulled/);
    const podList = k.requests.find((r) => r.path === '/api/v1/namespaces/fixtures/pods');
    expect(podList?.query?.labelSelector).toBe('app=img-missing');
  });

  it('retries transient errors until the deadline', async () => {
    const done = recorded('013').response.body as KubeObject;
    const k = new FakeKube('fixtures');
    let failures = 3;
    k.inject = (req) => {
      if (failures-- > 0) return status(503, 'ServiceUnavailable', 'etcd leader changed');
      if (req.method === 'GET') return { status: 200, body: done };
      return undefined;
    };
    const log = captureLog();
    await wait(k, { log });
    expect(log.lines.filter((l) => /^debug: .*etcd leader changed.*retrying/.test(l))).toHaveLength(3);
  });

  it('a 403 fails at once; a missing Deployment fails; a timeout carries the last state', async () => {
    const k = new FakeKube('fixtures');
    k.inject = () =>
      status(
        403,
        'Forbidden',
        'deployments.apps "web" is forbidden: User "x" cannot get resource "deployments" in API group "apps" in the namespace "fixtures"',
      );
    await expect(wait(k)).rejects.toThrow(/forbidden/);
    await expect(wait(new FakeKube('fixtures'))).rejects.toThrow(/does not exist/);
    const rolling = serving([recorded('012').response.body as KubeObject]);
    const err = await readinessError(rolling, { timeoutMs: 30, pollMs: 5 });
    expect(err.message).toMatch(
      /did not become ready within 0s \(Deployment web: 0 of 1 updated replicas available\)/,
    );
  });

  it('ReplicaFailure that lasts fails the wait', async () => {
    const d = structuredClone(recorded('012').response.body as KubeObject);
    (d.status as { conditions: unknown[] }).conditions.push({
      type: 'ReplicaFailure',
      status: 'True',
      reason: 'FailedCreate',
      // A quota: a Pod Security refusal fails at once, with its own message (test/integration/failfast.test.ts).
      message:
        'pods "web-1" is forbidden: exceeded quota: compute, requested: cpu=1, used: cpu=2, limited: cpu=2',
    });
    const err = await readinessError(serving([d]), { replicaFailureGraceMs: 0 });
    expect(err.message).toMatch(/cannot create its pods: FailedCreate: .*exceeded quota/);
    expect(err.hint).toMatch(/a quota/);
  });
});
