/**
 * What the wait's pod checks make of the states a real cluster showed (fixtures kube-real-2, copied from
 * /work/shared/fixtures/kube-real-2): which fail at once, which after a grace, and what the failure says.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  describeProblem,
  ProblemClock,
  podProblems,
  podSecurityProblem,
} from '../../../src/environment/failfast.js';
import type { KubeObject } from '../../../src/kube/types.js';

const dir = path.join(import.meta.dirname, '../../fixtures/kube-real-2');
function response(num: string): { status: number; body: unknown } {
  const file = readdirSync(dir).find((f) => f.startsWith(`${num}-`));
  if (!file) throw new Error(`no fixture ${num}`);
  return (
    JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as { response: { status: number; body: unknown } }
  ).response;
}
const obj = (num: string) => response(num).body as KubeObject;

describe('pod problems from recorded failures', () => {
  it('ErrImageNeverPull (070) fails at once, with the kubelet message', () => {
    const [p] = podProblems(obj('070'));
    expect(p).toMatchObject({
      kind: 'image',
      reason: 'ErrImageNeverPull',
      container: 'app',
      immediate: true,
    });
    expect(p?.message).toContain('is not present with pull policy of Never');
  });

  it('ImagePullBackOff (074) waits for the grace: a pull is retried', () => {
    const problems = podProblems(obj('074'));
    expect(problems).toMatchObject([{ kind: 'image', reason: 'ImagePullBackOff', immediate: false }]);
    const clock = new ProblemClock(45_000);
    expect(clock.due(problems, 0)).toEqual([]);
    expect(clock.due(problems, 44_999)).toEqual([]);
    expect(clock.due(problems, 45_000)).toHaveLength(1);
    // Gone and back: the grace starts again.
    expect(clock.due([], 46_000)).toEqual([]);
    expect(clock.due(problems, 47_000)).toEqual([]);
  });

  it('a crash loop caught between restarts (077: state.terminated = lastState.terminated) is a crash loop', () => {
    const [p] = podProblems(obj('077'));
    expect(p).toMatchObject({ kind: 'crash', immediate: true, exitCode: 2, restartCount: 3 });
    expect(p?.reason).toBe('restarted 3 times, last Error');
    expect(p?.terminationMessage).toBe('starting\nfatal: config missing\n');
  });

  it('CrashLoopBackOff (124) is a crash loop; the log tail (080) is shown once, not twice', () => {
    const [p] = podProblems(obj('124'));
    expect(p).toMatchObject({ kind: 'crash', reason: 'CrashLoopBackOff', immediate: true, exitCode: 2 });
    const log = (response('080').body as string).replace(/\n$/, '').split('\n');
    const d = describeProblem(p!, 'kr2-fail', { lines: log });
    expect(d.message).toContain(
      'container app: CrashLoopBackOff: back-off 40s restarting failed container=app',
    );
    expect(d.message).toContain('exit code 2, restarted 3 times');
    expect(d.message).toContain('Last 2 log lines:\n    starting\n    fatal: config missing');
    // FallbackToLogsOnError made the termination message the same lines.
    expect(d.message).not.toContain('Termination message');
    expect(d.logs).toBe('starting\nfatal: config missing');
  });

  it('without pods/log (082 is a 403) the termination message stands in for the log', () => {
    expect(response('082').status).toBe(403);
    const [p] = podProblems(obj('077'));
    const d = describeProblem(p!, 'kr2-fail', { note: 'its log is not readable (403 on pods/log)' });
    expect(d.message).toContain('Termination message:\n    starting\n    fatal: config missing');
    expect(d.message).toContain('403 on pods/log');
  });

  it('CreateContainerConfigError (089, 093) waits for the grace: the ConfigMap may come', () => {
    expect(podProblems(obj('089'))).toMatchObject([
      { kind: 'config', immediate: false, message: 'configmap "no-such-configmap" not found' },
    ]);
    expect(podProblems(obj('093'))[0]?.message).toBe(
      "couldn't find key absent-key in ConfigMap kr2-fail/present",
    );
  });

  it('Unschedulable (096) waits for the grace', () => {
    expect(podProblems(obj('096'))).toMatchObject([
      { kind: 'unschedulable', immediate: false, message: expect.stringContaining('1 Insufficient cpu') },
    ]);
  });

  it('a Pod Security refusal on the Deployment (116) or its ReplicaSet (114) fails at once', () => {
    const p = podSecurityProblem(obj('116'));
    expect(p).toMatchObject({ kind: 'pod-security', immediate: true, reason: 'FailedCreate' });
    const d = describeProblem(p!, 'kr2-psa-baseline');
    expect(d.message).toContain('violates PodSecurity "baseline:latest"');
    expect(d.message).toContain('needs the label pod-security.kubernetes.io/enforce=privileged');
    const rs = (obj('114') as unknown as { items: KubeObject[] }).items[0]!;
    expect(podSecurityProblem({ ...rs, kind: 'ReplicaSet' })?.pod).toMatch(/^ReplicaSet dind-/);
  });

  it('an init container that finished after restarts is no crash loop', () => {
    const pod = structuredClone(obj('077'));
    const status = pod.status as Record<string, unknown> & {
      containerStatuses: Array<Record<string, unknown>>;
    };
    const init = structuredClone(status.containerStatuses[0]!);
    init.state = { terminated: { exitCode: 0, reason: 'Completed' } };
    status.initContainerStatuses = [init];
    status.containerStatuses[0]!.state = { running: { startedAt: 'now' } };
    expect(podProblems(pod)).toEqual([]);
  });

  it('a healthy or terminating pod has no problem', () => {
    const crash = obj('124');
    expect(podProblems({ ...crash, metadata: { ...crash.metadata, deletionTimestamp: 'now' } })).toEqual([]);
    const running = structuredClone(crash);
    (running.status as { containerStatuses: Array<Record<string, unknown>> }).containerStatuses[0]!.state = {
      running: { startedAt: 'now' },
    };
    expect(podProblems(running)).toEqual([]);
  });
});
