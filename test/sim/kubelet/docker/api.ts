/**
 * A few Docker Engine API calls over plain node:http. The simulator's helpers and tests talk to the engines
 * directly, so they do not depend on which docker CLI (or CLI plugins) a machine has.
 */
import http from 'node:http';
import { Readable } from 'node:stream';

/** Where an engine answers: its unix socket (host path) or a TCP address. */
export type DockerTarget = { socketPath: string } | { host: string; port: number };

export interface DockerResponse {
  status: number;
  body: Buffer;
}

export interface DockerRequestOptions {
  /** Sent as JSON. */
  json?: unknown;
  /** Raw body (a tar stream for build and load). */
  body?: Readable | Buffer;
  contentType?: string;
  /** Whole-request bound: a wedged engine must fail the test, not hang it. */
  timeoutMs?: number;
}

export class DockerApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'DockerApiError';
  }
}

export function dockerRequest(
  target: DockerTarget,
  method: string,
  path: string,
  opts: DockerRequestOptions = {},
): Promise<DockerResponse> {
  const { timeoutMs = 30_000 } = opts;
  const headers: Record<string, string> = {};
  let payload: Readable | Buffer | undefined = opts.body;
  if (opts.json !== undefined) {
    payload = Buffer.from(JSON.stringify(opts.json));
    headers['content-type'] = 'application/json';
  }
  if (opts.contentType) headers['content-type'] = opts.contentType;
  if (Buffer.isBuffer(payload)) headers['content-length'] = String(payload.length);
  return new Promise((resolve, reject) => {
    // agent: false: one connection per call, closed afterwards, so nothing pooled outlives an engine.
    const req = http.request({ ...target, method, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
    });
    req.setTimeout(timeoutMs, () =>
      req.destroy(new Error(`docker API ${method} ${path} timed out after ${timeoutMs} ms`)),
    );
    req.on('error', reject);
    if (payload instanceof Readable) {
      payload.on('error', (err) => req.destroy(err));
      payload.pipe(req);
    } else {
      req.end(payload);
    }
  });
}

/** Calls the API and parses a JSON answer; any status >= 400 throws with the engine's message. */
export async function dockerJson<T>(
  target: DockerTarget,
  method: string,
  path: string,
  opts: DockerRequestOptions = {},
): Promise<T> {
  const res = await dockerRequest(target, method, path, opts);
  if (res.status >= 400) throw new DockerApiError(res.status, `${method} ${path}: ${errorMessage(res.body)}`);
  const text = res.body.toString('utf8');
  return (text ? JSON.parse(text) : undefined) as T;
}

function errorMessage(body: Buffer): string {
  const text = body.toString('utf8');
  try {
    const parsed = JSON.parse(text) as { message?: string };
    return parsed.message ?? text;
  } catch {
    return text;
  }
}

/**
 * Build and load answer 200 and report failures inside their JSON-lines progress stream; this turns
 * the first `error` line into an exception and returns the parsed lines.
 */
export function parseProgress(body: Buffer, what: string): Array<Record<string, unknown>> {
  const lines = body
    .toString('utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  const failed = lines.find((l) => typeof l.error === 'string');
  if (failed) {
    const log = lines
      .map((l) => (typeof l.stream === 'string' ? l.stream : ''))
      .join('')
      .trim();
    throw new Error(`${what} failed: ${String(failed.error)}${log ? `\n${log}` : ''}`);
  }
  return lines;
}
