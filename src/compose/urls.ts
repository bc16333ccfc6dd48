import { createHash } from 'node:crypto';
import { ActionError } from '../errors.js';
import { MAX_LABEL_LENGTH } from '../kube/names.js';
import type { ComposeModel } from './model.js';

export interface ServicePort {
  service: string;
  /** The container port. */
  target: number;
  /** The port published on the docker host. */
  published: number;
  protocol: string;
}

/** Published ports are chosen in this range when compose leaves them random, as NodePorts are. */
const PIN_MIN = 30000;
const PIN_SPAN = 2768;

/**
 * Compose gives a port without `published` a random host port on every `up`; the Service in front of the
 * docker host needs it stable. It is derived from the service and container port, so it survives pushes.
 */
export function pinPorts(input: ComposeModel): { model: ComposeModel; ports: ServicePort[] } {
  const model = structuredClone(input);
  const taken = new Set<number>();
  for (const s of Object.values(model.services))
    for (const p of s.ports ?? []) if (p.published) taken.add(Number(p.published.split('-')[0]));
  const ports: ServicePort[] = [];
  for (const [service, s] of Object.entries(model.services).sort(([a], [b]) => a.localeCompare(b))) {
    for (const p of s.ports ?? []) {
      const protocol = p.protocol ?? 'tcp';
      if (!p.published) {
        let n =
          createHash('sha256').update(`${service}/${p.target}/${protocol}`).digest().readUInt32BE(0) %
          PIN_SPAN;
        while (taken.has(PIN_MIN + n)) n = (n + 1) % PIN_SPAN;
        p.published = String(PIN_MIN + n);
        taken.add(PIN_MIN + n);
      }
      const published = Number(p.published.split('-')[0]);
      if (!Number.isInteger(published)) {
        throw new ActionError(`service "${service}": published port "${p.published}" is not a port number`);
      }
      ports.push({ service, target: p.target, published, protocol });
    }
  }
  return { model, ports };
}

/** A DNS label from any text (a compose service name from a PR): lowercase `[a-z0-9-]`, no edge dashes. */
export function dnsLabel(text: string): string {
  return text
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '');
}

/** Host labels are at most 63 characters: a longer one keeps its start and gets a hash of the whole. */
export function shortenLabel(label: string): string {
  if (label.length <= MAX_LABEL_LENGTH) return label;
  const hash = createHash('sha256').update(label).digest('hex').slice(0, 8);
  return `${label.slice(0, 54).replace(/-+$/, '')}-${hash}`;
}

export interface ServiceUrl {
  service: string;
  /** The container port. */
  port: number;
  /** The port published on the docker host's pod. */
  published: number;
  host: string;
  url: string;
}

/**
 * `https://{service}-{port}-{envId}.{domain}` by default. Every placeholder is made a DNS label first, and
 * every label of the host is shortened to 63 characters, so the result is always a valid hostname.
 */
export function serviceUrls(
  ports: ServicePort[],
  opts: { template: string; envId: string; domain: string },
): ServiceUrl[] {
  return ports
    .filter((p) => p.protocol === 'tcp')
    .map((p) => {
      const url = opts.template
        .replaceAll('{service}', dnsLabel(p.service))
        .replaceAll('{port}', String(p.target))
        .replaceAll('{envId}', dnsLabel(opts.envId))
        .replaceAll('{domain}', opts.domain);
      let parsed: URL;
      try {
        parsed = new URL(url);
      } catch {
        throw new ActionError(`url-template "${opts.template}" gives "${url}", which is not a URL`);
      }
      // A service named `..` or `__` (compose accepts both) leaves `-80-...`: a label may not start or end with `-`.
      parsed.hostname = parsed.hostname
        .split('.')
        .map((l) => shortenLabel(l.replace(/^-+|-+$/g, '')))
        .join('.');
      return {
        service: p.service,
        port: p.target,
        published: p.published,
        host: parsed.hostname,
        url: parsed.toString().replace(/\/$/, ''),
      };
    });
}

/** Host names must be distinct, or two ports would be routed to one backend. */
export function checkDistinctHosts(urls: ServiceUrl[]): void {
  const seen = new Map<string, ServiceUrl>();
  for (const u of urls) {
    const other = seen.get(u.host);
    if (other) {
      throw new ActionError(
        `url-template gives the same host ${u.host} to ${other.service}:${other.port} and ${u.service}:${u.port}`,
        { hint: 'Service names that differ only in characters a host name cannot hold collide; rename one.' },
      );
    }
    seen.set(u.host, u);
  }
}

/** A LoadBalancer Service's address: `http://<ip or hostname>:<published port>`, one per TCP port. */
export function loadBalancerUrls(ports: ServicePort[], address: string): ServiceUrl[] {
  const host = address.includes(':') ? `[${address}]` : address;
  return ports
    .filter((p) => p.protocol === 'tcp')
    .map((p) => ({
      service: p.service,
      port: p.target,
      published: p.published,
      host: address,
      url: `http://${host}:${p.published}`,
    }));
}
