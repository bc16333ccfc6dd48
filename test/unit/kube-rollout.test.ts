import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { rolloutState } from '../../src/environment/wait.js';
import type { KubeObject } from '../../src/kube/types.js';

const dir = path.join(import.meta.dirname, '../fixtures/kube-api');
interface Fixture {
  response: { status: number; body: unknown; stream?: Array<{ type: string; object: KubeObject }> };
}
function fixture(num: string): Fixture {
  const file = readdirSync(dir).find((f) => f.startsWith(`${num}-`));
  if (!file) throw new Error(`no fixture ${num}`);
  return JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as Fixture;
}
const body = (num: string) => fixture(num).response.body as KubeObject;

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
    const stream = fixture('017').response.stream ?? [];
    expect(stream.length).toBeGreaterThan(2);
    const states = stream.map((e) => rolloutState(e.object));
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
