import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  age,
  currentReplicaSet,
  type DiagnosticsInput,
  formatDiagnostics,
  formatEvents,
  sortPods,
} from '../../../src/environment/diagnose.js';
import { diagnosisHints } from '../../../src/environment/diagnose-hints.js';
import type { KubeObject } from '../../../src/kube/types.js';

const dir = path.join(import.meta.dirname, '../../fixtures/kube-api');
function body(num: string): unknown {
  const file = readdirSync(dir).find((f) => f.startsWith(`${num}-`));
  if (!file) throw new Error(`no fixture ${num}`);
  return (JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as { response: { body: unknown } }).response
    .body;
}
const obj = (num: string) => body(num) as KubeObject;
const items = (num: string) =>
  ((body(num) as { items: KubeObject[] }).items ?? []).map((i) => ({
    ...i,
    kind: 'Event',
    apiVersion: 'v1',
  }));

function input(deploy: string, pod: string, events: string): DiagnosticsInput {
  return { namespace: 'fixtures', deployment: obj(deploy), pods: [obj(pod)], events: items(events) };
}

describe('diagnostics from recorded failures', () => {
  it('image missing (087 + 084 + 090): ErrImageNeverPull with its message and events', () => {
    const i = input('087', '084', '090');
    const text = formatDiagnostics(i);
    expect(text).toContain('Deployment img-missing');
    expect(text).toContain('Progressing=False (ProgressDeadlineExceeded)');
    expect(text).toContain('Pod img-missing-f67cd66b9-p4rqg');
    expect(text).toMatch(
      /Container app: waiting: ErrImageNeverPull \(Container image "localhost\/realkube\/does-not-exist:v1" is not present with pull policy of Never\)/,
    );
    expect(text).toMatch(/Warning ErrImageNeverPull \(x3\)/);
    expect(text).toContain('Normal Scheduled: Successfully assigned');
    expect(diagnosisHints(i).join('\n')).toMatch(/cannot be pulled \(ErrImageNeverPull\)/);
  });

  it('crash loop (088 + 085 + 091): CrashLoopBackOff, back-off 10s, exit code 1, restarts', () => {
    const i = input('088', '085', '091');
    const text = formatDiagnostics(i);
    expect(text).toContain('CrashLoopBackOff');
    expect(text).toContain('back-off 10s restarting failed container=app');
    expect(text).toMatch(/last run: terminated \(exit code 1, Error\)/);
    expect(text).toMatch(/restarts: 1/);
    expect(text).toMatch(/Warning BackOff \(x2\): Back-off restarting failed container app/);
    expect(diagnosisHints(i).join('\n')).toMatch(
      /kubectl logs -n fixtures crash-5b55f7b-7zmk4 -c app --previous/,
    );
  });

  it('crash loop later (093 + 094): the back-off doubled', () => {
    const text = formatDiagnostics(input('088', '093', '094'));
    expect(text).toContain('back-off 20s restarting failed container=app');
    expect(text).toMatch(/Warning BackOff \(x3\)/);
  });

  it('unschedulable (089 + 086 + 092): PodScheduled=False with Insufficient cpu, FailedScheduling events', () => {
    const i = input('089', '086', '092');
    const text = formatDiagnostics(i);
    expect(text).toMatch(/Pod unschedulable-56c7f8cd57-j5qft: Pending/);
    expect(text).toMatch(
      /PodScheduled=False \(Unschedulable\): 0\/1 nodes are available: 1 Insufficient cpu/,
    );
    expect(text).toMatch(/Warning FailedScheduling \(x2\): 0\/1 nodes are available: 1 Insufficient cpu/);
    expect(diagnosisHints(i).join('\n')).toMatch(/No node can run the pod/);
  });

  it('notes and missing pods are reported', () => {
    const text = formatDiagnostics({ pods: [], events: [], notes: ['cannot list Events: forbidden'] });
    expect(text).toContain('No pods.');
    expect(text).toContain('(cannot list Events: forbidden)');
  });
});

describe('ordering', () => {
  it('the ReplicaSet of the current revision is the current one (020 + 021)', () => {
    const d = obj('020');
    const sets = (body('021') as { items: KubeObject[] }).items;
    expect(currentReplicaSet(d, sets)?.metadata.name).toBe('web-5c9d7d6958');
    const text = formatDiagnostics({
      deployment: d,
      replicaSets: sets,
      pods: (body('022') as { items: KubeObject[] }).items,
      events: [],
    });
    expect(text).toMatch(/ReplicaSet web-5c9d7d6958 \(current, revision 2\)/);
    // The old ReplicaSet is scaled to 0: not shown.
    expect(text).not.toContain('ReplicaSet web-8954b446d');
    expect(text).toMatch(/Pod web-5c9d7d6958-\w+ \(current ReplicaSet\): Running/);
  });

  it('pods of the current ReplicaSet come first', () => {
    const pod = (name: string, owner: string, created: string): KubeObject => ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name,
        creationTimestamp: created,
        ownerReferences: [
          { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: owner, uid: owner, controller: true },
        ],
      },
    });
    const current: KubeObject = { apiVersion: 'apps/v1', kind: 'ReplicaSet', metadata: { name: 'new' } };
    const sorted = sortPods(
      [
        pod('old-1', 'old', '2026-01-01T00:00:03Z'),
        pod('new-1', 'new', '2026-01-01T00:00:01Z'),
        pod('new-2', 'new', '2026-01-01T00:00:02Z'),
      ],
      current,
    );
    expect(sorted.map((p) => p.metadata.name)).toEqual(['new-2', 'new-1', 'old-1']);
  });

  it('events are sorted by time, oldest first, the last N kept, with counts and ages', () => {
    const now = new Date('2026-01-01T00:10:00Z');
    const ev = (reason: string, last: string, count?: number): KubeObject => ({
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name: reason },
      type: 'Warning',
      reason,
      message: `${reason} happened`,
      lastTimestamp: last,
      ...(count ? { count } : {}),
    });
    const lines = formatEvents(
      [ev('C', '2026-01-01T00:09:30Z', 4), ev('A', '2026-01-01T00:01:00Z'), ev('B', '2026-01-01T00:05:00Z')],
      now,
      2,
    );
    expect(lines).toEqual([
      '(1 older events not shown)',
      'Warning B (5m ago): B happened',
      'Warning C (x4, 30s ago): C happened',
    ]);
    expect(age('<time>', now)).toBe('');
  });
});
