import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NAMESPACE, startDockerSim } from '../../../integration/harness.js';
import type { DockerPodBackend } from '../../kubelet/docker/backend.js';
import { dockerUnavailable, runContainer } from '../../kubelet/docker/support.js';
import type { KubeSim } from '../index.js';
import type { SimNetwork } from './index.js';
import { Api, eventually, readyEndpoints, rule } from './test-support.js';

const unavailable = dockerUnavailable();

describe.skipIf(unavailable)(
  `the network in front of a docker-host pod${unavailable ? ` (skipped: ${unavailable})` : ''}`,
  () => {
    let sim: KubeSim;
    let backend: DockerPodBackend;
    let network: SimNetwork;
    let close: () => Promise<void>;
    let api: Api;
    const labels = { 'app.kubernetes.io/component': 'docker-host', 'app.kubernetes.io/instance': 'env-1' };

    beforeAll(async () => {
      ({ sim, backend, network, close } = await startDockerSim());
      api = new Api(sim, NAMESPACE);
      await api.create({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'env-1-dind', labels },
        spec: { containers: [{ name: 'docker', image: 'docker:dind' }] },
      });
      const engine = await eventually(() => {
        const e = backend.engineFor(`${NAMESPACE}/env-1-dind`);
        if (!e) throw new Error('no engine yet');
        return e;
      }, 90_000);
      // What `docker compose up` leaves on the docker host: a container publishing a port on the pod.
      await runContainer(engine, {
        cmd: [
          'sh',
          '-c',
          'mkdir -p /www && echo hello from the engine > /www/index.html && exec httpd -f -p 8080 -h /www',
        ],
        ports: [8080],
      });
      await api.service('env-1', labels, [{ name: 'p8080', port: 8080, targetPort: 8080 }]);
      await api.service('env-1-lb', labels, [{ name: 'p8080', port: 80, targetPort: 8080 }], 'LoadBalancer');
      await eventually(() => expect(readyEndpoints(sim, NAMESPACE, 'env-1')).toEqual(['env-1-dind']), 30_000);
    });

    afterAll(async () => {
      await close?.();
    });

    it('serves the container through an Ingress (http and https)', async () => {
      await api.ingress('env-1', {
        tls: [{ hosts: ['web-8080-env-1.preview.example.test'], secretName: 'preview-tls' }],
        rules: [rule('web-8080-env-1.preview.example.test', ['/', 'Prefix', 'env-1', 8080])],
      });
      const res = await eventually(async () => {
        const r = await network.fetch('https://web-8080-env-1.preview.example.test/index.html');
        expect(r.status).toBe(200);
        return r;
      }, 10_000);
      expect(res.body).toBe('hello from the engine\n');
      expect(res.headers.server).toBe('nginx');
      const plain = await network.fetch('http://web-8080-env-1.preview.example.test/index.html');
      expect(plain.status).toBe(308);
      // A port nothing listens on in the pod: the ingress controller's 502.
      await api.service('env-1-closed', labels, [{ port: 80, targetPort: 9999 }]);
      await api.ingress('env-1-closed', {
        rules: [rule('closed.preview.example.test', ['/', 'Prefix', 'env-1-closed', 80])],
      });
      await eventually(async () =>
        expect((await network.fetch('http://closed.preview.example.test/')).status).toBe(502),
      );
    });

    it('serves the container through a LoadBalancer Service', async () => {
      const ip = await eventually(() => {
        const svc = sim.store.get({
          group: '',
          resource: 'services',
          namespace: NAMESPACE,
          name: 'env-1-lb',
        });
        const address = svc?.status?.loadBalancer?.ingress?.[0]?.ip as string | undefined;
        if (!address) throw new Error('no address yet');
        return address;
      });
      const res = await eventually(async () => {
        const r = await network.fetch(`http://${ip}/index.html`);
        expect(r.status).toBe(200);
        return r;
      }, 10_000);
      expect(res.body).toBe('hello from the engine\n');
    });
  },
);
