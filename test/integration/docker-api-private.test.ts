import { beforeAll, expect, it } from 'vitest';
import { down } from '../../src/commands/down.js';
import { up } from '../../src/commands/up.js';
import { bundledTemplate } from '../../src/inputs.js';
import type { Engine } from '../sim/kubelet/docker/engines.js';
import type { PodSocket } from '../sim/kubelet/docker/relay.js';
import { httpGet } from '../sim/kubelet/docker/support.js';
import {
  ctxFor,
  describeWithDocker,
  envObjects,
  NAMESPACE,
  useDockerSuite,
  WEB_PROJECT,
  writeProject,
} from './harness.js';

/** One HTTP/1.0 request over a connection made inside a pod; resolves with the whole answer. */
function request(sock: PodSocket, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let data = '';
    sock.on('error', reject);
    sock.on('data', (c: Buffer) => {
      data += c.toString();
    });
    sock.on('end', () => resolve(data));
    sock.write(`GET ${path} HTTP/1.0\r\nHost: x\r\n\r\n`);
  });
}

/**
 * Issue: dockerd on 0.0.0.0:2375 without TLS in a privileged container lets any pod of the cluster drive it (on
 * the real cluster a plain pod of the namespace connected to the docker host's pod IP on 2375). The bundled
 * templates bind it to the pod's loopback, which the kubelet's port-forward reaches and other pods do not.
 * Here a plain pod (its own network namespace on the simulated pod network) plays the neighbour.
 */
describeWithDocker('the Docker API of the docker host', () => {
  const d = useDockerSuite({}, { networked: (pod) => pod.metadata.labels?.app === 'neighbour' });
  let neighbour: Engine;
  beforeAll(async () => {
    // A bare Pod, created as a user of the namespace would: the kubelet starts it on the pod network.
    d.sim.store.create({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: 'neighbour',
        namespace: NAMESPACE,
        labels: { app: 'neighbour' },
        uid: '',
        resourceVersion: '',
        creationTimestamp: '',
      },
      spec: { containers: [{ name: 'sh', image: 'busybox' }] },
    });
    const deadline = Date.now() + 30_000;
    for (;;) {
      const engine = d.backend.engineFor(`${NAMESPACE}/neighbour`);
      if (engine) {
        neighbour = engine;
        break;
      }
      if (Date.now() > deadline) throw new Error('the neighbour pod did not start');
      await new Promise((r) => setTimeout(r, 50));
    }
  });

  it('with the bundled template, another pod is refused on 2375 but reaches the published port, and the tunnel works', async () => {
    const inputs = d.inputs({
      template: bundledTemplate(),
      workingDirectory: writeProject(WEB_PROJECT),
      readyTimeoutMs: 60_000,
      expose: 'ingress',
      domain: 'preview.test',
    });
    const ctx = { ...ctxFor(61), envId: 'shop-pr-61' };
    // Built and started through the port-forward tunnel.
    const result = await up(inputs, ctx);
    expect(result.ports).toEqual([{ service: 'web', target: 80, published: 8080, protocol: 'tcp' }]);
    const host = d.engineOf('shop-pr-61')!;

    // The pod network routes between the pods: the published port answers the neighbour...
    expect(await request(neighbour.connectInPod(8080, host.ip), '/index.html')).toMatch(/200 OK[\s\S]*v1\n$/);
    // ...and dockerd does not.
    await expect(request(neighbour.connectInPod(2375, host.ip), '/_ping')).rejects.toMatchObject({
      code: 'ECONNREFUSED',
    });
    expect(host.tcpHost).toBe('127.0.0.1');

    // Where the network plugin enforces it, only the published ports get in at all. (A real API server takes
    // this SSA from the action's ServiceAccount, fixtures kube-real-2/060 and 061; its bridge CNI ignored it,
    // as the simulator does.)
    const policies = [...envObjects(d.sim, 'shop-pr-61').values()].filter((o) => o.kind === 'NetworkPolicy');
    expect(policies.map((p) => p.spec)).toEqual([
      {
        podSelector: {
          matchLabels: {
            'app.kubernetes.io/component': 'docker-host',
            'app.kubernetes.io/instance': result.id,
          },
        },
        policyTypes: ['Ingress'],
        ingress: [{ ports: [{ protocol: 'TCP', port: 8080 }] }],
      },
    ]);

    await down(inputs, ctx);
    expect(d.engineOf('shop-pr-61')).toBeUndefined();
  });

  it('a template written for Preevy (dockerd on 0.0.0.0) still works, and exposes the API to every pod', async () => {
    const inputs = d.inputs({ workingDirectory: writeProject(WEB_PROJECT), readyTimeoutMs: 60_000 });
    const ctx = { ...ctxFor(62), envId: 'shop-pr-62' };
    await up(inputs, ctx);
    const host = d.engineOf('shop-pr-62')!;
    expect(host.tcpHost).toBe('0.0.0.0');
    expect(await httpGet(host.ip, 8080, '/index.html')).toBe('v1\n');
    expect(await request(neighbour.connectInPod(2375, host.ip), '/_ping')).toMatch(/200 OK[\s\S]*OK$/);
    await down(inputs, ctx);
  });
});
