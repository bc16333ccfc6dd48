/**
 * The cluster's network as a client outside it sees it: ingress-nginx serving Ingresses, and a cloud provider's
 * load balancers for `type: LoadBalancer` Services, both reaching pods through a `dial(pod, port)` function (the
 * docker backend's dial, or anything a test provides). Controllers of the simulator's kind: they watch
 * the store, write status through it, and stop with close().
 *
 *   const network = await installNetwork(sim, (pod, port) => backend.dial(pod, port));
 *   const res = await network.fetch('https://web-80-pr-1.preview.example.com/'); // as with curl --resolve
 *   await network.close();
 *
 * Emulated (see ingress.ts, routes.ts, loadbalancer.ts for details): an IngressClass `sim` (controller
 * k8s.io/ingress-nginx, default class); Ingresses of that class or of none served on 127.0.0.1 (HTTP and HTTPS,
 * ephemeral ports standing for 80 and 443) with ingress-nginx's host/path precedence, default backends, error
 * pages, ssl-redirect, proxy-body-size and forwarded headers; status.loadBalancer of served Ingresses
 * (127.0.0.1); TLS with the host's secret when it holds a certificate, else a certificate for the host from the
 * simulator's CA; LoadBalancer Services with their own loopback address, TCP listeners per port, status and the
 * service controller's events.
 *
 * Left out, on purpose:
 * - The DefaultIngressClass admission plugin (an Ingress created without a class keeps it unset; it is served
 *   all the same, as ingress-nginx serves class-less Ingresses when its class is the default).
 * - A `tls[].secretName` that does not exist (or holds no valid certificate): ingress-nginx would serve its fake
 *   certificate and not redirect; the simulator serves a certificate for the host from its CA, as if cert-manager
 *   had filled the secret. TLS entries without hosts are not matched against certificates' names.
 * - ImplementationSpecific paths match as Prefix (by path elements); nginx would match them as a string prefix.
 * - Other ingress-nginx annotations (rewrite-target, regex paths, auth, canary, CORS, backend-protocol...),
 *   `resource` backends, ExternalName Services, HTTP/2, upstream retries (proxy_next_upstream), connect/read
 *   timeouts (504), chunked request bodies beyond proxy-body-size, status written at once rather than by the
 *   status sync (and left in place when an Ingress stops being served), IngressClass parameters and other
 *   IngressClasses of the same controller.
 * - Load balancers: UDP/SCTP ports, loadBalancerSourceRanges, externalTrafficPolicy, session affinity, health
 *   checks (a connection with no ready pod is reset), node ports (traffic goes straight to the pods), hostname
 *   addresses (AWS-style), `loadBalancerIP`; Services with a `loadBalancerClass` are left alone, as the default
 *   cloud controller does.
 * - ClusterIP, NodePort and cluster DNS: nothing inside the simulated cluster connects through Services.
 */

import { EventRecorder } from '../controllers/events.js';
import { Runtime } from '../controllers/runtime.js';
import { isAlreadyExists } from '../controllers/util.js';
import type { KubeSim } from '../index.js';
import type { SimObject } from '../types.js';
import { Backends, type Dial, SocketSet } from './backends.js';
import { type FetchInit, type FetchResult, simFetch } from './fetch.js';
import {
  DEFAULT_CLASS_ANNOTATION,
  INGRESS_CLASSES,
  INGRESS_IP,
  INGRESS_NGINX_CONTROLLER,
  INGRESSES,
  IngressController,
} from './ingress.js';
import { LoadBalancerController } from './loadbalancer.js';

export type { FetchInit, FetchResult } from './fetch.js';
export { nginxPage } from './ingress.js';

export interface SimNetwork {
  /** Where the ingress controller listens (127.0.0.1, ephemeral ports). */
  ingress: { host: string; httpPort: number; httpsPort: number };
  /**
   * GET (or any method) a URL the way a client on the cluster's network would, as if DNS pointed every Ingress host at
   * the ingress controller (like `curl --resolve`): a hostname goes to the ingress controller (Host header, and SNI for
   * https, trusting the simulator's CA), an IP address (a LoadBalancer's) is connected to directly.
   */
  fetch(
    url: string,
    init?: { method?: string; headers?: Record<string, string>; timeoutMs?: number },
  ): Promise<{ status: number; headers: Record<string, string>; body: string }>;
  /** Open load-balancer listeners, `ip:port` by Service `namespace/name` (for assertions). */
  loadBalancers(): Map<string, string[]>;
  close(): Promise<void>;
}

export interface NetworkOptions {
  /** Name of the IngressClass made (and served) at install. Default `sim`. */
  ingressClass?: string;
  /** How long a LoadBalancer Service waits for its address and listeners. Default 300 ms. */
  loadBalancerDelayMs?: number;
  /**
   * Names (wildcards allowed) of the certificate ingress-nginx serves for hosts no Ingress TLS covers, issued by
   * the simulator's CA: its `--default-ssl-certificate`. Default: none, the self-signed fake certificate.
   */
  defaultCertificateHosts?: string[];
}

/** dial(pod, port): a TCP connection to that port of that pod (the docker backend's dial gives one). */
export async function installNetwork(
  sim: KubeSim,
  dial: Dial,
  opts: NetworkOptions = {},
): Promise<SimNetwork> {
  const className = opts.ingressClass ?? 'sim';
  const store = sim.store;
  const host = '127.0.0.1';
  ensureIngressClass(sim, className);

  const rt = new Runtime(store, { now: () => new Date() }, 1, (err, context) =>
    console.error(`[kube-sim network] ${context}:`, err),
  );
  const events = new EventRecorder(rt);
  const sockets = new SocketSet();
  const backends = new Backends(store);
  const ingress = new IngressController(rt, events, backends, dial, sockets, {
    className,
    caPem: sim.caPem,
    defaultCertificateHosts: opts.defaultCertificateHosts,
  });
  const lbs = new LoadBalancerController(rt, events, backends, dial, opts.loadBalancerDelayMs ?? 300);
  await ingress.start(host);

  const unsubscribe: Array<() => void> = [];
  const on = (group: string, resource: string, fn: (type: string, o: SimObject) => void) => {
    if (!store.types.some((t) => t.group === group && t.resource === resource)) return;
    // Subscribers run inside the store's write: they only enqueue, the work happens on a later turn.
    unsubscribe.push(
      store.subscribe(group, resource, (ev) => rt.guard(() => fn(ev.type, ev.object), resource)),
    );
    for (const o of store.list(group, resource)) rt.guard(() => fn('ADDED', o), resource);
  };
  on(INGRESS_CLASSES.group, INGRESS_CLASSES.resource, () => ingress.onIngressClass());
  on(INGRESSES.group, INGRESSES.resource, (type, o) => ingress.onIngress(type, o));
  on('', 'services', (_type, o) => lbs.onService(o));

  let closing: Promise<void> | undefined;
  return {
    ingress: { host, httpPort: ingress.httpPort, httpsPort: ingress.httpsPort },
    fetch: (url: string, init?: FetchInit): Promise<FetchResult> =>
      closing
        ? Promise.reject(new Error('the simulated network is closed'))
        : simFetch(
            {
              ingressIp: INGRESS_IP,
              listenHost: host,
              httpPort: ingress.httpPort,
              httpsPort: ingress.httpsPort,
              caPem: sim.caPem,
              sockets,
            },
            url,
            init,
          ),
    loadBalancers: () => lbs.listening(),
    close: () => {
      closing ??= (async () => {
        for (const u of unsubscribe) u();
        // Reconciles in flight finish first, so no listener opens after the sweep below.
        await rt.stop();
        sockets.destroyAll();
        await Promise.all([ingress.close(), lbs.close()]);
      })();
      return closing;
    },
  };
}

function ensureIngressClass(sim: KubeSim, name: string): void {
  try {
    sim.store.create({
      apiVersion: 'networking.k8s.io/v1',
      kind: 'IngressClass',
      metadata: {
        name,
        annotations: { [DEFAULT_CLASS_ANNOTATION]: 'true' },
        labels: { 'app.kubernetes.io/name': 'ingress-nginx', 'app.kubernetes.io/component': 'controller' },
      } as Partial<SimObject['metadata']> as SimObject['metadata'],
      spec: { controller: INGRESS_NGINX_CONTROLLER },
    });
  } catch (err) {
    // A second network on the same simulator shares the class.
    if (!isAlreadyExists(err)) throw err;
  }
}
