#!/usr/bin/env node
/**
 * Derives test/sim/kube/data/openapi/*.json from the recorded OpenAPI v3 documents in
 * test/fixtures/kube-openapi/ (the simulator must not read test/fixtures at runtime).
 *
 * The transformation is mechanical and lossless for everything the simulator uses:
 *  - only `components.schemas` is kept (no `paths`, no `securitySchemes`);
 *  - every schema's human-readable `description` is dropped (a *property* that happens to be named
 *    "description" is kept: only the keyword is removed, never an entry of a `properties` map);
 *  - the output is minified JSON.
 *
 * Run: node test/sim/kube/schema/extract-openapi.mjs
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const src = join(here, '../../../fixtures/kube-openapi');
const dst = join(here, '../data/openapi');

/** Removes the `description` keyword from a schema object, recursively. */
function strip(schema) {
  if (Array.isArray(schema)) return schema.map(strip);
  if (schema === null || typeof schema !== 'object') return schema;
  const out = {};
  for (const [k, v] of Object.entries(schema)) {
    if (k === 'description' && typeof v === 'string') continue;
    if ((k === 'properties' || k === 'patternProperties') && v && typeof v === 'object') {
      const props = {};
      for (const [name, sub] of Object.entries(v)) props[name] = strip(sub);
      out[k] = props;
    } else if (k === 'default' || k === 'example' || k === 'enum') {
      out[k] = v; // values, not schemas
    } else {
      out[k] = strip(v);
    }
  }
  return out;
}

mkdirSync(dst, { recursive: true });
const files = readdirSync(src).filter((f) => f.startsWith('api') && f.endsWith('.json'));
let total = 0;
for (const file of files.sort()) {
  const doc = JSON.parse(readFileSync(join(src, file), 'utf8'));
  const schemas = {};
  for (const [name, schema] of Object.entries(doc.components?.schemas ?? {})) schemas[name] = strip(schema);
  const out = JSON.stringify({ openapi: doc.openapi, info: doc.info, components: { schemas } });
  writeFileSync(join(dst, file), `${out}\n`);
  total += out.length;
  console.log(`${file}: ${Object.keys(schemas).length} schemas, ${out.length} bytes`);
}
console.log(`total ${total} bytes`);
