import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { down } from '../../src/commands/down.js';
import { up } from '../../src/commands/up.js';
import type { KubeSim } from '../sim/kube/index.js';
import type { SimObject } from '../sim/kube/types.js';
import { bookkeeping, ctxFor, envObjects, inputsFor, NAMESPACE, startSim } from './harness.js';

/** The Role the README tells users to create is enough for up and down, and grants nothing cluster-wide. */
describe('examples/rbac/role.yaml', () => {
  let sim: KubeSim;
  beforeAll(async () => {
    sim = await startSim();
    for (const doc of parseAllDocuments(readFileSync('examples/rbac/role.yaml', 'utf8'))) {
      const o = doc.toJS() as SimObject & { subjects?: Array<{ namespace?: string }> };
      // Works in any namespace: none is written in the file, and `kubectl -n <namespace> apply` puts it there.
      expect(o.metadata.namespace).toBeUndefined();
      for (const s of o.subjects ?? []) expect(s.namespace).toBeUndefined();
      sim.store.create({ ...o, metadata: { ...o.metadata, namespace: NAMESPACE } });
    }
    // No static rules: the simulator authorizes this ServiceAccount from the Role and RoleBinding above.
    sim.addToken('sa-token', `system:serviceaccount:${NAMESPACE}:preevy-kube-action`);
  });
  afterAll(async () => {
    await sim?.close();
  });

  it('lets the action deploy and tear down an environment', async () => {
    const inputs = inputsFor(sim, {
      kubeconfig: sim.kubeconfig({ token: 'sa-token', namespace: NAMESPACE }),
    });
    const result = await up(inputs, ctxFor(11));
    expect(envObjects(sim, 'shop-pr-11').size).toBe(5);
    expect(result.id).toMatch(/^shop-pr-11-/);
    // The lock (a Lease) stays with the environment; down deletes it and leaves a tombstone.
    expect(bookkeeping(sim, 'shop-pr-11').lease).toBeDefined();
    await down(inputs, ctxFor(11));
    expect(envObjects(sim, 'shop-pr-11').size).toBe(0);
    expect(bookkeeping(sim, 'shop-pr-11')).toMatchObject({ lease: undefined, tombstone: expect.anything() });
    const forbidden = sim.audit.filter((a) => a.user?.includes('preevy-kube-action') && a.status === 403);
    // Only the optional namespace read may be refused; nothing the action needs.
    expect(
      forbidden
        .map((a) => a.path)
        .filter(
          (p) =>
            !/\/namespaces\/previews(\/(daemonsets|jobs|cronjobs|horizontalpodautoscalers|poddisruptionbudgets))?$/.test(
              p,
            ),
        ),
    ).toEqual([]);
  });
});
