/**
 * The Docker Engine API of the docker host, reached through the port-forward tunnel (kube/stream/port-forward.ts):
 * plain HTTP on a fresh connection per request, and the wait until dockerd answers.
 */
import http from 'node:http';
import { ActionError } from '../errors.js';
import type { Tunnel } from '../kube/stream/port-forward.js';
import { type Log, noopLog } from '../util/log.js';
import { sleep } from '../util/sleep.js';

/** dockerd did not answer through the tunnel in time. */
export class DockerUnreachableError extends ActionError {}

export interface HttpAnswer {
  status: number;
  body: string;
}

/**
 * One request to dockerd over a fresh connection to the tunnel (no agent: nothing stays open), by node's HTTP
 * client. GETs for readiness here and by running.ts; POSTs by prune.ts.
 */
export function dockerRequest(
  target: { host: string; port: number },
  method: 'GET' | 'POST',
  path: string,
  timeoutMs: number,
): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ method, host: target.host, port: target.port, path, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
      );
    });
    req.setTimeout(timeoutMs, () =>
      req.destroy(new Error(`${method} ${path}: no answer within ${timeoutMs} ms`)),
    );
    req.on('error', reject);
    req.end();
  });
}

export function dockerGet(target: { host: string; port: number }, path: string, timeoutMs: number) {
  return dockerRequest(target, 'GET', path, timeoutMs);
}

/**
 * Wait until dockerd answers `GET /_ping` through the tunnel (retries with backoff up to `timeoutMs`), then
 * read `/version`. The error names the pod and the tunnel's last error.
 */
export async function waitForDocker(
  tunnel: Tunnel,
  opts: { timeoutMs: number; log?: Log; signal?: AbortSignal },
): Promise<{ version?: string; apiVersion?: string }> {
  const log = opts.log ?? noopLog;
  const deadline = Date.now() + opts.timeoutMs;
  let delay = 250;
  let attempt = 0;
  let lastProblem = '';
  for (;;) {
    attempt++;
    if (opts.signal?.aborted)
      throw new DockerUnreachableError(`waiting for dockerd in pod ${tunnel.pod}: aborted`);
    const left = deadline - Date.now();
    try {
      const ping = await dockerGet(tunnel, '/_ping', Math.max(1000, Math.min(10_000, left)));
      if (ping.status === 200) break;
      lastProblem = `/_ping answered HTTP ${ping.status}`;
    } catch (err) {
      lastProblem = err instanceof Error ? err.message : String(err);
    }
    log.debug(`waiting for dockerd (attempt ${attempt}): ${lastProblem}`);
    if (Date.now() + delay >= deadline) {
      const tunnelError = tunnel.lastError();
      const cause = tunnelError
        ? tunnelError instanceof ActionError
          ? tunnelError.userMessage
          : tunnelError.message
        : lastProblem;
      const within = `within ${Math.round(opts.timeoutMs / 1000)} s`;
      // A refused connection is the common case (dockerd not started, or listening elsewhere): say that first,
      // since the kubelet's text that follows is long and reads like an infrastructure failure.
      const refused = /connection refused|connect: |failed to connect/i.test(cause);
      throw new DockerUnreachableError(
        refused
          ? `Nothing answers on port ${tunnel.remotePort} of pod ${tunnel.pod}: dockerd did not accept a connection ${within}: ${cause}`
          : `dockerd in pod ${tunnel.pod} did not answer on port ${tunnel.remotePort} ${within}: ${cause}`,
        {
          hint: refused
            ? `Does a container of the docker-host pod run dockerd listening on tcp://127.0.0.1:${tunnel.remotePort} (port-forward connects to the pod's loopback)? Its logs say why not.`
            : undefined,
          details: `last attempt: ${lastProblem}`,
        },
      );
    }
    await sleep(delay);
    delay = Math.min(delay * 2, 4000);
  }
  try {
    const v = await dockerGet(tunnel, '/version', 10_000);
    if (v.status === 200) {
      const info = JSON.parse(v.body) as { Version?: string; ApiVersion?: string };
      return { version: info.Version, apiVersion: info.ApiVersion };
    }
    log.debug(`dockerd /version answered HTTP ${v.status}`);
  } catch (err) {
    log.debug(`dockerd /version: ${err instanceof Error ? err.message : String(err)}`);
  }
  return {};
}
