import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { down } from '../../src/commands/down.js';
import { up } from '../../src/commands/up.js';
import { errorMessage } from '../../src/errors.js';
import { bundledTemplate } from '../../src/inputs.js';
import type { DockerPodBackend } from '../sim/docker/backend.js';
import { dockerUnavailable, httpGet } from '../sim/docker/support.js';
import type { KubeSim } from '../sim/kube/index.js';
import {
  captureLog,
  ctxFor,
  envObjects,
  expectRejects,
  inputsFor,
  NAMESPACE,
  startDockerSim,
  WEB_PROJECT,
  writeProject,
} from './harness.js';

const skip = dockerUnavailable();

/**
 * `up` with a compose project, through the Kubernetes API only, as on a real cluster: the bundled template's
 * docker host (a real Docker engine behind the simulated pod), the port-forward tunnel, tar over exec.
 */
describe.skipIf(skip !== undefined)(`up with a compose project${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let backend: DockerPodBackend;
  let sim: KubeSim;
  let close: () => Promise<void>;
  beforeAll(async () => {
    ({ sim, backend, close } = await startDockerSim());
  });
  afterAll(async () => {
    await close?.();
  });

  const engineOf = () => {
    const pod = sim.store
      .list('', 'pods', { namespace: NAMESPACE, labelSelector: 'preevy.dev/env-id=shop-pr-21' })
      .find((p) => !p.metadata.deletionTimestamp);
    return pod && backend.engineFor(`${NAMESPACE}/${pod.metadata.name}`);
  };

  it('deploys, redeploys one changed file with the build cached, and down leaves nothing', async () => {
    const wd = writeProject(WEB_PROJECT);
    const inputs = inputsFor(sim, {
      template: bundledTemplate(),
      workingDirectory: wd,
      readyTimeoutMs: 60_000,
    });
    const first = await up(inputs, ctxFor(21));
    expect(first.ports).toEqual([{ service: 'web', target: 80, published: 8080, protocol: 'tcp' }]);
    expect(first.upload).toEqual({ files: 2, bytes: 13, skippedFiles: 0 });
    const engine = engineOf()!;
    expect(await httpGet(engine.ip, 8080, '/index.html')).toBe('v1\n');

    writeFileSync(path.join(wd, 'site/index.html'), 'version two\n');
    const log = captureLog();
    const second = await up(inputs, ctxFor(21, log));
    expect(second.id).toBe(first.id);
    expect(second.upload).toEqual({ files: 1, bytes: 12, skippedFiles: 1 });
    expect(log.lines.join('\n')).toMatch(/CACHED/);
    expect(await httpGet(engine.ip, 8080, '/index.html')).toBe('version two\n');

    await down(inputs, ctxFor(21));
    expect(engineOf()).toBeUndefined();
    expect(backend.engineFor(engine.name)).toBeUndefined();
  });

  it('a service whose build fails shows the failing step', async () => {
    const wd = writeProject({
      'app/Dockerfile': 'FROM busybox:local\nRUN echo about to fail && false\n',
      'compose.yaml': 'services:\n  broken:\n    build: ./app\n',
    });
    const inputs = inputsFor(sim, {
      template: bundledTemplate(),
      workingDirectory: wd,
      readyTimeoutMs: 60_000,
    });
    const err = await expectRejects(up(inputs, { ...ctxFor(22), envId: 'shop-pr-22' }));
    expect(errorMessage(err)).toMatch(/docker compose build failed/);
    expect(errorMessage(err)).toMatch(/false|about to fail/);
    expect(errorMessage(err)).toMatch(/environment shop-pr-22 .* stays in namespace previews/);
    await down(inputs, { ...ctxFor(22), envId: 'shop-pr-22' });
  });

  it('a bind mount outside the working directory, or a compose file that does not parse, is refused before any object exists', async () => {
    const wd = writeProject({
      'compose.yaml': 'services:\n  web:\n    image: busybox:local\n    volumes: ["/etc:/host-etc"]\n',
    });
    const inputs = inputsFor(sim, {
      template: bundledTemplate(),
      workingDirectory: wd,
      readyTimeoutMs: 60_000,
    });
    const err = await expectRejects(up(inputs, { ...ctxFor(23), envId: 'shop-pr-23' }));
    expect(errorMessage(err)).toMatch(
      /service "web" volume \/host-etc: \/etc is outside the working directory/,
    );
    const broken = writeProject({ 'compose.yaml': 'services:\n  web:\n    image: [unclosed\n' }, 'bridge-');
    const err2 = await expectRejects(
      up({ ...inputs, workingDirectory: broken }, { ...ctxFor(23), envId: 'shop-pr-23' }),
    );
    expect(errorMessage(err2)).toMatch(/docker compose could not load compose\.yaml in .*bridge-/);
    expect([...envObjects(sim, 'shop-pr-23').keys()]).toEqual([]);
  });
});
