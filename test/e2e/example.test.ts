import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NAMESPACE, startDockerSim } from '../integration/harness.js';
import type { KubeSim } from '../sim/kube/index.js';
import type { SimNetwork } from '../sim/kube/network/index.js';
import type { DockerPodBackend } from '../sim/kubelet/docker/backend.js';
import { dockerUnavailable } from '../sim/kubelet/docker/support.js';
import { ACTION_ROOT, runAction } from './run-action.js';

const skip = dockerUnavailable();

/** dist/index.js deploys examples/compose-app into an environment whose docker host is a real engine. */
describe.skipIf(skip !== undefined)(`the example compose project${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let backend: DockerPodBackend;
  let sim: KubeSim;
  let network: SimNetwork;
  let close: () => Promise<void>;
  beforeAll(async () => {
    ({ sim, backend, network, close } = await startDockerSim({
      defaultCertificateHosts: ['*.preview.test'],
    }));
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
      domain: 'preview.test',
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
    const urls = JSON.parse(opened.outputs['urls-json']!) as Array<{
      service: string;
      port: number;
      url: string;
    }>;
    expect(urls).toEqual([
      { service: 'api', port: 8080, url: 'https://api-8080-shop-pr-31.preview.test' },
      { service: 'web', port: 80, url: 'https://web-80-shop-pr-31.preview.test' },
    ]);
    expect(opened.outputs.url).toBe('https://api-8080-shop-pr-31.preview.test');
    expect(JSON.parse(opened.outputs['urls-map']!)).toEqual({
      api: { '8080': urls[0]!.url },
      web: { '80': urls[1]!.url },
    });
    const get = async (url: string) => (await network.fetch(url)).body;
    expect(await get(`${urls[1]!.url}/index.html`)).toContain('Hello from the preview');
    // web fetched this from api over the compose network; api serves it from the bind-mounted config dir.
    expect(await get(`${urls[1]!.url}/greeting.txt`)).toBe('Hello from the api service\n');
    expect(await get(`${urls[0]!.url}/greeting.txt`)).toBe('Hello from the api service\n');

    const closed = await runAction({
      inputs,
      workspace: ACTION_ROOT,
      event: { action: 'closed', number: 31, headSha: 'c'.repeat(40) },
    });
    expect(closed.code).toBe(0);
    expect(backend.engineFor(engine.name)).toBeUndefined();
  });
});
