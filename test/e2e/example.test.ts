import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NAMESPACE, startDockerSim } from '../integration/harness.js';
import type { DockerPodBackend } from '../sim/docker/backend.js';
import { dockerUnavailable, httpGet } from '../sim/docker/support.js';
import type { KubeSim } from '../sim/kube/index.js';
import { ACTION_ROOT, runAction } from './run-action.js';

const skip = dockerUnavailable();

/** dist/index.js deploys examples/compose-app into an environment whose docker host is a real engine. */
describe.skipIf(skip !== undefined)(`the example compose project${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let backend: DockerPodBackend;
  let sim: KubeSim;
  let close: () => Promise<void>;
  beforeAll(async () => {
    ({ sim, backend, close } = await startDockerSim());
  });
  afterAll(async () => {
    await close?.();
  });

  it('goes up with every service answering, and down removes its engine', async () => {
    const inputs = {
      kubeconfig: sim.kubeconfig(),
      namespace: NAMESPACE,
      'working-directory': 'examples/compose-app',
      'ready-timeout': '2m',
    };
    const opened = await runAction({
      inputs,
      workspace: ACTION_ROOT,
      event: { action: 'opened', number: 31, headSha: 'c'.repeat(40) },
    });
    expect(opened.stdout).not.toMatch(/::error::/);
    expect(opened.code).toBe(0);
    const pod = sim.store
      .list('', 'pods', { namespace: NAMESPACE, labelSelector: 'preevy.dev/env-id=shop-pr-31' })
      .find((p) => !p.metadata.deletionTimestamp)!;
    const engine = backend.engineFor(`${NAMESPACE}/${pod.metadata.name}`)!;
    expect(await httpGet(engine.ip, 8000, '/index.html')).toContain('Hello from the preview');
    // web fetched this from api over the compose network; api serves it from the bind-mounted config dir.
    expect(await httpGet(engine.ip, 8000, '/greeting.txt')).toBe('Hello from the api service\n');
    expect(await httpGet(engine.ip, 8080, '/greeting.txt')).toBe('Hello from the api service\n');

    const closed = await runAction({
      inputs,
      workspace: ACTION_ROOT,
      event: { action: 'closed', number: 31, headSha: 'c'.repeat(40) },
    });
    expect(closed.code).toBe(0);
    expect(backend.engineFor(engine.name)).toBeUndefined();
  });
});
