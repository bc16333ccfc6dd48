/** Shared by the network tests: objects created through the API (so defaults apply), and pods served by local HTTP servers. */
import http from 'node:http';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { SimClient } from '../http-client.js';
import type { KubeSim } from '../index.js';
import type { SimObject } from '../types.js';

const PATHS: Record<string, string> = {
  Pod: '/api/v1/namespaces/{ns}/pods',
  Service: '/api/v1/namespaces/{ns}/services',
  Secret: '/api/v1/namespaces/{ns}/secrets',
  Ingress: '/apis/networking.k8s.io/v1/namespaces/{ns}/ingresses',
};

export class Api {
  readonly client: SimClient;
  constructor(
    sim: KubeSim,
    readonly namespace: string,
  ) {
    this.client = new SimClient(sim.url, sim.caPem, sim.adminToken);
  }

  private collection(kind: string): string {
    const p = PATHS[kind];
    if (!p) throw new Error(`no path for ${kind}`);
    return p.replace('{ns}', this.namespace);
  }

  async create(obj: Record<string, unknown> & { kind: string }): Promise<SimObject> {
    const res = await this.client.request({ method: 'POST', path: this.collection(obj.kind), body: obj });
    if (res.status !== 201) throw new Error(`create ${obj.kind}: ${res.status} ${res.text}`);
    return res.json as SimObject;
  }

  async patch(kind: string, name: string, patch: unknown): Promise<SimObject> {
    const res = await this.client.request({
      method: 'PATCH',
      path: `${this.collection(kind)}/${name}`,
      body: patch,
      headers: { 'Content-Type': 'application/merge-patch+json' },
    });
    if (res.status !== 200) throw new Error(`patch ${kind}/${name}: ${res.status} ${res.text}`);
    return res.json as SimObject;
  }

  async delete(kind: string, name: string): Promise<void> {
    const res = await this.client.request({ method: 'DELETE', path: `${this.collection(kind)}/${name}` });
    if (res.status !== 200 && res.status !== 202)
      throw new Error(`delete ${kind}/${name}: ${res.status} ${res.text}`);
  }

  pod(name: string, labels: Record<string, string>, containerPort = 8080): Promise<SimObject> {
    return this.create({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, labels },
      spec: {
        containers: [{ name: 'app', image: 'example/web:1', ports: [{ name: 'http', containerPort }] }],
      },
    });
  }

  service(
    name: string,
    selector: Record<string, string>,
    ports: Array<{ name?: string; port: number; targetPort?: number | string }>,
    type: 'ClusterIP' | 'LoadBalancer' = 'ClusterIP',
  ): Promise<SimObject> {
    return this.create({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name },
      spec: { type, selector, ports },
    });
  }

  ingress(
    name: string,
    spec: Record<string, unknown>,
    annotations?: Record<string, string>,
  ): Promise<SimObject> {
    return this.create({
      apiVersion: 'networking.k8s.io/v1',
      kind: 'Ingress',
      metadata: { name, ...(annotations ? { annotations } : {}) },
      spec,
    });
  }
}

/** An HTTP rule of an Ingress: host, and paths as [path, pathType, service, port]. */
export function rule(host: string | undefined, ...paths: Array<[string, string, string, number | string]>) {
  return {
    ...(host ? { host } : {}),
    http: {
      paths: paths.map(([path, pathType, service, port]) => ({
        path,
        pathType,
        backend: {
          service: { name: service, port: typeof port === 'number' ? { number: port } : { name: port } },
        },
      })),
    },
  };
}

export type PodHandler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

/** What a pod's server answers by default: who it is and what it got. */
export function echo(pod: string): PodHandler {
  return (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      res.setHeader('content-type', 'application/json');
      res.setHeader('server', 'pod-server');
      res.end(
        JSON.stringify({
          pod,
          method: req.method,
          url: req.url,
          headers: req.headers,
          body: Buffer.concat(chunks).toString('utf8'),
        }),
      );
    });
  };
}

/** "Pods" as local HTTP servers: dial(pod, port) reaches the server registered for that pod and port. */
export class VirtualPods {
  private readonly servers = new Map<string, { server: http.Server; port: number }>();
  // Upgraded sockets leave the HTTP server's bookkeeping, but server.close() still waits for them.
  private readonly sockets = new Set<net.Socket>();
  readonly dialled: string[] = [];

  async serve(
    namespace: string,
    pod: string,
    port: number,
    handler: PodHandler = echo(pod),
  ): Promise<http.Server> {
    const server = http.createServer(handler);
    server.on('connection', (s: net.Socket) => {
      this.sockets.add(s);
      s.once('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.servers.set(`${namespace}/${pod}:${port}`, {
      server,
      port: (server.address() as net.AddressInfo).port,
    });
    return server;
  }

  dial = (pod: SimObject, port: number): net.Socket => {
    const key = `${pod.metadata.namespace}/${pod.metadata.name}:${port}`;
    this.dialled.push(key);
    const target = this.servers.get(key);
    if (target) return net.connect(target.port, '127.0.0.1');
    // Nothing listens on that port of the pod.
    const s = new net.Socket();
    process.nextTick(() =>
      s.destroy(Object.assign(new Error(`connect ECONNREFUSED ${key}`), { code: 'ECONNREFUSED' })),
    );
    return s;
  };

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await Promise.all(
      [...this.servers.values()].map(
        ({ server }) =>
          new Promise<void>((resolve) => {
            server.close(() => resolve());
            server.closeAllConnections();
          }),
      ),
    );
    this.servers.clear();
  }
}

/** Retries fn until it stops throwing (bounded): for state the controllers reach on their own time. */
export async function eventually<T>(fn: () => T | Promise<T>, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await sleep(25);
    }
  }
}

/** Resolves with the error code of a TCP connect (undefined when it connects). */
export function connectError(host: string, port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const s = net.connect(port, host);
    s.once('connect', () => {
      s.destroy();
      resolve(undefined);
    });
    s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}

export function readyEndpoints(sim: KubeSim, namespace: string, service: string): string[] {
  const ep = sim.store.get({ group: '', resource: 'endpoints', namespace, name: service });
  return ((ep?.subsets ?? []) as Array<{ addresses?: Array<{ targetRef?: { name?: string } }> }>).flatMap(
    (s) => (s.addresses ?? []).map((a) => a.targetRef?.name ?? ''),
  );
}
