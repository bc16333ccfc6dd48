/**
 * The other compose files a project's files name: `include` entries (with their env files) and services'
 * `extends.file`. Compose reads them on the runner while it builds the model, and their content goes to the
 * docker host, so they are found here, by reading the project's own YAML, before compose reads anything: an
 * `include: /home/runner/.docker/config.json` must be refused, not loaded.
 *
 * Each file named is read in turn for its own references (compose allows chains); a file that does not parse
 * is left to compose, whose message names the problem.
 */
import { lstatSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { rec } from '../kube/shapes.js';
import type { RunnerRead } from './model.js';
import { outsideProblem } from './rewrite.js';

/** Compose's own limit on nested includes is lower; this only bounds a hostile chain. */
const MAX_FILES = 200;

const asList = (v: unknown): string[] =>
  (Array.isArray(v) ? v : [v]).filter((x): x is string => typeof x === 'string' && x !== '');

/** Remote includes (`oci://`, Git URLs) are fetched, not read from the runner. */
const isRemote = (p: string) => /^[a-z][a-z0-9+.-]*:\/\//i.test(p) || /^git@/.test(p);

interface Reference extends RunnerRead {
  /** A compose file, whose own references are followed. */
  composeFile: boolean;
}

function referencesOf(file: string, doc: unknown, workingDirectory: string): Reference[] {
  const dir = path.dirname(file);
  const base = path.relative(workingDirectory, file) || file;
  const out: Reference[] = [];
  const add = (where: string, written: string, from: string, composeFile: boolean) => {
    if (isRemote(written)) return;
    // A variable's value is only known to compose, after it has read the file.
    const at = written.includes('$') ? undefined : path.resolve(from, written);
    out.push({ where, written, path: at, composeFile });
  };
  const top = rec(doc);
  const include = top?.include;
  for (const entry of Array.isArray(include) ? include : []) {
    const e = typeof entry === 'string' ? { path: entry } : rec(entry);
    if (!e) continue;
    const paths = asList(e.path);
    for (const p of paths) add(`${base}: include`, p, dir, true);
    const projectDir = typeof e.project_directory === 'string' ? e.project_directory : undefined;
    if (projectDir) add(`${base}: include project_directory`, projectDir, dir, false);
    const envFiles = asList(e.env_file);
    for (const p of envFiles) add(`${base}: include env_file`, p, dir, false);
    // Without env_file, compose reads the .env of the included project's directory for its variables.
    if (envFiles.length === 0) {
      const first = paths[0];
      const from =
        projectDir ?? (first && !first.includes('$') ? path.dirname(path.resolve(dir, first)) : undefined);
      if (from && !from.includes('$') && exists(fileIn(path.resolve(dir, from), '.env')))
        add(`${base}: include (its .env)`, fileIn(from, '.env'), dir, false);
    }
  }
  for (const [name, service] of Object.entries(rec(top?.services) ?? {})) {
    const extendsFile = rec(rec(service)?.extends)?.file;
    if (typeof extendsFile === 'string' && extendsFile !== '')
      add(`${base}: service "${name}" extends.file`, extendsFile, dir, true);
  }
  return out;
}

/**
 * A path call with a literal file name would be taken by ncc's asset relocator for a file to bundle (it copied
 * a `.env` of node_modules into dist/); through this function it is not.
 */
const fileIn = (dir: string, name: string) => path.join(dir, name);

/** Exists, or is a link (dangling or not). */
function exists(p: string): boolean {
  try {
    lstatSync(p);
    return true;
  } catch {
    return false;
  }
}

/**
 * Every file the given compose files name, and those these name in turn. A file is only opened once it is
 * known to be inside the working directory (links followed); the others are returned unread, and
 * checkRunnerReads refuses them.
 */
export function composeFileReferences(files: string[], workingDirectory: string): RunnerRead[] {
  const found: RunnerRead[] = [];
  const seen = new Set<string>();
  const queue = [...files];
  while (queue.length > 0 && seen.size < MAX_FILES) {
    const file = queue.shift() as string;
    if (seen.has(file)) continue;
    seen.add(file);
    let doc: unknown;
    try {
      doc = parse(readFileSync(file, 'utf8'), { maxAliasCount: 100, prettyErrors: false });
    } catch {
      continue;
    }
    for (const r of referencesOf(file, doc, workingDirectory)) {
      found.push({ where: r.where, path: r.path, written: r.written });
      if (r.composeFile && r.path && !outsideProblem(r.path, workingDirectory)) queue.push(r.path);
    }
  }
  return found;
}
