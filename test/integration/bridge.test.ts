import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { down } from '../../src/commands/down.js';
import { connectWith, up } from '../../src/commands/up.js';
import { loadComposeModel } from '../../src/compose/model.js';
import { rewriteForDockerHost } from '../../src/compose/rewrite.js';
import { composeUp } from '../../src/compose/run.js';
import { planUpload, tarStream } from '../../src/compose/upload.js';
import { pinPorts } from '../../src/compose/urls.js';
import { bundledTemplate } from '../../src/inputs.js';
import { execInPod } from '../../src/kube/exec.js';
import { dockerHostPod } from '../../src/kube/pods.js';
import { openTunnel, waitForDocker } from '../../src/kube/tunnel.js';
import { cleanDockerEnv } from '../../src/util/process.js';
import { type DockerPodBackend, dockerPodBackend } from '../sim/docker/backend.js';
import { ensureBusyboxImage } from '../sim/docker/images.js';
import { dockerUnavailable, httpGet } from '../sim/docker/support.js';
import { type KubeSim, startKubeSim } from '../sim/kube/index.js';
import { installKubeletEndpoints } from '../sim/kube/ws/index.js';
import { captureLog, ctxFor, inputsFor, NAMESPACE } from './harness.js';

const skip = dockerUnavailable();

/**
 * The Docker bridge through the Kubernetes API only, as on a real cluster: the bundled template's docker
 * host, its pod found from the Deployment, Docker reached through the port-forward tunnel, files uploaded
 * with tar over exec, compose building and running there.
 */
describe.skipIf(skip !== undefined)(
  `the Docker bridge on the simulator${skip ? ` (skipped: ${skip})` : ''}`,
  () => {
    let backend: DockerPodBackend;
    let sim: KubeSim;
    beforeAll(async () => {
      backend = dockerPodBackend();
      sim = await startKubeSim({ namespaces: [NAMESPACE], podBackend: backend });
      installKubeletEndpoints(sim, backend);
    });
    afterAll(async () => {
      await sim?.close();
      await backend?.close();
    });

    it('builds and runs a compose project in the environment, and down leaves nothing in its engine', async () => {
      const inputs = inputsFor(sim, { template: bundledTemplate(), readyTimeoutMs: 60_000 });
      const result = await up(inputs, ctxFor(21));
      const log = captureLog();
      const client = await connectWith(inputs, log);
      const pod = await dockerHostPod(client, { namespace: NAMESPACE, deploymentName: result.dockerHost });
      const engine = backend.engineFor(`${NAMESPACE}/${pod.name}`)!;
      expect(engine).toBeDefined();
      // No registry here: the base image is put into the engine directly (on a real cluster it is pulled).
      await ensureBusyboxImage(engine);

      const tunnel = await openTunnel(client, { namespace: NAMESPACE, pod: pod.name, log });
      try {
        expect(tunnel.host).toBe('127.0.0.1');
        await waitForDocker(tunnel, { timeoutMs: 20_000, log });

        const wd = mkdtempSync(path.join(tmpdir(), 'bridge-'));
        mkdirSync(path.join(wd, 'app'));
        mkdirSync(path.join(wd, 'site'));
        writeFileSync(
          path.join(wd, 'app/Dockerfile'),
          'FROM busybox:local\nCMD ["httpd", "-f", "-p", "80", "-h", "/www"]\n',
        );
        writeFileSync(path.join(wd, 'site/index.html'), 'through the tunnel\n');
        writeFileSync(
          path.join(wd, 'compose.yaml'),
          'services:\n  web:\n    build: ./app\n    ports: ["8080:80"]\n    volumes: ["./site:/www:ro"]\n',
        );
        const project = {
          workingDirectory: wd,
          files: [],
          profiles: [],
          envFiles: [],
          projectName: result.envId,
        };
        const env = cleanDockerEnv({ PATH: process.env.PATH, HOME: process.env.HOME }, tunnel.url);
        const rewritten = rewriteForDockerHost(await loadComposeModel(project, env), {
          workingDirectory: wd,
          envId: result.envId,
        });
        const plan = await planUpload({ workingDirectory: wd, roots: rewritten.uploads });
        const exec = await execInPod(client, {
          namespace: NAMESPACE,
          pod: pod.name,
          container: pod.container,
          command: ['sh', '-c', `mkdir -p ${rewritten.remoteDir} && tar xf - -C ${rewritten.remoteDir}`],
          stdin: tarStream(plan),
        });
        expect(exec).toMatchObject({ exitCode: 0, protocol: 'v5.channel.k8s.io' });
        await composeUp({ project, model: pinPorts(rewritten.model).model, env, log });
        expect(await httpGet(engine.ip, 8080, '/index.html')).toBe('through the tunnel\n');
      } finally {
        await tunnel.close();
        client.close();
      }

      await down(inputs, ctxFor(21));
      expect(backend.engineFor(`${NAMESPACE}/${pod.name}`)).toBeUndefined();
    });
  },
);
