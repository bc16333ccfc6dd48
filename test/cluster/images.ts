/** The images the templates of the cluster suites name, for the hook that loads them into a registry-less cluster. */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.join(import.meta.dirname, '../..');
const TEMPLATE_DIRS = ['templates', 'test/integration/templates'];

/** Literal `image:` values (templated ones cannot be known before rendering), sorted, once each. */
export function templateImages(): string[] {
  const images = new Set<string>();
  for (const dir of TEMPLATE_DIRS) {
    for (const f of readdirSync(path.join(ROOT, dir))) {
      if (!f.endsWith('.njk')) continue;
      for (const m of readFileSync(path.join(ROOT, dir, f), 'utf8').matchAll(
        /^\s*(?:-\s+)?image:\s*"?([^\s"{}]+)"?\s*$/gm,
      )) {
        images.add(m[1]!);
      }
    }
  }
  return [...images].sort();
}
