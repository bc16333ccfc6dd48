/**
 * The cloud provider's service controller and its load balancers. A `type: LoadBalancer` Service (without a
 * `loadBalancerClass`, which names another implementation) gets, after a provisioning delay, an address of its
 * own on the loopback network (127.1.x.y: Linux routes all of 127/8 to lo, so every Service can publish the same
 * port without collision) with a TCP listener per `spec.ports[]` port, then `status.loadBalancer.ingress`.
 * A connection goes to a ready pod of the Service (round-robin, through its Endpoints) on the target port, as
 * the node port and kube-proxy would take it; with no ready pod it is reset. Port changes open and close
 * listeners; deleting the Service, or changing its type, closes them with their connections and (type change)
 * clears the status.
 */
import net from 'node:net';
import type { EventRecorder } from '../controllers/events.js';
import type { Runtime } from '../controllers/runtime.js';
import { clone, deepEqual, errorMessage } from '../controllers/util.js';
import type { SimObject } from '../types.js';
import { type Backends, type Dial, SocketSet, safeDial } from './backends.js';

const SERVICES = { group: '', resource: 'services' };
const SOURCE = { component: 'service-controller' };

interface Listener {
  server: net.Server;
  /** Its connections and their upstreams: closing a port ends them, as removing a forwarding rule does. */
  sockets: SocketSet;
}

interface Balancer {
  uid: string;
  ip?: string;
  listeners: Map<number, Listener>;
  /** When the provisioning delay ends (ms since epoch). */
  due: number;
  failures: number;
  /** A retry or the end of the delay is already scheduled. */
  waiting: boolean;
}

// Shared by every network in the process so two simulators never hand out one address; the start depends on
// the pid so test processes running side by side rarely have to skip addresses taken by another.
let nextAddress = (process.pid % 200) * 250;

function allocateAddress(): string {
  const n = nextAddress++;
  return `127.${1 + (Math.floor(n / 62_500) % 126)}.${Math.floor(n / 250) % 250}.${(n % 250) + 1}`;
}

function tcpPorts(svc: SimObject): number[] {
  const ports = (svc.spec?.ports ?? []) as Array<{ port: number; protocol?: string }>;
  return [...new Set(ports.filter((p) => (p.protocol ?? 'TCP') === 'TCP').map((p) => p.port))];
}

function wanted(svc: SimObject | undefined): boolean {
  return svc?.spec?.type === 'LoadBalancer' && !svc.spec?.loadBalancerClass;
}

export class LoadBalancerController {
  private readonly balancers = new Map<string, Balancer>();
  private readonly running = new Map<string, { again: boolean }>();

  constructor(
    private readonly rt: Runtime,
    private readonly events: EventRecorder,
    private readonly backends: Backends,
    private readonly dial: Dial,
    private readonly delayMs: number,
  ) {}

  onService(svc: SimObject): void {
    const key = `${svc.metadata.namespace}/${svc.metadata.name}`;
    if (wanted(svc) || this.balancers.has(key)) this.schedule(key);
  }

  /** Listening addresses, for tests: `ip:port` per Service key. */
  listening(): Map<string, string[]> {
    const out = new Map<string, string[]>();
    for (const [key, b] of this.balancers) {
      if (b.ip && b.listeners.size)
        out.set(
          key,
          [...b.listeners.keys()].map((p) => `${b.ip}:${p}`),
        );
    }
    return out;
  }

  /** One reconcile per Service at a time; events arriving meanwhile cause one more pass. */
  private schedule(key: string): void {
    if (this.rt.stopped) return;
    const state = this.running.get(key);
    if (state) {
      state.again = true;
      return;
    }
    const s = { again: false };
    this.running.set(key, s);
    this.rt.track(
      (async () => {
        try {
          do {
            s.again = false;
            await this.reconcile(key);
          } while (s.again && !this.rt.stopped);
        } finally {
          this.running.delete(key);
        }
      })(),
      `load balancer ${key}`,
    );
  }

  private async reconcile(key: string): Promise<void> {
    const [namespace = '', name = ''] = key.split('/');
    const svc = this.rt.store.get({ ...SERVICES, namespace, name });
    let lb = this.balancers.get(key);
    if (lb && (!svc || !wanted(svc) || svc.metadata.uid !== lb.uid)) {
      await this.teardown(key, lb);
      // The type changed: the cloud controller deletes the balancer and clears the address.
      const now = this.rt.store.get({ ...SERVICES, namespace, name });
      if (now && now.metadata.uid === lb.uid && !wanted(now)) this.writeStatus(now, undefined);
      lb = undefined;
    }
    if (!svc || !wanted(svc)) return;
    if (!lb) {
      lb = {
        uid: svc.metadata.uid,
        listeners: new Map(),
        due: Date.now() + this.delayMs,
        failures: 0,
        waiting: false,
      };
      this.balancers.set(key, lb);
      this.events.tryRecord(svc, 'Normal', 'EnsuringLoadBalancer', 'Ensuring load balancer', SOURCE);
    }
    if (lb.waiting) return;
    const wait = lb.due - Date.now();
    if (wait > 0) {
      this.later(key, lb, wait);
      return;
    }

    const ports = tcpPorts(svc);
    const before = [...lb.listeners.keys()].sort().join(',');
    try {
      await this.ensureListeners(key, lb, ports);
      lb.failures = 0;
    } catch (err) {
      // As the cloud controller does: a Warning, and another try with a growing delay.
      lb.failures += 1;
      this.events.tryRecord(
        svc,
        'Warning',
        'SyncLoadBalancerFailed',
        `Error syncing load balancer: failed to ensure load balancer: ${errorMessage(err)}`,
        SOURCE,
      );
      this.later(key, lb, Math.min(1000 * 2 ** (lb.failures - 1), 30_000));
      return;
    }
    const current = this.rt.store.get({ ...SERVICES, namespace, name });
    if (!current || current.metadata.uid !== lb.uid) return;
    const changed = this.writeStatus(current, lb.ip);
    if (changed || before !== [...lb.listeners.keys()].sort().join(',')) {
      if (!changed)
        this.events.tryRecord(current, 'Normal', 'EnsuringLoadBalancer', 'Ensuring load balancer', SOURCE);
      this.events.tryRecord(current, 'Normal', 'EnsuredLoadBalancer', 'Ensured load balancer', SOURCE);
    }
  }

  private later(key: string, lb: Balancer, ms: number): void {
    lb.waiting = true;
    this.rt.after(
      ms,
      () => {
        lb.waiting = false;
        this.schedule(key);
      },
      `load balancer ${key}`,
    );
  }

  /** Binds the missing ports and closes the others. A first bind picks a free address for all the ports. */
  private async ensureListeners(key: string, lb: Balancer, ports: number[]): Promise<void> {
    for (const [port, listener] of lb.listeners) {
      if (!ports.includes(port)) {
        lb.listeners.delete(port);
        await closeListener(listener);
      }
    }
    const missing = ports.filter((p) => !lb.listeners.has(p));
    if (missing.length === 0) return;
    if (lb.ip) {
      for (const port of missing) lb.listeners.set(port, await this.bind(key, lb.ip, port));
      return;
    }
    for (let attempt = 0; ; attempt++) {
      const ip = allocateAddress();
      const bound: Array<[number, Listener]> = [];
      try {
        for (const port of missing) bound.push([port, await this.bind(key, ip, port)]);
      } catch (err) {
        await Promise.all(bound.map(([, l]) => closeListener(l)));
        // Another process (or a leftover) holds that address and port: the next address is as good.
        if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE' && attempt < 50) continue;
        throw err;
      }
      lb.ip = ip;
      for (const [port, listener] of bound) lb.listeners.set(port, listener);
      return;
    }
  }

  private bind(key: string, ip: string, port: number): Promise<Listener> {
    const sockets = new SocketSet();
    const server = net.createServer({ allowHalfOpen: true }, (client) =>
      this.connect(key, port, client, sockets),
    );
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: ip, port, exclusive: true }, () => {
        server.off('error', reject);
        server.on('error', (err) => this.rt.report(err, `load balancer ${key} ${ip}:${port}`));
        resolve({ server, sockets });
      });
    });
  }

  private connect(key: string, port: number, client: net.Socket, sockets: SocketSet): void {
    sockets.add(client);
    client.on('error', () => client.destroy());
    const [namespace = '', name = ''] = key.split('/');
    const picked = this.backends.pick(namespace, name, port);
    if (!picked.ok) {
      client.resetAndDestroy();
      return;
    }
    const upstream = safeDial(this.dial, picked.pod, picked.port);
    if (upstream instanceof Error) {
      client.resetAndDestroy();
      return;
    }
    sockets.add(upstream);
    upstream.on('error', () => {
      if (!client.destroyed) client.resetAndDestroy();
    });
    client.on('error', () => upstream.destroy());
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => {
      // Let what the pod sent drain to the client before the connection goes.
      if (!client.destroyed) client.end();
    });
    client.pipe(upstream);
    upstream.pipe(client);
  }

  private async teardown(key: string, lb: Balancer): Promise<void> {
    this.balancers.delete(key);
    const listeners = [...lb.listeners.values()];
    lb.listeners.clear();
    await Promise.all(listeners.map(closeListener));
  }

  /** Returns whether the status changed. */
  private writeStatus(svc: SimObject, ip: string | undefined): boolean {
    // The API server (1.30+) defaults ipMode to VIP when an address is set; writes here skip its defaulting.
    const want = ip ? { ingress: [{ ip, ipMode: 'VIP' }] } : {};
    if (deepEqual(svc.status?.loadBalancer ?? {}, want)) return false;
    const next = clone(svc);
    next.status = { ...(next.status ?? {}), loadBalancer: want };
    this.rt.store.updateStatus(next);
    return true;
  }

  async close(): Promise<void> {
    await Promise.all([...this.balancers].map(([key, lb]) => this.teardown(key, lb)));
  }
}

function closeListener({ server, sockets }: Listener): Promise<void> {
  return new Promise((resolve) => {
    sockets.destroyAll();
    if (!server.listening) return resolve();
    server.close(() => resolve());
  });
}
