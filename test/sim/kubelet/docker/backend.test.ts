import type net from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import type { SimObject } from '../../kube/types.js';
import { dockerMtu, dockerPodBackend, dockerTcpHost } from './backend.js';
import { listImages } from './images.js';
import { collect, dockerUnavailable, leftovers } from './support.js';
import { tarStream } from './tar.js';

const unavailable = dockerUnavailable();

function pod(name: string, labels: Record<string, string> = {}): SimObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: 'sim',
      uid: `uid-${name}`,
      resourceVersion: '1',
      creationTimestamp: new Date().toISOString(),
      labels,
    },
    spec: { containers: [{ name: 'docker', image: 'docker:dind' }] },
  };
}

/** A pod whose one container runs docker:dind with this command and these args. */
const withArgs = (command: unknown, args: unknown): SimObject => ({
  ...pod('p'),
  spec: { containers: [{ name: 'docker', image: 'docker:dind', command, args }] },
});

describe("where a pod's dockerd listens for TCP", () => {
  it.each([
    [
      'the bundled templates',
      undefined,
      ['dockerd', '--host=tcp://127.0.0.1:2375', '--tls=false'],
      '127.0.0.1',
    ],
    ["Preevy's templates", ['dockerd', '--host=tcp://0.0.0.0:2375'], undefined, '0.0.0.0'],
    ['-H and localhost', undefined, ['dockerd', '-H', 'tcp://localhost:2375'], '127.0.0.1'],
    [
      'a start script',
      ['sh', '-c'],
      ['exec dockerd-entrypoint.sh dockerd --host=tcp://127.0.0.1:2375'],
      '127.0.0.1',
    ],
    ['both', undefined, ['dockerd', '-H', 'tcp://127.0.0.1:2375', '-H', 'tcp://0.0.0.0:2376'], '0.0.0.0'],
    ["docker:dind's default (no --host)", undefined, undefined, '0.0.0.0'],
  ])('%s', (_, command, args, expected) => {
    expect(dockerTcpHost(withArgs(command, args))).toBe(expected);
  });
});

describe("the MTU a pod's dockerd gives its networks", () => {
  it.each([
    [
      "the bundled templates' start script",
      ['sh', '-c', 'mtu=$(cat /sys/class/net/eth0/mtu); exec x --mtu="$mtu"'],
      ['dockerd'],
      'pod',
    ],
    ['a fixed --mtu', undefined, ['dockerd', '--mtu=1450'], 1450],
    ['none', undefined, ['dockerd', '--host=tcp://0.0.0.0:2375'], undefined],
  ])('%s', (_, command, args, expected) => {
    expect(dockerMtu(withArgs(command, args))).toBe(expected);
  });
});

const dockerHost = (name: string) => pod(name, { 'app.kubernetes.io/component': 'docker-host' });

/** Raw HTTP/1.0 request over a forwarded socket; resolves with the whole answer or rejects with the error. */
function rawRequest(sock: net.Socket, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let data = '';
    sock.on('error', reject);
    sock.on('connect', () => sock.write(request));
    sock.on('data', (c: Buffer) => {
      data += c.toString();
    });
    sock.on('end', () => resolve(data));
  });
}

describe.skipIf(unavailable)(`docker pod backend${unavailable ? ` (skipped: ${unavailable})` : ''}`, () => {
  const backend = dockerPodBackend();
  const bad = dockerPodBackend({ tarMissing: true, noDocker: true });
  afterAll(async () => {
    await Promise.all([backend.close(), bad.close()]);
  });

  it('leaves pods that are not docker hosts virtual', async () => {
    const web = pod('web');
    const t0 = Date.now();
    await backend.start(web);
    expect(Date.now() - t0).toBeLessThan(50);
    expect(backend.engineFor('sim/web')).toBeUndefined();
    expect(() => backend.exec(web, ['true'])).toThrow(/has no docker engine/);
    await backend.stop(web);
  });

  it('gives a docker-host pod an engine with busybox:local, exec and port-forward', async () => {
    const host = dockerHost('env-1-dind');
    await backend.start(host);
    const engine = backend.engineFor('sim/env-1-dind');
    expect(engine).toBeDefined();
    expect(backend.engineFor('env-1-dind')).toBe(engine);
    expect(await listImages(engine!)).toContain('busybox:local');

    // What the action does: tar over exec into the upload directory.
    const upload = backend.exec(
      host,
      ['tar', 'x', '-C', '/var/lib/preevy'],
      tarStream([{ type: 'file', name: 'compose.yaml', data: 'services: {}\n' }]),
    );
    expect(await collect(upload)).toMatchObject({ code: 0 });
    const cat = await collect(backend.exec(host, ['cat', '/var/lib/preevy/compose.yaml']));
    expect(cat.stdout).toBe('services: {}\n');

    // And the Docker API through the forward.
    const ping = await rawRequest(backend.portForward(host, 2375), 'GET /_ping HTTP/1.0\r\n\r\n');
    expect(ping).toMatch(/^HTTP\/1\.[01] 200 OK[\s\S]*\r\n\r\nOK$/);
    await expect(rawRequest(backend.portForward(host, 2376), 'x')).rejects.toMatchObject({
      code: 'ECONNREFUSED',
    });

    // A second start (a container restart) keeps the engine.
    await backend.start(host);
    expect(backend.engineFor('sim/env-1-dind')).toBe(engine);

    await backend.stop(host);
    expect(backend.engineFor('sim/env-1-dind')).toBeUndefined();
    expect(leftovers(engine!)).toEqual([]);
  });

  it('simulates a docker host without tar and without dockerd', async () => {
    const host = dockerHost('broken-dind');
    await bad.start(host);
    const engine = bad.engineFor('sim/broken-dind');
    expect(engine?.dockerd).toBe(false);

    const tar = await collect(bad.exec(host, ['tar', 'x', '-C', '/var/lib/preevy']));
    expect(tar.error?.code).toBe('ENOENT');
    expect(tar.error?.message).toBe(
      'OCI runtime exec failed: exec failed: unable to start container process: exec: "tar": executable file not found in $PATH: unknown',
    );
    // Other commands still run in the pod.
    expect(await collect(bad.exec(host, ['sh', '-c', 'echo ok']))).toMatchObject({ code: 0, stdout: 'ok\n' });

    await expect(
      rawRequest(bad.portForward(host, 2375), 'GET /_ping HTTP/1.0\r\n\r\n'),
    ).rejects.toMatchObject({
      code: 'ECONNREFUSED',
    });

    await bad.close();
    expect(bad.engineFor('sim/broken-dind')).toBeUndefined();
    expect(leftovers(engine!)).toEqual([]);
  });

  it('a stop that arrives during start leaves no engine behind', async () => {
    const host = dockerHost('short-lived');
    const started = backend.start(host);
    const stopped = backend.stop(host);
    await Promise.all([started, stopped]);
    expect(backend.engineFor('sim/short-lived')).toBeUndefined();
  });
});
