/** Shared helpers of the kubelet WebSocket endpoints (exec, portforward). */
import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { errors, type StatusBody } from '../kube/errors.js';
import type { SimObject } from '../kube/types.js';

/** The subprotocols a client offered, in its order. */
export function offeredProtocols(req: IncomingMessage): string[] {
  const raw = req.headers['sec-websocket-protocol'];
  const joined = Array.isArray(raw) ? raw.join(',') : (raw ?? '');
  return joined
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/** JSON as Go's encoding/json writes it: <, >, & and the JS line separators escaped. */
export function goJson(value: unknown): string {
  return JSON.stringify(value)
    .replaceAll('<', '\\u003c')
    .replaceAll('>', '\\u003e')
    .replaceAll('&', '\\u0026')
    .replaceAll('\u2028', '\\u2028')
    .replaceAll('\u2029', '\\u2029');
}

/** A stable 64-hex id for a pod (what containerd would call its sandbox id). */
export function sandboxId(pod: SimObject): string {
  return createHash('sha256').update(`sandbox:${pod.metadata.uid}`).digest('hex');
}

export function podKey(pod: SimObject): string {
  return `${pod.metadata.namespace ?? 'default'}/${pod.metadata.name}`;
}

/** The kube-apiserver's 400 Status, which the kubelet's endpoints answer with too. */
export function badRequestStatus(message: string): Record<string, unknown> {
  return { ...(errors.badRequest(message).body as StatusBody) };
}

export function boolParam(q: URLSearchParams, name: string): boolean {
  const v = q.get(name);
  return v === 'true' || v === '1' || v === 'True' || v === 'TRUE';
}
