import { cpSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect, it } from 'vitest';
import { down } from '../../src/commands/down.js';
import { up } from '../../src/commands/up.js';
import { bundledTemplate, type Inputs } from '../../src/inputs.js';
import { ctxFor, describeWithDocker, envObjects, NAMESPACE, useDockerSuite } from './harness.js';

const EXAMPLE = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../examples/compose-app');

/**
 * The example project (a service built from a local Dockerfile, a bind-mounted config directory, a named
 * volume, a health check, services talking over the compose network) goes up through `up`, and every URL it
 * reports answers through the cluster's network: the simulated ingress controller or load balancer, a
 * Service, the docker host's pod, the compose service.
 */
describeWithDocker('exposure of the example project', () => {
  const d = useDockerSuite();

  /** The example, copied to a fresh workspace, deployed with the bundled template as PR `pr`. */
  const upExample = async (pr: number, over: Partial<Inputs>) => {
    const workingDirectory = mkdtempSync(path.join(tmpdir(), 'example-'));
    cpSync(EXAMPLE, workingDirectory, { recursive: true });
    const inputs = d.inputs({
      template: bundledTemplate(),
      workingDirectory,
      readyTimeoutMs: 120_000,
      ...over,
    });
    const ctx = { ...ctxFor(pr), envId: `shop-pr-${pr}` };
    return { inputs, ctx, result: await up(inputs, ctx) };
  };

  it('expose: ingress gives a host per published port, and each URL answers with the app', async () => {
    const { inputs, ctx, result } = await upExample(51, {
      expose: 'ingress',
      domain: 'preview.test',
      namedUrls: true,
      tlsSecret: 'preview-wildcard',
    });
    expect(result.urls.map((u) => u.url)).toEqual([
      'https://api-8080-shop-pr-51.preview.test',
      'https://web-80-shop-pr-51.preview.test',
    ]);
    const [api, web] = result.urls;
    expect((await d.network.fetch(`${web!.url}/index.html`)).body).toContain('Hello from the preview');
    // web fetched it from api over the compose network; api serves it from the bind-mounted config directory.
    expect((await d.network.fetch(`${web!.url}/greeting.txt`)).body).toBe('Hello from the api service\n');
    expect((await d.network.fetch(`${api!.url}/greeting.txt`)).body).toBe('Hello from the api service\n');

    const ingress = d.sim.store.list('networking.k8s.io', 'ingresses', { namespace: NAMESPACE })[0]!;
    expect(ingress.metadata.labels?.['preevy.dev/env-id']).toBe('shop-pr-51');

    await down(inputs, ctx);
    expect([...envObjects(d.sim, 'shop-pr-51').keys()]).toEqual([]);
    // Gone from the ingress controller: plain http, since the host has no certificate any more.
    expect((await d.network.fetch(`${web!.url.replace('https:', 'http:')}/index.html`)).status).toBe(404);
  });

  it('expose: loadbalancer reports the address the cluster assigns, on the published ports', async () => {
    const { inputs, ctx, result } = await upExample(52, { expose: 'loadbalancer' });
    const svc = d.sim.store
      .list('', 'services', { namespace: NAMESPACE, labelSelector: 'preevy.dev/env-id=shop-pr-52' })
      .find((s) => (s.spec as { type?: string }).type === 'LoadBalancer')!;
    const address = (svc.status as { loadBalancer: { ingress: Array<{ ip: string }> } }).loadBalancer
      .ingress[0]!.ip;
    expect(result.urls.map((u) => [u.service, u.port, u.url])).toEqual([
      ['api', 8080, `http://${address}:8080`],
      ['web', 80, `http://${address}:8000`],
    ]);
    expect((await d.network.fetch(`${result.urls[1]!.url}/greeting.txt`)).body).toBe(
      'Hello from the api service\n',
    );
    expect(d.engineOf('shop-pr-52')).toBeDefined();
    await down(inputs, ctx);
    expect(d.engineOf('shop-pr-52')).toBeUndefined();
  });
});
