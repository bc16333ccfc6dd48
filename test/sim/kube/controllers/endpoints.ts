/**
 * The endpoints controller, minimal: a Service with a selector gets an Endpoints object of the same name
 * listing its pods' IPs (ready ones in `addresses`, the others in `notReadyAddresses`) and the target ports.
 * Left out: EndpointSlices, the last-change-trigger-time annotation, publishNotReadyAddresses semantics
 * beyond treating every pod as ready, and hostname/subdomain.
 */
import type { SimObject } from '../types.js';
import { isPodReady } from './replicaset.js';
import { type Runtime, splitKey, WorkQueue } from './runtime.js';
import { clone, deepEqual, isAlreadyExists, mapSelectorMatches } from './util.js';

const SERVICES = { group: '', resource: 'services' };
const ENDPOINTS = { group: '', resource: 'endpoints' };
const PODS = { group: '', resource: 'pods' };

interface ServicePort {
  name?: string;
  port: number;
  targetPort?: number | string;
  protocol?: string;
}
interface ContainerPort {
  name?: string;
  containerPort: number;
  protocol?: string;
}

function resolvePort(pod: SimObject, sp: ServicePort): number | undefined {
  const target = sp.targetPort ?? sp.port;
  if (typeof target === 'number') return target;
  const asNumber = Number(target);
  if (Number.isInteger(asNumber) && target !== '') return asNumber;
  for (const c of (pod.spec?.containers ?? []) as Array<{ ports?: ContainerPort[] }>) {
    const p = c.ports?.find((x) => x.name === target && (x.protocol ?? 'TCP') === (sp.protocol ?? 'TCP'));
    if (p) return p.containerPort;
  }
  return undefined;
}

function ipOrder(a: { ip: string }, b: { ip: string }): number {
  const n = (ip: string) => ip.split('.').reduce((acc, x) => acc * 256 + Number(x), 0);
  return n(a.ip) - n(b.ip);
}

export class EndpointsController {
  readonly queue: WorkQueue;

  constructor(private readonly rt: Runtime) {
    this.queue = new WorkQueue(rt, 'endpoints', (key) => this.sync(key));
  }

  onService(svc: SimObject): void {
    this.queue.add(`${svc.metadata.namespace}/${svc.metadata.name}`);
  }

  /** Any pod change may move an address: look again at every Service of the namespace (there are few). */
  onPod(pod: SimObject): void {
    for (const svc of this.rt.store.list(SERVICES.group, SERVICES.resource, {
      namespace: pod.metadata.namespace,
    })) {
      if (svc.spec?.selector) this.onService(svc);
    }
  }

  private sync(key: string): void {
    const { namespace, name } = splitKey(key);
    const svc = this.rt.store.get({ ...SERVICES, namespace, name });
    const existing = this.rt.store.get({ ...ENDPOINTS, namespace, name });
    if (!svc) {
      // The real controller deletes the Endpoints of a deleted Service, whoever made them.
      if (existing) this.rt.store.delete({ ...ENDPOINTS, namespace, name });
      return;
    }
    const selector = svc.spec?.selector as Record<string, string> | undefined;
    if (!selector || Object.keys(selector).length === 0) return;
    const publishNotReady = svc.spec?.publishNotReadyAddresses === true;
    const ports = (svc.spec?.ports ?? []) as ServicePort[];

    // One subset per distinct set of resolved ports, as endpoints.RepackSubsets groups them.
    const subsets = new Map<string, { addresses: Json[]; notReadyAddresses: Json[]; ports: Json[] }>();
    for (const pod of this.rt.store.list(PODS.group, PODS.resource, { namespace })) {
      if (!mapSelectorMatches(selector, pod.metadata.labels)) continue;
      if (pod.metadata.deletionTimestamp && !publishNotReady) continue;
      const ip = pod.status?.podIP as string | undefined;
      if (!ip) continue;
      const epPorts: Json[] = [];
      for (const sp of ports) {
        const port = resolvePort(pod, sp);
        if (port === undefined) continue;
        const p: Json = {};
        if (sp.name) p.name = sp.name;
        p.port = port;
        p.protocol = sp.protocol ?? 'TCP';
        epPorts.push(p);
      }
      if (ports.length > 0 && epPorts.length === 0) continue;
      const sig = JSON.stringify(epPorts);
      let subset = subsets.get(sig);
      if (!subset) {
        subset = { addresses: [], notReadyAddresses: [], ports: epPorts };
        subsets.set(sig, subset);
      }
      const addr: Json = {
        ip,
        nodeName: pod.spec?.nodeName,
        targetRef: { kind: 'Pod', namespace, name: pod.metadata.name, uid: pod.metadata.uid },
      };
      if (publishNotReady || isPodReady(pod)) subset.addresses.push(addr);
      else subset.notReadyAddresses.push(addr);
    }
    const out: Json[] = [];
    for (const s of subsets.values()) {
      const subset: Json = {};
      if (s.addresses.length)
        subset.addresses = s.addresses.sort((a, b) => ipOrder(a as { ip: string }, b as { ip: string }));
      if (s.notReadyAddresses.length) {
        subset.notReadyAddresses = s.notReadyAddresses.sort((a, b) =>
          ipOrder(a as { ip: string }, b as { ip: string }),
        );
      }
      if (s.ports.length) subset.ports = s.ports;
      out.push(subset);
    }

    const labels = { ...((svc.metadata.labels ?? {}) as Record<string, string>) };
    if (svc.spec?.clusterIP === 'None') labels['service.kubernetes.io/headless'] = '';
    const desired: SimObject = {
      apiVersion: 'v1',
      kind: 'Endpoints',
      metadata: {
        name,
        namespace,
        ...(Object.keys(labels).length ? { labels } : {}),
      } as SimObject['metadata'],
    };
    if (out.length) desired.subsets = out;

    if (!existing) {
      try {
        this.rt.store.create(desired);
      } catch (err) {
        if (!isAlreadyExists(err)) throw err;
      }
      return;
    }
    if (
      deepEqual(existing.subsets ?? [], desired.subsets ?? []) &&
      deepEqual(existing.metadata.labels ?? {}, labels)
    )
      return;
    const next = clone(existing);
    next.metadata.labels = desired.metadata.labels;
    if (desired.subsets) next.subsets = desired.subsets;
    else delete next.subsets;
    this.rt.store.update(next);
  }
}

type Json = Record<string, unknown>;
