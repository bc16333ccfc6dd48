import { describe, expect, it } from 'vitest';
import { envObjects, NAMESPACE, userObjects } from '../integration/harness.js';
import { runAction, useSim } from './support.js';

/** The bundled action, started as the runner starts it, against the Kubernetes API simulator. */
describe('dist/index.js', () => {
  const kube = useSim();

  const inputs = () => ({ kubeconfig: kube.sim.kubeconfig(), namespace: NAMESPACE, 'ready-timeout': '60s' });

  it('opened, synchronize, closed: creates, keeps, then removes the environment', async () => {
    const opened = await runAction({
      inputs: inputs(),
      event: { action: 'opened', number: 5, headSha: '1'.repeat(40) },
    });
    expect(opened.stdout).not.toMatch(/::error::/);
    expect(opened.code).toBe(0);
    expect(opened.outputs['env-id']).toBe('shop-pr-5');
    expect(opened.outputs.namespace).toBe(NAMESPACE);
    expect(opened.outputs.id).toMatch(/^shop-pr-5-[a-z0-9]{5}$/);
    const objs = envObjects(kube.sim, 'shop-pr-5');
    expect([...objs.keys()].some((k) => k.startsWith('Deployment/'))).toBe(true);
    const host = [...objs.values()].find((o) => o.kind === 'Deployment')!;
    expect(host.status.availableReplicas).toBe(1);
    // The kubeconfig's token never reaches the log.
    // (`::add-mask::` lines are the registration itself, which the runner consumes and never shows.)
    const shown = opened.stdout.split('\n').filter((l) => !l.startsWith('::add-mask::'));
    expect(shown.join('\n')).not.toContain(kube.sim.adminToken);
    expect(opened.stdout).toContain(`::add-mask::${kube.sim.adminToken}`);

    const sync = await runAction({
      inputs: inputs(),
      event: { action: 'synchronize', number: 5, headSha: '2'.repeat(40) },
    });
    expect(sync.code).toBe(0);
    expect(sync.outputs.id).toBe(opened.outputs.id);

    const closed = await runAction({
      inputs: inputs(),
      event: { action: 'closed', number: 5, headSha: '2'.repeat(40) },
    });
    expect(closed.code).toBe(0);
    expect(envObjects(kube.sim, 'shop-pr-5').size).toBe(0);
    expect([...userObjects(kube.sim).keys()]).toEqual([]);
  });

  it('a bad input fails the step once, with the message, and creates nothing', async () => {
    const run = await runAction({
      inputs: { ...inputs(), template: 'does/not/exist.njk' },
      event: { action: 'opened', number: 6, headSha: '3'.repeat(40) },
    });
    expect(run.code).toBe(1);
    expect(run.stdout.match(/::error::/g)).toHaveLength(1);
    expect(run.stdout).toMatch(/::error::Input "template": cannot read/);
    expect(envObjects(kube.sim, 'shop-pr-6').size).toBe(0);
  });
});
