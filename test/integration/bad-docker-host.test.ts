import { afterAll, beforeAll, expect, it } from 'vitest';
import { down } from '../../src/commands/down.js';
import { up } from '../../src/commands/up.js';
import { errorMessage } from '../../src/errors.js';
import { bundledTemplate } from '../../src/inputs.js';
import { type KubeSim, startKubeSim } from '../sim/kube/index.js';
import type { SimObject } from '../sim/kube/types.js';
import { type DockerPodBackend, dockerPodBackend } from '../sim/kubelet/docker/backend.js';
import { httpGet } from '../sim/kubelet/docker/support.js';
import { EXEC_PROTOCOLS_V4_ONLY, installKubeletEndpoints } from '../sim/kubelet/endpoints.js';
import {
  captureLog,
  ctxFor,
  describeWithDocker,
  expectRejects,
  inputsFor,
  NAMESPACE,
  WEB_PROJECT,
  writeProject,
} from './harness.js';

const envOf = (pod: SimObject | string) =>
  typeof pod === 'string' ? undefined : pod.metadata.labels?.['preevy.dev/env-id'];

/** Docker-host pods of these environments are broken. */
const NO_TAR = 'shop-pr-41';
const NO_DOCKER = 'shop-pr-42';

/** Like harness.startDockerSim, with a backend and exec endpoint of the test's choice. */
async function dockerSim(backend: DockerPodBackend, execProtocols?: readonly string[]) {
  const sim = await startKubeSim({ namespaces: [NAMESPACE], podBackend: backend });
  installKubeletEndpoints(sim, backend, { execProtocols });
  return {
    sim,
    backend,
    close: async () => {
      await sim.close();
      await backend.close();
    },
  };
}

function dockerHostPodName(sim: KubeSim, envId: string): string {
  const pod = sim.store
    .list('', 'pods', { namespace: NAMESPACE, labelSelector: `preevy.dev/env-id=${envId}` })
    .find((p) => !p.metadata.deletionTimestamp);
  if (!pod) throw new Error(`no pod for ${envId}`);
  return pod.metadata.name;
}

/** The inputs of a deploy of WEB_PROJECT with the bundled template. */
const webInputs = (sim: KubeSim, readyTimeoutMs: number) =>
  inputsFor(sim, {
    template: bundledTemplate(),
    workingDirectory: writeProject(WEB_PROJECT),
    readyTimeoutMs,
  });

/** What a failed deploy says of the environment it leaves behind. */
const keptForInspection = (envId: string) =>
  new RegExp(`environment ${envId} .* stays in namespace ${NAMESPACE} for inspection`);

describeWithDocker('a docker host that breaks the contract', () => {
  let bad: Awaited<ReturnType<typeof dockerSim>>;
  let old: Awaited<ReturnType<typeof dockerSim>>;
  beforeAll(async () => {
    const backend = dockerPodBackend({
      tarMissing: (pod) => envOf(pod) === NO_TAR,
      noDocker: (pod) => envOf(pod) === NO_DOCKER,
    });
    bad = await dockerSim(backend);
    old = await dockerSim(dockerPodBackend(), EXEC_PROTOCOLS_V4_ONLY);
  });
  afterAll(async () => {
    await Promise.all([bad?.close(), old?.close()]);
  });

  it('without tar in its first container: the upload fails naming the pod and the contract', async () => {
    const inputs = webInputs(bad.sim, 60_000);
    const ctx = { ...ctxFor(41), envId: NO_TAR };
    const err = await expectRejects(up(inputs, ctx));
    const pod = dockerHostPodName(bad.sim, NO_TAR);
    const text = errorMessage(err);
    expect(text).toMatch(
      new RegExp(`first container of the docker host \\(pod ${pod}, container [\\w-]+\\) cannot run tar`),
    );
    expect(text).toMatch(/tar: not found/);
    expect(text).toMatch(/template contract requires `tar`.* first container of the docker-host Deployment/);
    expect(text).toMatch(keptForInspection(NO_TAR));
    await down(inputs, ctx);
  });

  it('with nothing on port 2375: a bounded failure that says so, naming the pod', async () => {
    const inputs = webInputs(bad.sim, 6_000);
    const ctx = { ...ctxFor(42), envId: NO_DOCKER };
    const t0 = Date.now();
    const err = await expectRejects(up(inputs, ctx));
    expect(Date.now() - t0).toBeLessThan(30_000);
    const pod = dockerHostPodName(bad.sim, NO_DOCKER);
    const text = errorMessage(err);
    expect(text).toMatch(new RegExp(`[Nn]othing answers on port 2375 of pod ${pod}`));
    expect(text).toMatch(/dockerd/);
    expect(text).toMatch(keptForInspection(NO_DOCKER));
    await down(inputs, ctx);
  });

  it('on a cluster that speaks only v4 exec: the upload is length-prefixed and the service answers', async () => {
    const inputs = webInputs(old.sim, 60_000);
    const log = captureLog();
    const ctx = { ...ctxFor(43, log), envId: 'shop-pr-43' };
    const result = await up(inputs, ctx);
    expect(result.upload).toEqual({ files: 2, bytes: 13, skippedFiles: 0, upToDate: false });
    expect(log.lines.join('\n')).toMatch(/only v4\.channel\.k8s\.io .*files are read twice/);
    const engine = old.backend.engineFor(`${NAMESPACE}/${dockerHostPodName(old.sim, 'shop-pr-43')}`)!;
    expect(await httpGet(engine.ip, 8080, '/index.html')).toBe('v1\n');
    expect(await httpGet(engine.ip, 8080, '/other.html')).toBe('unchanged\n');
    await down(inputs, ctx);
  });
});
