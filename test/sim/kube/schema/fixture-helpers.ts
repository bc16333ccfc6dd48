/**
 * Test-only helpers: read the recorded kube-apiserver fixtures (test/fixtures/kube-api) and bring simulator
 * output to the fixtures' redacted form. Never imported by the simulator itself.
 */

import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { META_ORDER } from '../store.js';
import type { SimObject } from '../types.js';

const DIR = join(dirname(fileURLToPath(import.meta.url)), '../../../fixtures/kube-api');

export interface Fixture {
  description: string;
  request: {
    method: string;
    path: string;
    query: Record<string, string>;
    headers: Record<string, string>;
    body: unknown;
  };
  response: { status: number; headers: Record<string, string | string[]>; body: unknown };
}

export function fixture(num: string): Fixture {
  const file = readdirSync(DIR).find((f) => f.startsWith(`${num}-`));
  if (!file) throw new Error(`no fixture ${num}`);
  return JSON.parse(readFileSync(join(DIR, file), 'utf8')) as Fixture;
}

/** The request body as an object (apply-patch bodies are YAML). */
export function requestObject(f: Fixture): SimObject {
  const b = f.request.body;
  return (typeof b === 'string' ? parse(b) : structuredClone(b)) as SimObject;
}

export function responseObject(f: Fixture): SimObject {
  return structuredClone(f.response.body) as SimObject;
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/** Applies the fixtures' redaction (uid, resourceVersion, timestamps) to simulator output. */
export function redact(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(redact);
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, c] of Object.entries(v)) {
      if (k === 'uid' && typeof c === 'string') out[k] = '<uid>';
      else if (k === 'resourceVersion' && typeof c === 'string') out[k] = '<rv>';
      else out[k] = redact(c);
    }
    return out;
  }
  if (typeof v === 'string' && RFC3339.test(v)) return '<time>';
  return v;
}

/** What the store adds to a created object (uid, resourceVersion, creationTimestamp, generation), in Go order. */
export function asStored(obj: SimObject, generation?: number): SimObject {
  const meta = obj.metadata as Record<string, unknown>;
  const filled: Record<string, unknown> = {
    ...meta,
    uid: meta.uid ?? '<uid>',
    resourceVersion: meta.resourceVersion ?? '<rv>',
    creationTimestamp: meta.creationTimestamp ?? '<time>',
  };
  if (generation !== undefined) filled.generation = generation;
  const m: Record<string, unknown> = {};
  for (const k of META_ORDER) if (filled[k] !== undefined) m[k] = filled[k];
  for (const [k, v] of Object.entries(filled)) if (!(k in m) && v !== undefined) m[k] = v;
  const out: Record<string, unknown> = { kind: obj.kind, apiVersion: obj.apiVersion, metadata: m };
  for (const [k, v] of Object.entries(obj)) if (!(k in out)) out[k] = v;
  return out as SimObject;
}

/** Byte-level comparison helper: JSON text as the server would write it. */
export function json(v: unknown): string {
  return JSON.stringify(v, null, 1);
}
