import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { extractCommand } from '../../src/bridge/copy.js';
import { loadComposeModel } from '../../src/compose/model.js';
import { rewriteForDockerHost } from '../../src/compose/rewrite.js';
import { composeUp } from '../../src/compose/run.js';
import { type Manifest, planUpload, tarStream } from '../../src/compose/upload.js';
import { pinPorts } from '../../src/compose/urls.js';
import { cleanDockerEnv, runProcess } from '../../src/util/process.js';
import { type Engine, startEngine } from '../sim/kubelet/docker/engines.js';
import { ensureBusyboxImage } from '../sim/kubelet/docker/images.js';
import { dockerUnavailable, httpGet } from '../sim/kubelet/docker/support.js';
import { captureLog } from './harness.js';

const skip = dockerUnavailable();

/** Model → rewrite → upload (tar into the pod) → build and up, against a real docker-host engine. */
describe.skipIf(skip !== undefined)(
  `the compose chain on a docker host${skip ? ` (skipped: ${skip})` : ''}`,
  () => {
    let engine: Engine;
    let wd: string;
    beforeAll(async () => {
      engine = await startEngine({ name: 'compose-chain' });
      await ensureBusyboxImage(engine);
      wd = mkdtempSync(path.join(tmpdir(), 'project-'));
      mkdirSync(path.join(wd, 'app'));
      mkdirSync(path.join(wd, 'site'));
      writeFileSync(
        path.join(wd, 'app/Dockerfile'),
        'FROM busybox:local\nRUN echo built > /built\nCMD ["httpd", "-f", "-p", "80", "-h", "/www"]\n',
      );
      writeFileSync(path.join(wd, 'site/index.html'), 'hello v1\n');
      writeFileSync(path.join(wd, 'site/other.html'), 'unchanged\n');
      writeFileSync(
        path.join(wd, 'compose.yaml'),
        'services:\n  web:\n    build: ./app\n    ports: ["8080:80"]\n    volumes: ["./site:/www:ro", "data:/data"]\nvolumes:\n  data: {}\n',
      );
    });
    afterAll(async () => {
      await engine?.stop();
    });

    /** With `uploadOnly`, the files are uploaded and compose is not run. */
    async function deploy(previous?: Manifest, dir = wd, uploadOnly = false) {
      const project = {
        workingDirectory: dir,
        files: [],
        profiles: [],
        envFiles: [],
        // One project per directory: a second one under the same name would remove the first one's services.
        projectName: dir === wd ? 'shop-pr-1' : 'shop-pr-2',
      };
      const env = cleanDockerEnv(
        { PATH: process.env.PATH, HOME: process.env.HOME },
        `tcp://${engine.ip}:2375`,
      );
      const model = await loadComposeModel(project, env);
      const rewritten = rewriteForDockerHost(model, { workingDirectory: dir, envId: project.projectName });
      const plan = await planUpload({ workingDirectory: dir, roots: rewritten.uploads, previous });
      // The command the action runs in the pod's container (copy.ts), here through the engine's own exec.
      const child = engine.exec(extractCommand(rewritten.remoteDir));
      const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
      await pipeline(tarStream(plan), child.stdin!);
      expect(await exited).toBe(0);
      const log = captureLog();
      if (!uploadOnly) await composeUp({ project, model: pinPorts(rewritten.model).model, env, log });
      return { plan, log };
    }

    it('deploys, then redeploys a one-file change with only that file uploaded and the build cached', async () => {
      const first = await deploy();
      expect(await httpGet(engine.ip, 8080, '/index.html')).toBe('hello v1\n');
      expect(first.plan.send.filter((e) => e.type === 'file').map((e) => e.name)).toEqual([
        'site/index.html',
        'site/other.html',
      ]);

      writeFileSync(path.join(wd, 'site/index.html'), 'hello v2, longer\n');
      const second = await deploy(first.plan.manifest);
      expect(second.plan.send.filter((e) => e.type === 'file').map((e) => e.name)).toEqual([
        'site/index.html',
      ]);
      expect(second.plan.sendBytes).toBe('hello v2, longer\n'.length);
      expect(await httpGet(engine.ip, 8080, '/index.html')).toBe('hello v2, longer\n');
      // BuildKit reports the RUN step as cached on the second build.
      expect(second.log.lines.join('\n')).toMatch(/CACHED/);
    });

    it("builds on the environment's engine when the job selected another buildx builder", async () => {
      // What docker/setup-buildx-action leaves: a docker-container builder, current in ~/.docker/buildx and in
      // BUILDX_BUILDER. Its endpoint has no daemon here, so a build that went there would fail.
      const home = mkdtempSync(path.join(tmpdir(), 'home-'));
      const buildx = path.join(home, '.docker', 'buildx');
      mkdirSync(path.join(buildx, 'instances'), { recursive: true });
      const endpoint = `unix://${path.join(home, 'no-daemon.sock')}`;
      writeFileSync(
        path.join(buildx, 'current'),
        JSON.stringify({ Key: endpoint, Name: 'builder-1', Global: false }),
      );
      writeFileSync(
        path.join(buildx, 'instances', 'builder-1'),
        JSON.stringify({
          Name: 'builder-1',
          Driver: 'docker-container',
          Nodes: [{ Name: 'builder-10', Endpoint: endpoint, Platforms: null, Flags: null, DriverOpts: null }],
          Dynamic: false,
        }),
      );
      const jobEnv = { PATH: process.env.PATH, HOME: home, BUILDX_BUILDER: 'builder-1' };
      const dir = mkdtempSync(path.join(tmpdir(), 'project-'));
      writeFileSync(path.join(dir, 'Dockerfile'), 'FROM busybox:local\nRUN echo built > /built\n');
      writeFileSync(
        path.join(dir, 'compose.yaml'),
        'services:\n  job:\n    build: .\n    command: ["sleep", "600"]\n',
      );
      const project = {
        workingDirectory: dir,
        files: [],
        profiles: [],
        envFiles: [],
        projectName: 'shop-pr-2',
      };
      const env = cleanDockerEnv(jobEnv, `tcp://${engine.ip}:2375`);
      const model = await loadComposeModel(project, env);
      await composeUp({ project, model, env, jobEnv, log: captureLog() });
      const images = await runProcess('docker', ['image', 'ls', '--quiet', 'shop-pr-2-job'], {
        env,
        captureStdout: true,
      });
      expect(images.stdout.trim()).not.toBe('');
    });

    it('a changed file that a running container bind-mounts alone reaches it, with no restart', async () => {
      const dir = mkdtempSync(path.join(tmpdir(), 'single-'));
      writeFileSync(path.join(dir, 'page.html'), 'first\n');
      // httpd reads the file at every request: what it serves is what the container's mount shows now.
      writeFileSync(
        path.join(dir, 'compose.yaml'),
        'services:\n  single:\n    image: busybox:local\n    init: true\n    command: ["httpd", "-f", "-p", "80", "-h", "/www"]\n    ports: ["8090:80"]\n    volumes: ["./page.html:/www/index.html:ro"]\n',
      );
      const first = await deploy(undefined, dir);
      expect(await httpGet(engine.ip, 8090, '/')).toBe('first\n');
      writeFileSync(path.join(dir, 'page.html'), 'second, and longer\n');
      await deploy(first.plan.manifest, dir, true);
      expect(await httpGet(engine.ip, 8090, '/')).toBe('second, and longer\n');
    });
  },
);
