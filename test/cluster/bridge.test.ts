import { readFileSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { down } from '../../src/commands/down.js';
import { up } from '../../src/commands/up.js';
import { errorMessage } from '../../src/errors.js';
import { bundledTemplate } from '../../src/inputs.js';
import { captureLog, ctxFor, expectRejects, WEB_PROJECT, writeProject } from '../integration/harness.js';
import { dockerJson } from '../sim/kubelet/docker/api.js';
import { BASE_IMAGE, describeWithDocker, inputsOn, useCluster, withBaseImage } from './fixture.js';

/** WEB_PROJECT, with a build context that ignores its notes. */
const PROJECT = withBaseImage({
  ...WEB_PROJECT,
  'app/Dockerfile':
    'FROM busybox:local\nCOPY version.txt /version.txt\nCMD ["httpd", "-f", "-p", "80", "-h", "/www"]\n',
  // httpd is PID 1, which ignores SIGTERM: the init lets a recreate stop it at once.
  'compose.yaml':
    'services:\n  web:\n    build: ./app\n    init: true\n    ports: ["8080:80"]\n    volumes: ["./site:/www:ro"]\n',
  'app/.dockerignore': 'notes.txt\n',
  'app/notes.txt': 'not part of the image\n',
  'app/version.txt': 'one\n',
});

/**
 * `up` with a compose project, through the Kubernetes API only, as on a real cluster: the bundled template's
 * docker host (a real Docker engine behind the simulated pod), the port-forward tunnel, tar over exec.
 */
describeWithDocker('up with a compose project', () => {
  const c = useCluster({ suite: 'bridge', docker: true });

  const containers = async (envId: string) => {
    const list = await dockerJson<Array<{ Id: string; State: string }>>(
      await c.reach.docker(envId),
      'GET',
      '/containers/json?all=1',
    );
    return list.map((x) => `${x.Id.slice(0, 12)} ${x.State}`);
  };

  it('deploys, redeploys one changed file with the build cached, and down leaves nothing', async () => {
    const wd = writeProject(withBaseImage(WEB_PROJECT));
    const inputs = inputsOn(c, {
      template: bundledTemplate(),
      workingDirectory: wd,
      readyTimeoutMs: 60_000,
    });
    const first = await up(inputs, ctxFor(21));
    expect(first.ports).toEqual([{ service: 'web', target: 80, published: 8080, protocol: 'tcp' }]);
    expect(first.upload).toEqual({ files: 2, bytes: 13, skippedFiles: 0, upToDate: false });
    expect(await c.reach.httpGet('shop-pr-21', 8080, '/index.html')).toBe('v1\n');

    writeFileSync(path.join(wd, 'site/index.html'), 'version two\n');
    const log = captureLog();
    const second = await up(inputs, ctxFor(21, log));
    expect(second.id).toBe(first.id);
    expect(second.upload).toEqual({ files: 1, bytes: 12, skippedFiles: 1, upToDate: false });
    expect(log.lines.join('\n')).toMatch(/CACHED/);
    expect(await c.reach.httpGet('shop-pr-21', 8080, '/index.html')).toBe('version two\n');

    await down(inputs, ctxFor(21));
    expect(await c.reach.hostPod('shop-pr-21')).toBeUndefined();
    expect(await c.pods('preevy.dev/env-id=shop-pr-21')).toEqual([]);
  });

  it('a service whose build fails shows the failing step', async () => {
    const wd = writeProject({
      'app/Dockerfile': `FROM ${BASE_IMAGE}\nRUN echo about to fail && false\n`,
      'compose.yaml': 'services:\n  broken:\n    build: ./app\n',
    });
    const inputs = inputsOn(c, {
      template: bundledTemplate(),
      workingDirectory: wd,
      readyTimeoutMs: 60_000,
    });
    const err = await expectRejects(up(inputs, { ...ctxFor(22), envId: 'shop-pr-22' }));
    expect(errorMessage(err)).toMatch(/docker compose build failed/);
    expect(errorMessage(err)).toMatch(/false|about to fail/);
    expect(errorMessage(err)).toMatch(
      new RegExp(`environment shop-pr-22 .* stays in namespace ${c.namespace}`),
    );
    await down(inputs, { ...ctxFor(22), envId: 'shop-pr-22' });
  });

  it('a bind mount outside the working directory, or a compose file that does not parse, is refused before any object exists', async () => {
    const wd = writeProject({
      'compose.yaml': `services:\n  web:\n    image: ${BASE_IMAGE}\n    volumes: ["/etc:/host-etc"]\n`,
    });
    const inputs = inputsOn(c, {
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
    expect([...(await c.envObjects('shop-pr-23')).keys()]).toEqual([]);
  });

  it('skips everything on an unchanged or freshly checked-out project, and deploys again on a change or a stopped service', async () => {
    const wd = writeProject(PROJECT);
    const inputs = inputsOn(c, {
      template: bundledTemplate(),
      workingDirectory: wd,
      readyTimeoutMs: 60_000,
    });
    const first = await up(inputs, ctxFor(31));
    expect(first.upload).toMatchObject({ files: 2, upToDate: false });
    const running = await containers('shop-pr-31');
    expect(running).toHaveLength(1);

    // The same checkout: nothing to do.
    let log = captureLog();
    const same = await up(inputs, ctxFor(31, log));
    expect(same.upload).toEqual({ files: 0, bytes: 0, skippedFiles: 2, upToDate: true });
    expect(log.lines.join('\n')).toMatch(/Nothing changed since the last deploy/);
    expect(log.lines.join('\n')).not.toMatch(/docker compose|CACHED/);
    expect(await containers('shop-pr-31')).toEqual(running);

    // A fresh checkout of the same commit: every mtime is new, the content is not.
    const later = new Date(Date.now() + 60_000);
    for (const f of Object.keys(PROJECT)) utimesSync(path.join(wd, f), later, later);
    const fresh = await up(inputs, ctxFor(31));
    expect(fresh.upload).toEqual({ files: 0, bytes: 0, skippedFiles: 2, upToDate: true });

    // A file the build context's .dockerignore leaves out.
    writeFileSync(path.join(wd, 'app/notes.txt'), 'edited notes\n');
    expect((await up(inputs, ctxFor(31))).upload?.upToDate).toBe(true);
    expect(await containers('shop-pr-31')).toEqual(running);

    // A file of the build context: built and started again.
    writeFileSync(path.join(wd, 'app/version.txt'), 'two\n');
    log = captureLog();
    const rebuilt = await up(inputs, ctxFor(31, log));
    expect(rebuilt.upload).toMatchObject({ files: 0, upToDate: false });
    expect(log.lines.join('\n')).toMatch(/Recreated/);
    const afterBuild = await containers('shop-pr-31');
    expect(afterBuild).not.toEqual(running);

    // A service stopped behind the action's back: compose starts it again.
    const [id] = afterBuild[0]!.split(' ');
    await dockerJson(await c.reach.docker('shop-pr-31'), 'POST', `/containers/${id}/stop?t=0`);
    log = captureLog();
    const restarted = await up(inputs, ctxFor(31, log));
    expect(restarted.upload?.upToDate).toBe(false);
    expect(log.lines.join('\n')).toMatch(/service web: 0 of 1 container\(s\) running: deploying again/);
    expect((await containers('shop-pr-31')).every((c) => c.endsWith(' running'))).toBe(true);
    expect(await c.reach.httpGet('shop-pr-31', 8080, '/index.html')).toBe('v1\n');

    // A bind-mounted file: uploaded, and served.
    writeFileSync(path.join(wd, 'site/index.html'), 'v2\n');
    const edited = await up(inputs, ctxFor(31));
    expect(edited.upload).toMatchObject({ files: 1, bytes: 3, upToDate: false });
    expect(await c.reach.httpGet('shop-pr-31', 8080, '/index.html')).toBe('v2\n');
    expect(readFileSync(path.join(wd, 'site/other.html'), 'utf8')).toBe('unchanged\n');

    await down(inputs, ctxFor(31));
  });
});
