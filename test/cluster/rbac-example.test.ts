import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { down } from '../../src/commands/down.js';
import { up } from '../../src/commands/up.js';
import { ctxFor } from '../integration/harness.js';
import { inputsOn, simulatorOnly, useCluster } from './fixture.js';

/**
 * The Role the README tells users to create is enough for up and down, and grants nothing cluster-wide. The
 * fixture applies it as `kubectl -n <namespace> apply -f` does and hands the action its ServiceAccount's token.
 */
describe('examples/rbac/role.yaml', () => {
  const c = useCluster({ suite: 'rbac-example' });

  it('names no namespace: it works in any', () => {
    for (const doc of parseAllDocuments(readFileSync('examples/rbac/role.yaml', 'utf8'))) {
      const o = doc.toJS() as { metadata: { namespace?: string }; subjects?: Array<{ namespace?: string }> };
      expect(o.metadata.namespace).toBeUndefined();
      for (const s of o.subjects ?? []) expect(s.namespace).toBeUndefined();
    }
  });

  it('lets the action deploy and tear down an environment', async () => {
    const inputs = inputsOn(c);
    const result = await up(inputs, ctxFor(11));
    expect((await c.envObjects('shop-pr-11')).size).toBe(5);
    expect(result.id).toMatch(/^shop-pr-11-/);
    // The lock (a Lease) stays with the environment; down deletes it and leaves a tombstone.
    expect((await c.bookkeeping('shop-pr-11')).lease).toBeDefined();
    await down(inputs, ctxFor(11));
    expect((await c.envObjects('shop-pr-11')).size).toBe(0);
    expect(await c.bookkeeping('shop-pr-11')).toMatchObject({
      lease: undefined,
      tombstone: expect.anything(),
    });
  });

  simulatorOnly('audit')('is refused nothing the action needs', async () => {
    const forbidden = c.sim!.audit.filter((a) => a.user?.includes('preevy-kube-action') && a.status === 403);
    // Only the optional namespace read may be refused, and the kinds the Role leaves out.
    const ns = c.namespace;
    expect(
      forbidden
        .map((a) => a.path)
        .filter(
          (p) =>
            !new RegExp(
              `/namespaces/${ns}(/(daemonsets|jobs|cronjobs|horizontalpodautoscalers|poddisruptionbudgets))?$`,
            ).test(p),
        ),
    ).toEqual([]);
  });
});
