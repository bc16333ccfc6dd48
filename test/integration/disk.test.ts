import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { down } from '../../src/commands/down.js';
import { up } from '../../src/commands/up.js';
import { ActionError, errorMessage } from '../../src/errors.js';
import { bundledTemplate } from '../../src/inputs.js';
import { dockerJson } from '../sim/kubelet/docker/api.js';
import { tcp } from '../sim/kubelet/docker/support.js';
import {
  captureLog,
  ctxFor,
  describeWithDocker,
  expectRejects,
  useDockerSuite,
  writeProject,
} from './harness.js';

const MiB = 2 ** 20;

/**
 * A compile stage that leaves 3 MiB of build cache behind (its layers are not in the image, so nothing but the
 * cache holds them), and a small final image.
 */
const PROJECT = {
  'app/Dockerfile': [
    'FROM busybox:local AS build',
    'COPY version.txt /version.txt',
    'RUN dd if=/dev/zero of=/scratch bs=1024 count=3072 2>/dev/null && cp /version.txt /out',
    'FROM busybox:local',
    'COPY --from=build /out /out',
    'CMD ["sleep", "3600"]',
    '',
  ].join('\n'),
  'app/version.txt': 'one\n',
  'compose.yaml': 'services:\n  app:\n    build: ./app\n    init: true\n',
};

describeWithDocker('the environment disk', () => {
  const d = useDockerSuite();

  const dockerApiOf = (envId: string) => {
    const engine = d.engineOf(envId);
    if (!engine) throw new Error(`no docker host engine for ${envId}`);
    return tcp(engine);
  };
  /** What `docker system df` counts as build cache, read from the engine itself. */
  const buildCacheBytes = async (envId: string) => {
    const df = await dockerJson<{ BuildCache?: Array<{ Size: number }> | null }>(
      dockerApiOf(envId),
      'GET',
      '/system/df',
    );
    return (df.BuildCache ?? []).reduce((n, c) => n + c.Size, 0);
  };
  const danglingImages = async (envId: string) => {
    const filters = encodeURIComponent(JSON.stringify({ dangling: ['true'] }));
    return dockerJson<unknown[]>(dockerApiOf(envId), 'GET', `/images/json?filters=${filters}`);
  };

  it('prunes the build cache above half of storage-size after a deploy, keeping the newest, and the previous image', async () => {
    const envId = 'shop-pr-41';
    const ctx = (log = captureLog()) => ({ ...ctxFor(41, log), envId });
    const wd = writeProject(PROJECT);
    // An 8Mi disk keeps 4 MiB of cache: one build's 3 MiB, not two.
    const inputs = d.inputs({
      template: bundledTemplate(),
      workingDirectory: wd,
      readyTimeoutMs: 60_000,
      storage: { size: '8Mi', bytes: 8 * MiB },
    });

    let log = captureLog();
    await up(inputs, ctx(log));
    const first = await buildCacheBytes(envId);
    expect(first).toBeGreaterThan(3 * MiB);
    expect(first).toBeLessThanOrEqual(4 * MiB);
    const firstLog = log.lines.join('\n');

    // A push that rebuilds: the new build's cache stays, the older build's goes, and so does the image it made
    // (untagged by the new one).
    writeFileSync(path.join(wd, 'app/version.txt'), 'two\n');
    log = captureLog();
    await up(inputs, ctx(log));
    expect(log.lines.join('\n')).not.toMatch(/Deployment\/\S+ changed/);
    const second = await buildCacheBytes(envId);
    expect(second).toBeGreaterThan(3 * MiB);
    expect(second).toBeLessThanOrEqual(4 * MiB);
    expect(await danglingImages(envId)).toEqual([]);
    expect(firstLog).toMatch(/Pruned the environment's Docker: 0 B of build cache above 4 MiB/);
    expect(log.lines.join('\n')).toMatch(
      /Pruned the environment's Docker: 3(\.\d)? MiB of build cache above 4 MiB \(8Mi storage-size, half kept for the next build\), 1 dangling image\(s\)/,
    );

    await down(inputs, ctx());
  });

  it('a build that runs out of space says the environment disk is full and what to do', async () => {
    const envId = 'shop-pr-42';
    const ctx = { ...ctxFor(42), envId };
    // A real ENOSPC from the kernel: a 1 MiB tmpfs that the build step writes 2 MiB into.
    const wd = writeProject({
      'app/Dockerfile':
        'FROM busybox:local\nRUN --mount=type=tmpfs,target=/t,size=1m dd if=/dev/zero of=/t/fill bs=1024 count=2048\n',
      'compose.yaml': 'services:\n  app:\n    build: ./app\n',
    });
    const inputs = d.inputs({
      template: bundledTemplate(),
      workingDirectory: wd,
      readyTimeoutMs: 60_000,
      storage: { size: '6Gi', bytes: 6 * 2 ** 30 },
    });
    const err = await expectRejects(up(inputs, ctx));
    const text = errorMessage(err);
    expect(text).toMatch(/The environment's disk is full \(storage-size 6Gi\): .*No space left on device/);
    expect(text).toMatch(/docker compose build failed/);
    expect(text).toMatch(/Raise the storage-size input \(now 6Gi\)/);
    expect(text).toMatch(/keeps at most 3 GiB of build cache/);
    // The PR comment's log block shows the step's own line, which compose printed on stdout.
    expect(err).toBeInstanceOf(ActionError);
    expect((err as ActionError).logs).toMatch(/dd: error writing '\/t\/fill': No space left on device/);
    await down(inputs, ctx);
  });
});
