/**
 * The external address of a `type: LoadBalancer` Service: the cloud controller writes it to
 * `status.loadBalancer.ingress` some seconds to minutes after the Service is created. Polled like the
 * rollout (see wait.ts), for the same reasons.
 */
import { ReadinessError } from '../errors.js';
import type { KubeClient } from '../kube/client.js';
import { isTransientError } from '../kube/errors.js';
import { getObject } from '../kube/objects.js';
import type { KubeObject, TypeRef } from '../kube/types.js';
import { type Log, noopLog } from '../util/log.js';
import { sleep } from '../util/sleep.js';

const SERVICE: TypeRef = { apiVersion: 'v1', kind: 'Service' };

interface LoadBalancerIngress {
  ip?: string;
  hostname?: string;
}

/** The first address the load balancer reports (a hostname on AWS, an IP elsewhere). */
export function loadBalancerAddress(service: KubeObject): string | undefined {
  const status = service.status as { loadBalancer?: { ingress?: LoadBalancerIngress[] } } | undefined;
  for (const i of status?.loadBalancer?.ingress ?? []) {
    if (i.hostname) return i.hostname;
    if (i.ip) return i.ip;
  }
  return undefined;
}

export async function waitForLoadBalancer(
  client: KubeClient,
  opts: { namespace: string; name: string; timeoutMs: number; pollMs?: number; log?: Log },
): Promise<string> {
  const log = opts.log ?? noopLog;
  const deadline = Date.now() + opts.timeoutMs;
  let said = false;
  for (;;) {
    try {
      const svc = await getObject(client, SERVICE, opts.namespace, opts.name);
      if (!svc) {
        throw new ReadinessError(`Service ${opts.name} does not exist in namespace ${opts.namespace}`);
      }
      const address = loadBalancerAddress(svc);
      if (address) return address;
    } catch (err) {
      if (!isTransientError(err)) throw err;
    }
    if (Date.now() >= deadline) {
      throw new ReadinessError(
        `Service ${opts.name} got no load balancer address within ${Math.round(opts.timeoutMs / 1000)} s`,
        {
          hint: 'expose: loadbalancer needs a load-balancer controller in the cluster (a cloud provider, MetalLB, or kind with cloud-provider-kind). Check `kubectl describe service` for its events, or use expose: ingress.',
        },
      );
    }
    if (!said) {
      log.info(`Waiting for the load balancer of Service ${opts.name} to get an address`);
      said = true;
    }
    await sleep(opts.pollMs ?? 1000);
  }
}
