import { spawn } from 'node:child_process';
import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type KubeSim, startKubeSim } from '../index.js';
import { installNetwork, nginxPage, type SimNetwork } from './index.js';
import { buildRoutes, route } from './routes.js';
import { Api, connectError, eventually, readyEndpoints, rule, VirtualPods } from './test-support.js';

const NS = 'net';

async function start(opts: Parameters<typeof installNetwork>[2] = {}) {
  const sim = await startKubeSim({ namespaces: [NS] });
  sim.pods.startDelayMs = 10;
  sim.pods.readyDelayMs = 10;
  const pods = new VirtualPods();
  const network = await installNetwork(sim, pods.dial, opts);
  return { sim, pods, network, api: new Api(sim, NS) };
}

/** A pod serving on 8080 (its container port `http`), ready in the Service's Endpoints. */
async function webPod(
  env: { sim: KubeSim; pods: VirtualPods; api: Api },
  name: string,
  labels: Record<string, string>,
  handler?: Parameters<VirtualPods['serve']>[3],
) {
  await env.pods.serve(NS, name, 8080, handler);
  await env.api.pod(name, labels);
}

async function json(network: SimNetwork, url: string, init?: Parameters<SimNetwork['fetch']>[1]) {
  const res = await network.fetch(url, init);
  expect(res.status, `${url}: ${res.body}`).toBe(200);
  return JSON.parse(res.body) as {
    pod: string;
    url: string;
    method: string;
    body: string;
    headers: Record<string, string>;
  };
}

describe('ingress routing (ingress-nginx rules)', () => {
  const ing = (name: string, spec: Record<string, unknown>, created: string) => ({
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: { name, namespace: 'a', uid: name, resourceVersion: '1', creationTimestamp: created },
    spec,
  });
  const table = buildRoutes([
    ing('newer', { rules: [rule('x.test', ['/', 'Prefix', 'late', 80])] }, '2024-01-02T00:00:00Z'),
    ing(
      'older',
      {
        defaultBackend: { service: { name: 'fallback', port: { number: 80 } } },
        rules: [
          rule(
            'x.test',
            ['/', 'Prefix', 'root', 80],
            ['/api', 'Prefix', 'api', 80],
            ['/api/v1', 'Exact', 'exact', 80],
          ),
          rule('*.wild.test', ['/', 'ImplementationSpecific', 'wild', 'http']),
          rule('nopath.test'),
        ],
      },
      '2024-01-01T00:00:00Z',
    ),
    ing(
      'catch',
      { defaultBackend: { service: { name: 'catch', port: { number: 80 } } } },
      '2024-01-03T00:00:00Z',
    ),
  ]);
  const svc = (host: string, url: string) => route(table, host, url).backend?.service;

  it('matches hosts exactly, `*.` for one label, case and port aside, else the catch-all', () => {
    expect(svc('X.TEST:8443', '/')).toBe('root');
    expect(svc('a.wild.test', '/')).toBe('wild');
    expect(route(table, 'a.wild.test', '/').backend?.port).toBe('http');
    expect(svc('a.b.wild.test', '/')).toBe('catch');
    expect(svc('wild.test', '/')).toBe('catch');
    expect(svc('unknown.test', '/anything')).toBe('catch');
  });

  it('picks Exact, then the longest Prefix by path elements; the oldest Ingress wins a path', () => {
    expect(svc('x.test', '/api')).toBe('api');
    expect(svc('x.test', '/api/')).toBe('api');
    expect(svc('x.test', '/api/v2?q=1')).toBe('api');
    expect(svc('x.test', '/api/v1')).toBe('exact');
    expect(svc('x.test', '/api/v1/more')).toBe('api');
    expect(svc('x.test', '/apix')).toBe('root');
    expect(svc('x.test', '/%61pi/x')).toBe('api');
    expect(svc('x.test', '//api//x')).toBe('api');
  });

  it('uses the defaultBackend of the Ingress that made the server when no path matches', () => {
    expect(svc('nopath.test', '/')).toBe('fallback');
  });
});

describe('installNetwork with virtual pods', () => {
  let env: Awaited<ReturnType<typeof start>>;
  let sim: KubeSim;
  let network: SimNetwork;
  let api: Api;

  beforeAll(async () => {
    env = await start({ loadBalancerDelayMs: 150 });
    ({ sim, network, api } = env);
    await webPod(env, 'web-1', { app: 'web' });
    await webPod(env, 'web-2', { app: 'web' });
    await webPod(env, 'api-1', { app: 'api' });
    await api.service('web', { app: 'web' }, [{ name: 'http', port: 80, targetPort: 'http' }]);
    await api.service('api', { app: 'api' }, [{ name: 'http', port: 8000, targetPort: 8080 }]);
    await api.service('empty', { app: 'nothing' }, [{ port: 80, targetPort: 8080 }]);
    await eventually(() => {
      expect(readyEndpoints(sim, NS, 'web').sort()).toEqual(['web-1', 'web-2']);
      expect(readyEndpoints(sim, NS, 'api')).toEqual(['api-1']);
    });
  });

  afterAll(async () => {
    await network.close();
    await sim.close();
    await env.pods.close();
  });

  it('creates the default IngressClass at install', () => {
    const cls = sim.store.get({ group: 'networking.k8s.io', resource: 'ingressclasses', name: 'sim' });
    expect(cls?.spec).toEqual({ controller: 'k8s.io/ingress-nginx' });
    expect(cls?.metadata.annotations).toEqual({ 'ingressclass.kubernetes.io/is-default-class': 'true' });
    expect(network.ingress).toEqual({
      host: '127.0.0.1',
      httpPort: expect.any(Number),
      httpsPort: expect.any(Number),
    });
  });

  it('routes by host and path to ready pods, round-robin, and writes the Ingress status', async () => {
    await api.ingress('shop', {
      ingressClassName: 'sim',
      rules: [rule('shop.example.test', ['/', 'Prefix', 'web', 80], ['/api', 'Prefix', 'api', 'http'])],
    });
    const first = await json(network, 'http://shop.example.test/hello?x=1');
    const second = await json(network, 'http://shop.example.test/hello?x=1');
    expect([first.pod, second.pod].sort()).toEqual(['web-1', 'web-2']);
    expect(first.url).toBe('/hello?x=1');
    expect(first.headers).toMatchObject({
      host: 'shop.example.test',
      'x-forwarded-host': 'shop.example.test',
      'x-forwarded-proto': 'http',
      'x-forwarded-port': '80',
      'x-real-ip': '127.0.0.1',
      'x-request-id': expect.stringMatching(/^[0-9a-f]{32}$/),
    });
    expect((await json(network, 'http://shop.example.test/api/items')).pod).toBe('api-1');
    expect((await json(network, 'http://shop.example.test/apiary')).pod).toMatch(/^web-/);

    const res = await network.fetch('http://shop.example.test/');
    expect(res.headers.server).toBe('nginx');

    await eventually(() => {
      const ing = sim.store.get({
        group: 'networking.k8s.io',
        resource: 'ingresses',
        namespace: NS,
        name: 'shop',
      });
      expect(ing?.status).toEqual({ loadBalancer: { ingress: [{ ip: '127.0.0.1' }] } });
    });
    const events = sim.store
      .list('', 'events', { namespace: NS })
      .filter((e) => e.involvedObject?.name === 'shop')
      .map((e) => `${e.reason}: ${e.message}`);
    expect(events).toEqual(['Sync: Scheduled for sync']);
  });

  it('serves Ingresses without a class (default class), ignores other classes', async () => {
    await api.ingress('classless', { rules: [rule('classless.example.test', ['/', 'Prefix', 'web', 80])] });
    await api.ingress('foreign', {
      ingressClassName: 'other',
      rules: [rule('foreign.example.test', ['/', 'Prefix', 'web', 80])],
    });
    expect((await json(network, 'http://classless.example.test/')).pod).toMatch(/^web-/);
    const res = await network.fetch('http://foreign.example.test/');
    expect(res.status).toBe(404);
    await new Promise((r) => setTimeout(r, 50));
    const foreign = sim.store.get({
      group: 'networking.k8s.io',
      resource: 'ingresses',
      namespace: NS,
      name: 'foreign',
    });
    expect(foreign?.status?.loadBalancer?.ingress).toBeUndefined();
  });

  it('answers 404 for unknown hosts, 503 without ready endpoints, 502 when the pod refuses', async () => {
    const unknown = await network.fetch('http://nobody.example.test/');
    expect(unknown.status).toBe(404);
    expect(unknown.body).toBe(nginxPage(404));
    expect(unknown.body).toContain('<title>404 Not Found</title>');

    await api.service('refusing', { app: 'refusing' }, [{ port: 80, targetPort: 9999 }]);
    await api.pod('refusing-1', { app: 'refusing' });
    await eventually(() => expect(readyEndpoints(sim, NS, 'refusing')).toEqual(['refusing-1']));
    await api.ingress('broken', {
      rules: [
        rule(
          'broken.example.test',
          ['/empty', 'Prefix', 'empty', 80],
          ['/missing', 'Prefix', 'no-such-service', 80],
          ['/wrong-port', 'Prefix', 'web', 81],
          ['/refused', 'Prefix', 'refusing', 80],
        ),
      ],
    });
    const status = async (path: string) => (await network.fetch(`http://broken.example.test${path}`)).status;
    expect(await status('/empty')).toBe(503);
    expect(await status('/missing')).toBe(503);
    expect(await status('/wrong-port')).toBe(503);
    expect(await status('/')).toBe(404);
    const refused = await network.fetch('http://broken.example.test/refused');
    expect(refused.status).toBe(502);
    expect(refused.body).toContain('502 Bad Gateway');
    expect(env.pods.dialled).toContain(`${NS}/refusing-1:9999`);
  });

  it('stops routing to a pod that is no longer ready, and to a deleted Ingress', async () => {
    await webPod(env, 'solo-1', { app: 'solo' });
    await api.service('solo', { app: 'solo' }, [{ port: 80, targetPort: 8080 }]);
    await api.ingress('solo', { rules: [rule('solo.example.test', ['/', 'Prefix', 'solo', 80])] });
    await eventually(async () =>
      expect((await json(network, 'http://solo.example.test/')).pod).toBe('solo-1'),
    );
    await api.delete('Pod', 'solo-1');
    await eventually(async () => expect((await network.fetch('http://solo.example.test/')).status).toBe(503));
    await api.delete('Ingress', 'solo');
    await eventually(async () => expect((await network.fetch('http://solo.example.test/')).status).toBe(404));
  });

  it('streams bodies both ways, and enforces proxy-body-size', async () => {
    let release!: () => void;
    const released = new Promise<void>((r) => {
      release = r;
    });
    await webPod(env, 'stream-1', { app: 'stream' }, (req, res) => {
      if (req.method === 'POST') {
        // Answers before the request body has ended: the proxy must pass each part on as it comes.
        res.writeHead(200, { 'content-type': 'text/plain' });
        req.on('data', (c: Buffer) => res.write(`got ${c.toString()};`));
        req.on('end', () => res.end('done'));
        return;
      }
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('first;');
      void released.then(() => res.end('second'));
    });
    await api.service('stream', { app: 'stream' }, [{ port: 80, targetPort: 8080 }]);
    await api.ingress(
      'stream',
      { rules: [rule('stream.example.test', ['/', 'Prefix', 'stream', 80])] },
      { 'nginx.ingress.kubernetes.io/proxy-body-size': '10' },
    );
    await eventually(() => expect(readyEndpoints(sim, NS, 'stream')).toEqual(['stream-1']));

    const raw = (method: string, onResponse: (res: http.IncomingMessage, req: http.ClientRequest) => void) =>
      new Promise<void>((resolve, reject) => {
        const req = http.request(
          {
            host: '127.0.0.1',
            port: network.ingress.httpPort,
            method,
            path: '/',
            headers: { host: 'stream.example.test' },
            agent: false,
          },
          (res) => {
            onResponse(res, req);
            res.on('end', resolve);
          },
        );
        req.on('error', reject);
        if (method === 'GET') req.end();
        else req.write('a');
      });

    const got: string[] = [];
    await raw('GET', (res) => {
      res.on('data', (c: Buffer) => {
        got.push(c.toString());
        if (got.length === 1) release();
      });
    });
    expect(got).toEqual(['first;', 'second']);

    const echoed: string[] = [];
    await raw('POST', (res, req) => {
      res.on('data', (c: Buffer) => {
        echoed.push(c.toString());
        if (echoed.length === 1) req.write('b');
        if (echoed.length === 2) req.end();
      });
    });
    expect(echoed.join('')).toBe('got a;got b;done');

    const tooBig = await network
      .fetch('http://stream.example.test/', {
        method: 'POST',
        headers: { 'content-length': '11' },
        timeoutMs: 2_000,
      })
      .catch((err: Error) => err);
    expect(tooBig).toMatchObject({ status: 413 });
  });

  it('passes upgrades (WebSocket) through', async () => {
    const server = await env.pods.serve(NS, 'ws-1', 8080);
    server.on('upgrade', (_req, socket: net.Socket) => {
      socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n');
      socket.on('data', (c: Buffer) => socket.write(`echo:${c.toString()}`));
      socket.on('end', () => socket.end());
    });
    await api.pod('ws-1', { app: 'ws' });
    await api.service('ws', { app: 'ws' }, [{ port: 80, targetPort: 8080 }]);
    await api.ingress('ws', { rules: [rule('ws.example.test', ['/', 'Prefix', 'ws', 80])] });
    await eventually(() => expect(readyEndpoints(sim, NS, 'ws')).toEqual(['ws-1']));
    const reply = await new Promise<string>((resolve, reject) => {
      const req = http.request({
        host: '127.0.0.1',
        port: network.ingress.httpPort,
        path: '/socket',
        headers: { host: 'ws.example.test', connection: 'Upgrade', upgrade: 'echo' },
        agent: false,
      });
      req.on('upgrade', (res, socket) => {
        expect(res.statusCode).toBe(101);
        socket.once('data', (c: Buffer) => {
          resolve(c.toString());
          socket.destroy();
        });
        socket.write('ping');
      });
      req.on('error', reject);
      req.end();
    });
    expect(reply).toBe('echo:ping');
  });

  describe('TLS', () => {
    beforeAll(async () => {
      await api.ingress('secure', {
        tls: [{ hosts: ['secure.example.test', '*.wild.example.test'], secretName: 'does-not-exist' }],
        rules: [
          rule('secure.example.test', ['/', 'Prefix', 'web', 80]),
          rule('*.wild.example.test', ['/', 'Prefix', 'api', 8000]),
          rule('plain.example.test', ['/', 'Prefix', 'web', 80]),
        ],
      });
      await api.ingress(
        'no-redirect',
        {
          tls: [{ hosts: ['noredirect.example.test'] }],
          rules: [rule('noredirect.example.test', ['/', 'Prefix', 'web', 80])],
        },
        { 'nginx.ingress.kubernetes.io/ssl-redirect': 'false' },
      );
    });

    const peer = (servername: string | undefined) =>
      new Promise<tls.PeerCertificate & { authorized: boolean }>((resolve, reject) => {
        const s = tls.connect({
          host: '127.0.0.1',
          port: network.ingress.httpsPort,
          ...(servername ? { servername } : {}),
          ca: sim.caPem,
          rejectUnauthorized: false,
        });
        s.once('secureConnect', () => {
          resolve({ ...s.getPeerCertificate(), authorized: s.authorized });
          s.destroy();
        });
        s.once('error', reject);
      });

    it('terminates TLS for the hosts in spec.tls with a certificate for the host from the simulator CA', async () => {
      const res = await json(network, 'https://secure.example.test/tls');
      expect(res.pod).toMatch(/^web-/);
      expect(res.headers['x-forwarded-proto']).toBe('https');

      const cert = await peer('secure.example.test');
      expect(cert.authorized).toBe(true);
      expect(cert.subjectaltname).toBe('DNS:secure.example.test');
      expect(cert.issuer.CN).toBe('kube-sim-ca');

      // A wildcard TLS host: its certificate is the wildcard one.
      expect((await json(network, 'https://a.wild.example.test/')).pod).toBe('api-1');
      expect((await peer('a.wild.example.test')).subjectaltname).toBe('DNS:*.wild.example.test');
    });

    it('serves the fake certificate for other hosts, which no client trusts', async () => {
      await expect(network.fetch('https://plain.example.test/')).rejects.toMatchObject({
        code: 'DEPTH_ZERO_SELF_SIGNED_CERT',
      });
      const fake = await peer('plain.example.test');
      expect(fake.subject.CN).toBe('Kubernetes Ingress Controller Fake Certificate');
      expect(fake.subjectaltname).toBe('DNS:ingress.local');
      expect((await peer(undefined)).subject.CN).toBe('Kubernetes Ingress Controller Fake Certificate');
    });

    it('redirects http to https for TLS hosts unless ssl-redirect is false', async () => {
      const res = await network.fetch('http://secure.example.test/path?q=1');
      expect(res.status).toBe(308);
      expect(res.headers.location).toBe('https://secure.example.test/path?q=1');
      expect(res.body).toBe(nginxPage(308));
      expect((await network.fetch('http://plain.example.test/')).status).toBe(200);
      expect((await network.fetch('http://noredirect.example.test/')).status).toBe(200);
      expect((await network.fetch('https://noredirect.example.test/')).status).toBe(200);
    });

    it('uses the certificate of the TLS secret when it holds one', async () => {
      const { issueCert } = await import('../certs.js');
      const own = await issueCert(sim.caPem, ['own.example.test'], 'from-the-secret');
      await api.create({
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'own-tls' },
        type: 'kubernetes.io/tls',
        data: {
          'tls.crt': Buffer.from(own.certPem).toString('base64'),
          'tls.key': Buffer.from(own.keyPem).toString('base64'),
        },
      });
      await api.ingress('own', {
        tls: [{ hosts: ['own.example.test'], secretName: 'own-tls' }],
        rules: [rule('own.example.test', ['/', 'Prefix', 'web', 80])],
      });
      await eventually(async () =>
        expect((await peer('own.example.test')).subject.CN).toBe('from-the-secret'),
      );
      expect((await network.fetch('https://own.example.test/')).status).toBe(200);
    });
  });

  describe('LoadBalancer Services', () => {
    const addressOf = (name: string) => {
      const svc = sim.store.get({ group: '', resource: 'services', namespace: NS, name });
      return svc?.status?.loadBalancer?.ingress?.[0]?.ip as string | undefined;
    };

    it('gives each Service its own address after the delay; two publish the same port', async () => {
      await webPod(env, 'lb-a-1', { app: 'lb-a' });
      await webPod(env, 'lb-b-1', { app: 'lb-b' });
      // When the address is written, timed at the write itself: a busy machine can only make it later.
      const created = new Map<string, number>();
      const addressed = new Map<string, number>();
      const stop = sim.store.subscribe('', 'services', ({ type, object: o }) => {
        if (type === 'ADDED') created.set(o.metadata.name, Date.now());
        if (o.status?.loadBalancer?.ingress?.length && !addressed.has(o.metadata.name))
          addressed.set(o.metadata.name, Date.now());
      });
      await api.service('lb-a', { app: 'lb-a' }, [{ port: 80, targetPort: 8080 }], 'LoadBalancer');
      await api.service(
        'lb-b',
        { app: 'lb-b' },
        [{ name: 'web', port: 80, targetPort: 'http' }],
        'LoadBalancer',
      );
      const a = await eventually(() => addressOf('lb-a') ?? Promise.reject(new Error('no address yet')));
      const b = await eventually(() => addressOf('lb-b') ?? Promise.reject(new Error('no address yet')));
      stop();
      for (const name of ['lb-a', 'lb-b']) {
        expect(addressed.get(name)! - created.get(name)!, name).toBeGreaterThanOrEqual(140);
      }
      expect(a).not.toBe(b);
      expect(a).toMatch(/^127\.(?!0\.)\d+\.\d+\.\d+$/);
      const svc = sim.store.get({ group: '', resource: 'services', namespace: NS, name: 'lb-a' });
      expect(svc?.status).toEqual({ loadBalancer: { ingress: [{ ip: a, ipMode: 'VIP' }] } });
      await eventually(() => expect(readyEndpoints(sim, NS, 'lb-b')).toEqual(['lb-b-1']));

      expect((await json(network, `http://${a}/`)).pod).toBe('lb-a-1');
      expect((await json(network, `http://${b}:80/x`)).pod).toBe('lb-b-1');
      expect(network.loadBalancers().get(`${NS}/lb-a`)).toEqual([`${a}:80`]);

      const events = sim.store
        .list('', 'events', { namespace: NS })
        .filter((e) => e.involvedObject?.name === 'lb-a')
        .map((e) => e.reason);
      expect(events).toEqual(['EnsuringLoadBalancer', 'EnsuredLoadBalancer']);
    });

    it('follows port changes, and closes listeners and connections when the Service goes', async () => {
      const ip = addressOf('lb-a') as string;
      // A connection open through the balancer, ended by the deletion below.
      const open = net.connect(80, ip);
      await new Promise((r) => open.once('connect', r));
      const openClosed = new Promise((r) => open.once('close', r));

      await api.patch('Service', 'lb-a', { spec: { ports: [{ port: 8081, targetPort: 8080 }] } });
      await eventually(async () => expect(await connectError(ip, 80)).toBe('ECONNREFUSED'));
      expect((await json(network, `http://${ip}:8081/`)).pod).toBe('lb-a-1');
      expect(addressOf('lb-a')).toBe(ip);
      await openClosed;

      const again = net.connect(8081, ip);
      await new Promise((r) => again.once('connect', r));
      const againClosed = new Promise((r) => again.once('close', r));
      await api.delete('Service', 'lb-a');
      await eventually(async () => expect(await connectError(ip, 8081)).toBe('ECONNREFUSED'));
      await againClosed;
      expect(network.loadBalancers().has(`${NS}/lb-a`)).toBe(false);
    });

    it('resets connections when no pod is ready, and clears the status when the type changes', async () => {
      await api.service('lb-empty', { app: 'nothing' }, [{ port: 80, targetPort: 8080 }], 'LoadBalancer');
      const ip = await eventually(() => addressOf('lb-empty') ?? Promise.reject(new Error('no address yet')));
      await expect(network.fetch(`http://${ip}/`, { timeoutMs: 2_000 })).rejects.toMatchObject({
        code: 'ECONNRESET',
      });

      await api.patch('Service', 'lb-empty', { spec: { type: 'ClusterIP' } });
      await eventually(() => {
        const svc = sim.store.get({ group: '', resource: 'services', namespace: NS, name: 'lb-empty' });
        expect(svc?.status?.loadBalancer).toEqual({});
      });
      expect(await connectError(ip, 80)).toBe('ECONNREFUSED');
    });
  });
});

describe('a default certificate (--default-ssl-certificate)', () => {
  it('is served, trusted, for hosts without TLS of their own', async () => {
    const env = await start({ defaultCertificateHosts: ['*.preview.example.test'] });
    try {
      await webPod(env, 'web-1', { app: 'web' });
      await env.api.service('web', { app: 'web' }, [{ port: 80, targetPort: 8080 }]);
      await env.api.ingress('web', {
        rules: [rule('web-80-pr-1.preview.example.test', ['/', 'Prefix', 'web', 80])],
      });
      const res = await eventually(async () =>
        json(env.network, 'https://web-80-pr-1.preview.example.test/'),
      );
      expect(res.pod).toBe('web-1');
      // Without TLS of its own the host is not redirected, as ingress-nginx does.
      expect((await env.network.fetch('http://web-80-pr-1.preview.example.test/')).status).toBe(200);
      await expect(env.network.fetch('https://elsewhere.example.test/')).rejects.toMatchObject({
        code: 'ERR_TLS_CERT_ALTNAME_INVALID',
      });
    } finally {
      await env.network.close();
      await env.sim.close();
      await env.pods.close();
    }
  });
});

describe('closing the network', () => {
  it('ends listeners and sockets, in either order with sim.close(), more than once', async () => {
    for (const networkFirst of [true, false]) {
      const env = await start({ loadBalancerDelayMs: 0 });
      await webPod(env, 'keep-1', { app: 'keep' });
      await env.api.service('keep', { app: 'keep' }, [{ port: 80, targetPort: 8080 }], 'LoadBalancer');
      await env.api.ingress('keep', { rules: [rule('keep.example.test', ['/', 'Prefix', 'keep', 80])] });
      const ip = await eventually(() => {
        const svc = env.sim.store.get({ group: '', resource: 'services', namespace: NS, name: 'keep' });
        return (
          (svc?.status?.loadBalancer?.ingress?.[0]?.ip as string) ?? Promise.reject(new Error('no address'))
        );
      });
      await eventually(async () =>
        expect((await env.network.fetch('http://keep.example.test/')).status).toBe(200),
      );
      // Idle connections to both listeners, as a keep-alive client would leave them.
      const idle = [net.connect(80, ip), net.connect(env.network.ingress.httpPort, '127.0.0.1')];
      await Promise.all(idle.map((s) => new Promise((r) => s.once('connect', r))));
      const closed = Promise.all(idle.map((s) => new Promise((r) => s.once('close', r))));
      for (const s of idle) s.on('error', () => {});

      if (networkFirst) {
        await env.network.close();
        await env.sim.close();
      } else {
        await env.sim.close();
        await env.network.close();
      }
      await env.network.close();
      await closed;
      expect(await connectError(ip, 80)).toBe('ECONNREFUSED');
      expect(await connectError('127.0.0.1', env.network.ingress.httpPort)).toBe('ECONNREFUSED');
      await expect(env.network.fetch('http://keep.example.test/')).rejects.toThrow(/closed/);
      await env.pods.close();
    }
  });
});

describe('process exit', () => {
  it('lets the process exit once the network and the simulator are closed', async () => {
    const fixture = fileURLToPath(new URL('./exit-fixture.ts', import.meta.url));
    const child = spawn(process.execPath, ['--import', 'tsx', fixture], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      out += c.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    const [code, signal] = (await once(child, 'exit')) as [number | null, string | null];
    clearTimeout(timer);
    expect({ code, signal, out: out.trim() }).toEqual({ code: 0, signal: null, out: 'closed 200 200' });
  });
});
