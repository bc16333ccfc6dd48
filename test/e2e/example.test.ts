import { expect, it } from 'vitest';
import { describeWithDocker, NAMESPACE, useDockerSim } from '../integration/harness.js';
import { ACTION_ROOT, runAction } from './support.js';

/** dist/index.js deploys examples/compose-app into an environment whose docker host is a real engine. */
describeWithDocker('the example compose project', () => {
  const d = useDockerSim({
    defaultCertificateHosts: ['*.preview.test'],
  });

  it('goes up with every service answering, and down removes its engine', async () => {
    const inputs = {
      kubeconfig: d.sim.kubeconfig(),
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
    const pod = d.sim.store
      .list('', 'pods', { namespace: NAMESPACE, labelSelector: 'preevy.dev/env-id=shop-pr-31' })
      .find((p) => !p.metadata.deletionTimestamp)!;
    const engine = d.backend.engineFor(`${NAMESPACE}/${pod.metadata.name}`)!;
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
    const get = async (url: string) => (await d.network.fetch(url)).body;
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
    expect(d.backend.engineFor(engine.name)).toBeUndefined();
  });
});
