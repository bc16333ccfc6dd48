/**
 * Whether the project's containers are as `docker compose up` would leave them: one running container per
 * replica of every service, healthy where the service has a health check, and no container of a service the
 * model no longer has. Read from the Docker API (through the tunnel): one request, where a compose command
 * would cost a process and a dozen requests.
 */

import type { ComposeModel } from '../compose/model.js';
import { rec } from '../kube/shapes.js';
import { dockerGet } from './docker-api.js';

interface ContainerSummary {
  Labels?: Record<string, string>;
  State?: string;
  Status?: string;
}

const TIMEOUT_MS = 10_000;

/** GET a Docker API path through `dockerHost` (`tcp://host:port`); the JSON answer. */
export async function dockerJson(dockerHost: string, apiPath: string): Promise<unknown> {
  const url = new URL(dockerHost.replace(/^tcp:/, 'http:'));
  const res = await dockerGet({ host: url.hostname, port: Number(url.port) }, apiPath, TIMEOUT_MS);
  if (res.status !== 200) throw new Error(`GET ${apiPath}: HTTP ${res.status}: ${res.body.slice(0, 200)}`);
  return JSON.parse(res.body);
}

function replicasOf(service: Record<string, unknown>): number {
  if (typeof service.scale === 'number') return service.scale;
  const replicas = rec(service.deploy)?.replicas;
  return typeof replicas === 'number' ? replicas : 1;
}

const hasHealthcheck = (service: Record<string, unknown>) => {
  const hc = rec(service.healthcheck);
  return hc !== undefined && hc.disable !== true;
};

/** Undefined when the containers are as `up` would leave them; otherwise what differs. */
export async function containersDiffer(
  dockerHost: string,
  projectName: string,
  model: ComposeModel,
): Promise<string | undefined> {
  const filters = JSON.stringify({ label: [`com.docker.compose.project=${projectName}`] });
  const list = await dockerJson(dockerHost, `/containers/json?all=1&filters=${encodeURIComponent(filters)}`);
  if (!Array.isArray(list)) return 'the Docker API did not list containers';
  const byService = new Map<string, ContainerSummary[]>();
  for (const c of list as ContainerSummary[]) {
    const labels = c.Labels ?? {};
    if (labels['com.docker.compose.oneoff'] === 'True') continue;
    const service = labels['com.docker.compose.service'] ?? '';
    byService.set(service, [...(byService.get(service) ?? []), c]);
  }
  for (const [name, raw] of Object.entries(model.services)) {
    const service = rec(raw) ?? {};
    const containers = byService.get(name) ?? [];
    byService.delete(name);
    const wanted = replicasOf(service);
    const running = containers.filter(
      (c) => c.State === 'running' && (!hasHealthcheck(service) || /\(healthy\)/.test(c.Status ?? '')),
    );
    if (running.length !== wanted || containers.length !== wanted)
      return `service ${name}: ${running.length} of ${wanted} container(s) running${hasHealthcheck(service) ? ' and healthy' : ''}`;
  }
  const orphans = [...byService.keys()];
  if (orphans.length > 0) return `containers of services no longer in the project: ${orphans.join(', ')}`;
  return undefined;
}
