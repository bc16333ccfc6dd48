/** Answers: a reply on an HTTP response or on a socket taken for an upgrade, errors as Status, request bodies. */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { errors, type StatusBody, StatusError } from '../errors.js';
import { JSON_TYPE, MAX_BODY, type Reply, warningHeader } from './types.js';

/** `cut`: the answer stops after the headers and half its body, and the connection is destroyed. */
export function send(res: ServerResponse, reply: Reply, warnings: string[] = [], cut = false): void {
  const headers: Record<string, string | string[]> = {
    'Audit-Id': randomUUID(),
    'Cache-Control': 'no-cache, private',
    ...(reply.headers ?? {}),
  };
  if (warnings.length) headers.Warning = warnings.map(warningHeader);
  let payload: string;
  if (typeof reply.body === 'string') {
    payload = reply.body;
    if (reply.contentType !== '') headers['Content-Type'] = reply.contentType ?? 'text/plain; charset=utf-8';
  } else {
    payload = `${JSON.stringify(reply.body)}\n`;
    headers['Content-Type'] = reply.contentType ?? JSON_TYPE;
  }
  headers['Content-Length'] = String(Buffer.byteLength(payload));
  res.writeHead(reply.status, headers);
  if (cut) {
    const bytes = Buffer.from(payload);
    res.write(bytes.subarray(0, Math.floor(bytes.length / 2)), () => res.socket?.destroy());
    return;
  }
  res.end(payload);
}

export function errorReply(e: unknown): Reply {
  if (e instanceof StatusError) {
    return typeof e.body === 'string'
      ? { status: e.code, body: e.body, contentType: e.contentType ?? 'text/plain; charset=utf-8' }
      : { status: e.code, body: e.body };
  }
  const msg = e instanceof Error ? e.message : String(e);
  return { status: 500, body: errors.internal(msg).body };
}

export function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(
          new StatusError(413, {
            kind: 'Status',
            apiVersion: 'v1',
            metadata: {},
            status: 'Failure',
            message: 'the request is too large',
            reason: 'RequestEntityTooLarge',
            code: 413,
          } as StatusBody),
        );
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** An HTTP response written on a socket that was handed over for an upgrade. */
export function writeRaw(socket: Duplex, reply: Reply): void {
  if (socket.destroyed) return;
  const payload = typeof reply.body === 'string' ? reply.body : `${JSON.stringify(reply.body)}\n`;
  const lines = [`HTTP/1.1 ${reply.status} ${STATUS_CODES[reply.status] ?? ''}`];
  const ct = typeof reply.body === 'string' ? reply.contentType : (reply.contentType ?? JSON_TYPE);
  if (ct) lines.push(`Content-Type: ${ct}`);
  for (const [k, v] of Object.entries(reply.headers ?? {}))
    for (const x of [v].flat()) lines.push(`${k}: ${x}`);
  lines.push(`Content-Length: ${Buffer.byteLength(payload)}`, 'Connection: close');
  socket.end(`${lines.join('\r\n')}\r\n\r\n${payload}`);
}
