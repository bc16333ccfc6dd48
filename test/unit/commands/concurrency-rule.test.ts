import { describe, expect, it } from 'vitest';
import { liftedBy } from '../../../src/commands/guard.js';
import { downReason } from '../../../src/commands/teardown.js';
import { dispositionOf } from '../../../src/environment/delete.js';
import { leaseName, microTime } from '../../../src/environment/lock.js';
import type { Tombstone } from '../../../src/environment/tombstone.js';
import type { EventInfo } from '../../../src/github/event.js';
import { isDns1123Label } from '../../../src/identity.js';
import type { KubeObject } from '../../../src/kube/types.js';

const tombstone = (reason: Tombstone['reason']): Tombstone => ({
  name: 'preevy-tombstone-shop-pr-1',
  envId: 'shop-pr-1',
  reason,
  at: '2026-01-01T00:00:00.000Z',
});

const prEvent = (action: string, name = 'pull_request'): EventInfo => ({
  name,
  action,
  repository: 'acme/shop',
  label: action.endsWith('labeled') ? 'preview' : undefined,
  pr: {
    number: 1,
    headSha: 'a'.repeat(40),
    headRef: 'f',
    baseRef: 'main',
    repository: 'acme/shop',
    fromFork: false,
    labels: ['preview'],
  },
});

describe('the lock Lease', () => {
  it('is preevy-<envId>, cut to 63 characters with a hash when longer', () => {
    expect(leaseName('shop-pr-1')).toBe('preevy-shop-pr-1');
    const a = leaseName(`${'x'.repeat(55)}-pr-1`);
    const b = leaseName(`${'x'.repeat(55)}-pr-2`);
    expect(a).toHaveLength(63);
    expect(a).not.toBe(b);
    expect(a.startsWith('preevy-xxxx')).toBe(true);
    for (const n of [a, b, leaseName(`${'y'.repeat(46)}-${'z'.repeat(16)}`)])
      expect(isDns1123Label(n)).toBe(true);
  });

  it('writes MicroTime with six fraction digits', () => {
    expect(microTime(Date.UTC(2026, 0, 2, 3, 4, 5, 678))).toBe('2026-01-02T03:04:05.678000Z');
  });
});

describe('the tombstone rule', () => {
  it.each([
    ['reopened', 'closed', 'PR #1 was reopened'],
    ['reopened', 'unlabeled', 'PR #1 was reopened'],
    ['labeled', 'unlabeled', 'the label "preview" was added to PR #1 again'],
    ['labeled', 'closed', undefined],
    ['synchronize', 'closed', undefined],
    ['opened', 'down', undefined],
  ] as const)('%s after a %s down: %s', (action, reason, lifted) => {
    expect(liftedBy(tombstone(reason), prEvent(action), 'auto')).toBe(lifted);
    // An explicit command: up on a pull_request event does not override the event.
    expect(liftedBy(tombstone(reason), prEvent(action), 'up')).toBe(lifted);
  });

  it('command: up outside pull_request events lifts it; auto does not', () => {
    const dispatch: EventInfo = { name: 'workflow_dispatch', repository: 'acme/shop' };
    expect(liftedBy(tombstone('closed'), dispatch, 'up')).toBe(
      '"command: up" was given on a workflow_dispatch event',
    );
    expect(liftedBy(tombstone('closed'), dispatch, 'auto')).toBeUndefined();
  });

  it("a down's reason comes from its event", () => {
    expect(downReason(prEvent('closed'))).toBe('closed');
    expect(downReason(prEvent('unlabeled'))).toBe('unlabeled');
    expect(downReason({ name: 'workflow_dispatch', repository: 'acme/shop' })).toBe('down');
  });
});

describe("down's delete pass", () => {
  const obj = (apiVersion: string, kind: string, labels: Record<string, string>): KubeObject => ({
    apiVersion,
    kind,
    metadata: { name: 'x', labels: { 'preevy.dev/env-id': 'shop-pr-1', ...labels } },
  });
  it('leaves the lock and the tombstone alone, and deletes a template ConfigMap or Lease', () => {
    expect(
      dispositionOf(obj('coordination.k8s.io/v1', 'Lease', { 'preevy.dev/lock': 'true' }), 'shop-pr-1'),
    ).toBe('bookkeeping');
    expect(dispositionOf(obj('v1', 'ConfigMap', { 'preevy.dev/tombstone': 'true' }), 'shop-pr-1')).toBe(
      'bookkeeping',
    );
    expect(dispositionOf(obj('v1', 'ConfigMap', {}), 'shop-pr-1')).toBe('delete');
    expect(dispositionOf(obj('coordination.k8s.io/v1', 'Lease', {}), 'shop-pr-1')).toBe('delete');
    expect(dispositionOf(obj('v1', 'ConfigMap', { 'preevy.dev/tombstone': 'true' }), 'shop-pr-2')).toBe(
      'foreign',
    );
  });
});
