#!/usr/bin/env node
// Builds the import graph of src/ from its import/export statements and reports cycles and imports a layer may
// not make (see README "Architecture"). Exit code 1 on either.
// Usage: node scripts/import-graph.mjs [--edges]
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const src = join(root, 'src');

function walk(dir) {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? walk(p) : p.endsWith('.ts') ? [p] : [];
  });
}

// Type-only imports count too: a cycle through types still couples the layers.
const importRe = /(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+['"](\.[^'"]+)['"]/g;
const dynamicRe = /import\(\s*['"](\.[^'"]+)['"]\s*\)/g;
const bareRe = /(?:^|\n)\s*import\s+['"](\.[^'"]+)['"]/g;

const files = walk(src);
const graph = new Map();
for (const file of files) {
  const text = readFileSync(file, 'utf8');
  const deps = new Set();
  for (const re of [importRe, dynamicRe, bareRe]) {
    for (const m of text.matchAll(re)) {
      const target = resolve(dirname(file), m[1]).replace(/\.js$/, '.ts');
      deps.add(relative(src, target));
    }
  }
  graph.set(relative(src, file), [...deps].sort());
}

// What each layer may import besides itself: the README's "Architecture" table. Files directly in src/ are
// layers of their own, named without `.ts`. Lowest first; no layer imports one listed after it.
// Every layer under the commands: what `commands/` may import, and `main.ts` too (with the commands).
const BELOW_COMMANDS = [
  'github',
  'inputs',
  'bridge',
  'environment',
  'compose',
  'template',
  'identity',
  'kube',
  'log',
  'errors',
  'util',
];

const LAYERS = {
  errors: [],
  util: ['errors'],
  kube: ['errors', 'util'],
  'kube/stream': ['kube', 'errors', 'util'],
  identity: ['kube', 'errors', 'util'],
  template: ['identity', 'kube', 'errors', 'util'],
  compose: ['kube', 'errors', 'util'],
  environment: ['identity', 'kube', 'errors', 'util'],
  bridge: ['environment', 'compose', 'kube/stream', 'kube', 'identity', 'errors', 'util'],
  inputs: ['environment', 'compose', 'kube', 'errors', 'util'],
  github: ['inputs', 'template', 'compose', 'identity', 'errors', 'util'],
  log: ['util'],
  commands: BELOW_COMMANDS,
  main: ['commands', ...BELOW_COMMANDS],
  heap: [],
  index: ['main', 'heap'],
};

const layerOf = (mod) => (mod.includes('/') ? mod.slice(0, mod.lastIndexOf('/')) : mod.replace(/\.ts$/, ''));

const problems = [];
for (const [mod, deps] of graph) {
  const from = layerOf(mod);
  const allowed = LAYERS[from];
  if (!allowed) problems.push(`${mod}: its folder is not a layer in scripts/import-graph.mjs`);
  for (const dep of deps) {
    if (!graph.has(dep)) problems.push(`${mod}: imports ${dep}, which is not in src/`);
    const to = layerOf(dep);
    if (allowed && to !== from && !allowed.includes(to))
      problems.push(`${mod} -> ${dep}: ${from}/ may not import ${to}/`);
  }
}

// Tarjan's strongly connected components: any component with more than one module is a cycle.
let index = 0;
const idx = new Map();
const low = new Map();
const stack = [];
const onStack = new Set();
const cycles = [];
function strong(v) {
  idx.set(v, index);
  low.set(v, index);
  index++;
  stack.push(v);
  onStack.add(v);
  for (const w of graph.get(v) ?? []) {
    if (!graph.has(w)) continue;
    if (!idx.has(w)) {
      strong(w);
      low.set(v, Math.min(low.get(v), low.get(w)));
    } else if (onStack.has(w)) low.set(v, Math.min(low.get(v), idx.get(w)));
  }
  if (low.get(v) === idx.get(v)) {
    const comp = [];
    let w;
    do {
      w = stack.pop();
      onStack.delete(w);
      comp.push(w);
    } while (w !== v);
    if (comp.length > 1 || (graph.get(v) ?? []).includes(v)) cycles.push(comp.sort());
  }
}
for (const v of graph.keys()) if (!idx.has(v)) strong(v);

if (process.argv.includes('--edges')) for (const [m, d] of graph) console.log(`${m}: ${d.join(' ')}`);
for (const c of cycles) console.log(`cycle: ${c.join(' <-> ')}`);
for (const p of [...new Set(problems)]) console.log(p);
const edges = [...graph.values()].reduce((n, d) => n + d.length, 0);
console.log(
  `${graph.size} modules, ${edges} imports, ${cycles.length} cycles, ${new Set(problems).size} layer problems`,
);
process.exit(cycles.length || problems.length ? 1 : 0);
