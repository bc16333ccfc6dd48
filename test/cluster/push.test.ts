import { renameSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { expect, it } from 'vitest';
import { down } from '../../src/commands/down.js';
import { up } from '../../src/commands/up.js';
import { bundledTemplate } from '../../src/inputs.js';
import { captureLog, ctxFor, writeProject } from '../integration/harness.js';
import { dockerJson } from '../sim/kubelet/docker/api.js';
import { BASE_IMAGE, describeWithDocker, inputsOn, useCluster, withBaseImage } from './fixture.js';

/**
 * web serves a bind-mounted directory; conf reads a single-file bind mount once, at start (a configuration),
 * and serves what it read; other binds a file the push leaves alone. httpd is PID 1 and ignores SIGTERM: the
 * init lets a recreate stop it at once.
 */
const PROJECT = withBaseImage({
  'site/index.html': 'home\n',
  'site/old.html': 'old page\n',
  'site/a.html': 'page a\n',
  'app.conf': 'setting=1\n',
  'other.txt': 'other\n',
  'compose.yaml': `services:
  web:
    image: busybox:local
    init: true
    command: ["httpd", "-f", "-p", "80", "-h", "/www"]
    ports: ["8080:80"]
    volumes: ["./site:/www:ro"]
  conf:
    image: busybox:local
    init: true
    command: ["sh", "-c", "mkdir -p /srv && cp /etc/app.conf /srv/index.html && exec httpd -f -p 80 -h /srv"]
    ports: ["8081:80"]
    volumes: ["./app.conf:/etc/app.conf:ro"]
  other:
    image: busybox:local
    init: true
    command: ["httpd", "-f", "-p", "80", "-h", "/www"]
    ports: ["8082:80"]
    volumes: ["./other.txt:/www/index.html:ro"]
`,
});

/** The status of one GET (httpGet waits for a 200). */
function statusOf(
  { host, port }: { host: string; port: number },
  urlPath: string,
): Promise<number | undefined> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host, port, path: urlPath, agent: false, timeout: 5_000 }, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

/** A push to the PR reaches the running environment whole, through `up` as the action runs it. */
describeWithDocker('a push to a deployed PR', () => {
  const c = useCluster({ suite: 'push', docker: true });

  /** Each service's container id. */
  const containers = async (envId: string) => {
    const list = await dockerJson<Array<{ Id: string; Labels: Record<string, string> }>>(
      await c.reach.docker(envId),
      'GET',
      '/containers/json?all=1',
    );
    return Object.fromEntries(list.map((x) => [x.Labels['com.docker.compose.service'], x.Id]));
  };

  it('removes deleted and renamed files, and recreates only the services whose bind-mounted files changed', async () => {
    const envId = 'shop-pr-41';
    const wd = writeProject(PROJECT);
    const inputs = inputsOn(c, {
      template: bundledTemplate(),
      workingDirectory: wd,
      readyTimeoutMs: 60_000,
    });
    await up(inputs, ctxFor(41));
    const httpGet = (port: number, urlPath: string) => c.reach.httpGet(envId, port, urlPath);
    expect(await httpGet(8080, '/old.html')).toBe('old page\n');
    expect(await httpGet(8081, '/')).toBe('setting=1\n');
    const before = await containers(envId);

    // The push: a page deleted, one renamed, the configuration changed.
    rmSync(path.join(wd, 'site/old.html'));
    renameSync(path.join(wd, 'site/a.html'), path.join(wd, 'site/b.html'));
    writeFileSync(path.join(wd, 'app.conf'), 'setting=2\n');
    const log = captureLog();
    const pushed = await up(inputs, ctxFor(41, log));

    const web = await c.reach.forward(envId, 8080);
    expect(await statusOf(web, '/old.html')).toBe(404);
    expect(await statusOf(web, '/a.html')).toBe(404);
    expect(await httpGet(8080, '/b.html')).toBe('page a\n');
    // Read at start: only a new start reads it.
    expect(await httpGet(8081, '/')).toBe('setting=2\n');
    const after = await containers(envId);
    expect(after.other).toBe(before.other);
    expect(after.conf).not.toBe(before.conf);
    expect(after.web).not.toBe(before.web);
    expect(pushed.upload).toMatchObject({ files: 2, upToDate: false });
    expect(log.lines.join('\n')).toMatch(/2 files no longer in the project removed/);
    expect(log.lines.join('\n')).toMatch(/Bind-mounted files of conf, web changed: recreating them/);

    // Nothing changed since: nothing done, and no service started again.
    const again = await up(inputs, ctxFor(41));
    expect(again.upload).toMatchObject({ files: 0, upToDate: true });
    expect(await containers(envId)).toEqual(after);

    await down(inputs, ctxFor(41));
  });

  it('a deploy that failed after its upload leaves the recreate to the next one', async () => {
    const envId = 'shop-pr-42';
    const wd = writeProject(
      withBaseImage({
        'app.conf': 'setting=1\n',
        'app/Dockerfile': 'FROM busybox:local\nRUN echo ok\nCMD ["sleep", "3600"]\n',
        'compose.yaml': `services:
  conf:
    image: busybox:local
    init: true
    command: ["sh", "-c", "mkdir -p /srv && cp /etc/app.conf /srv/index.html && exec httpd -f -p 80 -h /srv"]
    ports: ["8091:80"]
    volumes: ["./app.conf:/etc/app.conf:ro"]
  worker:
    build: ./app
    init: true
`,
      }),
    );
    const inputs = inputsOn(c, {
      template: bundledTemplate(),
      workingDirectory: wd,
      readyTimeoutMs: 60_000,
    });
    await up(inputs, ctxFor(42));
    const httpGet = (urlPath: string) => c.reach.httpGet(envId, 8091, urlPath);
    expect(await httpGet('/')).toBe('setting=1\n');

    // The configuration changes in a push whose build fails: uploaded, but nothing deployed.
    writeFileSync(path.join(wd, 'app.conf'), 'setting=2\n');
    writeFileSync(path.join(wd, 'app/Dockerfile'), `FROM ${BASE_IMAGE}\nRUN false\n`);
    await expect(up(inputs, ctxFor(42))).rejects.toThrow(/docker compose build failed/);
    expect(await httpGet('/')).toBe('setting=1\n');

    // The fix touches only the Dockerfile; the configuration uploaded before is still news to conf.
    writeFileSync(
      path.join(wd, 'app/Dockerfile'),
      `FROM ${BASE_IMAGE}\nRUN echo ok\nCMD ["sleep", "3600"]\n`,
    );
    const fixed = await up(inputs, ctxFor(42));
    expect(fixed.upload).toMatchObject({ files: 0, upToDate: false });
    expect(await httpGet('/')).toBe('setting=2\n');

    await down(inputs, ctxFor(42));
  });
});
