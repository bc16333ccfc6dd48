import { afterAll, beforeAll, expect, it } from 'vitest';
import { down } from '../../src/commands/down.js';
import { up } from '../../src/commands/up.js';
import { errorMessage } from '../../src/errors.js';
import { bundledTemplate } from '../../src/inputs.js';
import { dockerJson } from '../sim/kubelet/docker/api.js';
import { type FarServer, startFarServer } from '../sim/kubelet/docker/far-server.js';
import { tcp } from '../sim/kubelet/docker/support.js';
import { ctxFor, describeWithDocker, expectRejects, useDockerSuite, writeProject } from './harness.js';

const POD_MTU = 1400;
const BYTES = 4 * 1024 * 1024;

/**
 * Issue: pod networks often run below 1500 while dind's bridge and compose's networks default to 1500; where
 * path-MTU discovery is blocked, builds and pulls stall. Here the pod network's MTU is 1400 and the server is
 * beyond a hop that drops the oversized packets and the ICMP that would report them (far-server.ts).
 */
describeWithDocker('a pod network below 1500', () => {
  const d = useDockerSuite({}, { podMtu: POD_MTU });
  let server: FarServer;
  beforeAll(async () => {
    server = await startFarServer('test/far-server', BYTES);
  });
  afterAll(async () => {
    await server?.stop();
  });

  // A download in a build step (4 MiB: well under a second when it flows); a stalled one is stopped by
  // `timeout` (exit 143) instead of hanging the build. Not `wget -T`: busybox 1.35's crashes with it.
  const project = () =>
    writeProject({
      'app/Dockerfile': `FROM busybox:local\nRUN timeout 15 wget -q -O /big.bin ${server.url} && test "$(wc -c < /big.bin)" -eq ${BYTES}\nCMD ["sleep", "3600"]\n`,
      'compose.yaml': 'services:\n  app:\n    build: ./app\n    init: true\n',
    });

  it('with the bundled template, a large download inside a docker build completes, and compose networks use the pod MTU', async () => {
    const inputs = d.inputs({
      template: bundledTemplate(),
      workingDirectory: project(),
      readyTimeoutMs: 60_000,
    });
    const ctx = { ...ctxFor(71), envId: 'shop-pr-71' };
    await up(inputs, ctx);
    const engine = d.engineOf('shop-pr-71')!;
    const networks = await dockerJson<Array<{ Name: string; Options: Record<string, string> }>>(
      tcp(engine),
      'GET',
      '/networks',
    );
    const byName = Object.fromEntries(networks.map((n) => [n.Name, n.Options]));
    const composeNet = networks.find((n) => n.Name.endsWith('_default'));
    expect(composeNet?.Options['com.docker.network.driver.mtu']).toBe(String(POD_MTU));
    expect(byName.bridge?.['com.docker.network.driver.mtu']).toBe(String(POD_MTU));
    await down(inputs, ctx);
  });

  it('a template that leaves dockerd at MTU 1500 stalls on the same download (the simulator reproduces the issue)', async () => {
    // The test template is written like Preevy's: dockerd with no MTU flag.
    const inputs = d.inputs({ workingDirectory: project(), readyTimeoutMs: 60_000 });
    const ctx = { ...ctxFor(72), envId: 'shop-pr-72' };
    const err = await expectRejects(up(inputs, ctx));
    expect(errorMessage(err)).toMatch(/docker compose build failed/);
    // The download was stopped by `timeout`: it stalled, it did not fail.
    expect(errorMessage(err)).toMatch(/wget[\s\S]*exit code: 143/);
    await down(inputs, ctx);
  });
});
