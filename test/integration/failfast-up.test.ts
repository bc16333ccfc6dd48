import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { down } from '../../src/commands/down.js';
import { up } from '../../src/commands/up.js';
import { ActionError, errorMessage } from '../../src/errors.js';
import { bundledTemplate } from '../../src/inputs.js';
import type { KubeSim } from '../sim/kube/index.js';
import { applyExampleRole, ctxFor, expectRejects, inputsFor, NAMESPACE, startSim } from './harness.js';

const TEN_MINUTES = 10 * 60_000;
const CRASH_LOG = 'starting\nfailed to start daemon: error initializing graphdriver: driver not supported\n';

describe('up with the bundled template, when dockerd crash-loops', () => {
  let sim: KubeSim;
  beforeAll(async () => {
    sim = await startSim();
    sim.pods.crashingImages.add('docker:27.5.1-dind');
    sim.pods.containerLogs.set('docker:27.5.1-dind', CRASH_LOG);
  });
  afterAll(async () => {
    await sim?.close();
  });

  it('fails with the log tail, long before the ready-timeout, and keeps the environment for inspection', async () => {
    const inputs = inputsFor(sim, { template: bundledTemplate(), readyTimeoutMs: TEN_MINUTES });
    const ctx = ctxFor(61);
    const err = await expectRejects(up(inputs, ctx));
    expect(err).toBeInstanceOf(ActionError);
    const text = errorMessage(err);
    expect(text).toMatch(/Pod shop-pr-61-[a-z0-9]+-dind-[a-z0-9]+-[a-z0-9]+, container docker: /);
    expect(text).toContain('failed to start daemon: error initializing graphdriver: driver not supported');
    expect(text).toMatch(/stays in namespace .* for inspection/);
    // The log reaches the PR comment through the error's logs.
    expect((err as ActionError).logs).toBe(CRASH_LOG.trimEnd());
    await down(inputs, ctx);
  });

  it('with a Role that lacks pods/log: the termination message (FallbackToLogsOnError) shows the tail', async () => {
    // examples/rbac/role.yaml as it was before it granted pods/log.
    applyExampleRole(sim, NAMESPACE, (r) => !r.resources.includes('pods/log'));
    sim.addToken('old-role', `system:serviceaccount:${NAMESPACE}:preevy-kube-action`);
    const inputs = inputsFor(sim, {
      template: bundledTemplate(),
      readyTimeoutMs: TEN_MINUTES,
      kubeconfig: sim.kubeconfig({ token: 'old-role', namespace: NAMESPACE }),
    });
    const ctx = ctxFor(62);
    const err = await expectRejects(up(inputs, ctx));
    const text = errorMessage(err);
    expect(text).toContain('403 on pods/log');
    expect(text).toContain(
      'Termination message:\n    starting\n    failed to start daemon: error initializing graphdriver',
    );
    expect((err as ActionError).logs).toBe(CRASH_LOG.trimEnd());
    await down(inputs, ctx);
  });
});
