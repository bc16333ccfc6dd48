/**
 * From a Service port to a pod and a port to dial, the way ingress-nginx and kube-proxy find one: through the
 * Service's Endpoints (kept by the endpoints controller: ready addresses only, target ports already resolved,
 * named container ports included), round-robin over the ready addresses.
 */
import type net from 'node:net';
import type { SimObject, Store } from '../types.js';

export type Dial = (pod: SimObject, port: number) => net.Socket;

export type Picked = { ok: true; pod: SimObject; port: number } | { ok: false; reason: string };

interface ServicePort {
  name?: string;
  port: number;
  protocol?: string;
}

interface EndpointPort {
  name?: string;
  port: number;
  protocol?: string;
}

interface EndpointAddress {
  ip: string;
  targetRef?: { kind?: string; namespace?: string; name?: string };
}

export class Backends {
  private readonly turn = new Map<string, number>();

  constructor(private readonly store: Store) {}

  /** `port` is the Service's port: its number, or its name. */
  pick(namespace: string, service: string, port: number | string): Picked {
    const svc = this.store.get({ group: '', resource: 'services', namespace, name: service });
    if (!svc) return { ok: false, reason: `service ${namespace}/${service} does not exist` };
    if (svc.spec?.type === 'ExternalName') {
      return { ok: false, reason: `service ${namespace}/${service} is ExternalName (not emulated)` };
    }
    const sp = ((svc.spec?.ports ?? []) as ServicePort[]).find((p) =>
      typeof port === 'number' ? p.port === port : p.name === port,
    );
    if (!sp || (sp.protocol ?? 'TCP') !== 'TCP') {
      return { ok: false, reason: `service ${namespace}/${service} has no TCP port ${port}` };
    }
    const ep = this.store.get({ group: '', resource: 'endpoints', namespace, name: service });
    const candidates: Array<{ pod: SimObject; port: number }> = [];
    for (const subset of (ep?.subsets ?? []) as Array<{
      addresses?: EndpointAddress[];
      ports?: EndpointPort[];
    }>) {
      // Endpoints ports carry the Service port's name (none for a single unnamed port).
      const epPort = (subset.ports ?? []).find(
        (p) => (p.name ?? '') === (sp.name ?? '') && (p.protocol ?? 'TCP') === 'TCP',
      );
      if (!epPort) continue;
      for (const addr of subset.addresses ?? []) {
        const pod = this.podOf(namespace, addr);
        if (pod && !pod.metadata.deletionTimestamp) candidates.push({ pod, port: epPort.port });
      }
    }
    if (candidates.length === 0) {
      return { ok: false, reason: `service ${namespace}/${service} has no ready endpoints for port ${port}` };
    }
    const key = `${namespace}/${service}:${sp.port}`;
    const n = this.turn.get(key) ?? 0;
    this.turn.set(key, n + 1);
    const chosen = candidates[n % candidates.length] as { pod: SimObject; port: number };
    return { ok: true, pod: chosen.pod, port: chosen.port };
  }

  /** By targetRef; hand-written Endpoints (a Service without selector) may only have an IP. */
  private podOf(namespace: string, addr: EndpointAddress): SimObject | undefined {
    const ref = addr.targetRef;
    if (ref?.kind === 'Pod' && ref.name) {
      return this.store.get({
        group: '',
        resource: 'pods',
        namespace: ref.namespace ?? namespace,
        name: ref.name,
      });
    }
    return this.store
      .list('', 'pods', { namespace })
      .find((p) => p.status?.podIP === addr.ip && !p.metadata.deletionTimestamp);
  }
}

/** dial() may throw (a pod without an engine): that becomes an errored socket, like a refused connection. */
export function safeDial(dial: Dial, pod: SimObject, port: number): net.Socket | Error {
  try {
    return dial(pod, port);
  } catch (err) {
    return err instanceof Error ? err : new Error(String(err));
  }
}

/** Every socket a component opened or accepted, so close() can end them all and the process can exit. */
export class SocketSet {
  private readonly set = new Set<net.Socket>();
  private closed = false;

  add(s: net.Socket): void {
    if (this.closed) {
      s.destroy();
      return;
    }
    this.set.add(s);
    s.once('close', () => this.set.delete(s));
  }

  get size(): number {
    return this.set.size;
  }

  destroyAll(): void {
    this.closed = true;
    for (const s of this.set) s.destroy();
    this.set.clear();
  }
}
