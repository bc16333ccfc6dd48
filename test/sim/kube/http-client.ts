/**
 * A minimal HTTPS client for tests of the simulator: node:https with the simulator's CA, no library in
 * between, so a test sees exactly the status, headers and bytes the server sent.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { Agent, request as httpsRequest } from 'node:https';

export interface SimResponse {
  status: number;
  headers: IncomingHttpHeaders;
  /** Every header line as sent: repeated headers (Warning) stay separate. */
  rawHeaders: string[];
  text: string;
  // biome-ignore lint/suspicious/noExplicitAny: parsed JSON bodies are asserted field by field in tests
  json: any;
}

export interface SimRequest {
  method?: string;
  /** Path with or without a query string. */
  path: string;
  /** Added to the path; arrays repeat the parameter. Encoded with encodeURIComponent. */
  query?: Record<string, string | string[]>;
  /** Objects are sent as JSON, strings as they are. */
  body?: unknown;
  headers?: Record<string, string>;
  /** Bearer token; `null` sends no Authorization header. */
  token?: string | null;
}

export function buildPath(path: string, query: Record<string, string | string[]> = {}): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(query)) {
    for (const x of [v].flat()) parts.push(`${encodeURIComponent(k)}=${encodeURIComponent(x)}`);
  }
  if (parts.length === 0) return path;
  return `${path}${path.includes('?') ? '&' : '?'}${parts.join('&')}`;
}

export class SimClient {
  readonly agent: Agent;
  constructor(
    readonly url: string,
    readonly caPem: string,
    readonly token: string,
  ) {
    this.agent = new Agent({ ca: caPem, keepAlive: false });
  }

  request(r: SimRequest): Promise<SimResponse> {
    const u = new URL(this.url);
    const headers: Record<string, string> = { Accept: 'application/json', ...(r.headers ?? {}) };
    const token = r.token === undefined ? this.token : r.token;
    if (token !== null) headers.Authorization = `Bearer ${token}`;
    let payload: string | undefined;
    if (r.body !== undefined) {
      payload = typeof r.body === 'string' ? r.body : JSON.stringify(r.body);
      headers['Content-Type'] ??= 'application/json';
      headers['Content-Length'] = String(Buffer.byteLength(payload));
    }
    return new Promise((resolve, reject) => {
      const req = httpsRequest(
        {
          host: u.hostname.replace(/^\[|\]$/g, ''),
          port: u.port,
          method: r.method ?? 'GET',
          path: buildPath(r.path, r.query),
          headers,
          agent: this.agent,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let json: unknown;
            try {
              json = JSON.parse(text);
            } catch {
              json = undefined;
            }
            resolve({
              status: res.statusCode ?? 0,
              headers: res.headers,
              rawHeaders: res.rawHeaders,
              text,
              json,
            });
          });
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      if (payload !== undefined) req.write(payload);
      req.end();
    });
  }

  /** Creates the pod `name` with one container (`c`, image `i`): all a test of the pod endpoints needs. */
  createPod(namespace: string, name: string): Promise<SimResponse> {
    return this.request({
      method: 'POST',
      path: `/api/v1/namespaces/${namespace}/pods`,
      body: {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name },
        spec: { containers: [{ name: 'c', image: 'i' }] },
      },
    });
  }

  /** Opens a watch and collects its lines until `until` returns true or `timeoutMs` passes; then disconnects. */
  watch(
    r: SimRequest,
    // biome-ignore lint/suspicious/noExplicitAny: watch events are free-form JSON
    until: (events: any[]) => boolean,
    timeoutMs = 10_000,
    // biome-ignore lint/suspicious/noExplicitAny: see above
  ): Promise<{ status: number; headers: IncomingHttpHeaders; events: any[]; ended: boolean }> {
    const u = new URL(this.url);
    const headers: Record<string, string> = { Accept: 'application/json', ...(r.headers ?? {}) };
    const token = r.token === undefined ? this.token : r.token;
    if (token !== null) headers.Authorization = `Bearer ${token}`;
    return new Promise((resolve, reject) => {
      const req = httpsRequest(
        {
          host: u.hostname.replace(/^\[|\]$/g, ''),
          port: u.port,
          method: 'GET',
          path: buildPath(r.path, { watch: 'true', ...(r.query ?? {}) }),
          headers,
          agent: this.agent,
        },
        (res) => {
          // biome-ignore lint/suspicious/noExplicitAny: see above
          const events: any[] = [];
          let buf = '';
          let done = false;
          const finish = (ended: boolean) => {
            if (done) return;
            done = true;
            clearTimeout(timer);
            req.destroy();
            resolve({ status: res.statusCode ?? 0, headers: res.headers, events, ended });
          };
          const timer = setTimeout(() => finish(false), timeoutMs);
          res.on('data', (c: Buffer) => {
            buf += c.toString('utf8');
            for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
              const line = buf.slice(0, i);
              buf = buf.slice(i + 1);
              if (line.trim()) events.push(JSON.parse(line));
            }
            if (until(events)) finish(false);
          });
          res.on('end', () => finish(true));
          res.on('error', () => finish(false));
        },
      );
      req.on('error', reject);
      req.end();
    });
  }
}
