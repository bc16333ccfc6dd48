/**
 * The kubeconfig the job wrote itself, used when the `kubeconfig` input is empty: a cloud login step before the
 * action (`aws eks update-kubeconfig`, google-github-actions/get-gke-credentials, azure/aks-set-context) writes
 * one to $KUBECONFIG or ~/.kube/config, usually with an exec credential plugin. The job put that plugin there, so
 * it may run (unlike one in the input, which the allow-kubeconfig-exec input guards).
 *
 * KUBECONFIG may list several files (':'-separated); they are merged as kubectl merges them: the first file
 * to define a cluster, context or user (by name), or a current-context, wins. Relative paths inside a file
 * are relative to that file, as kubectl reads them; they are made absolute here, since the merged text has
 * no file of its own.
 *
 * Nothing here may echo a file's content into a message: it holds credentials.
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { parseDocument, stringify } from 'yaml';
import { ActionError } from '../errors.js';

export interface JobKubeconfig {
  /** The merged kubeconfig YAML; undefined when no file has content. */
  text?: string;
  /** The files read (that exist and are not empty). */
  files: string[];
  /** Where it was looked for, for the error when there is none. */
  looked: string;
}

type Raw = Record<string, unknown>;

function isMap(v: unknown): v is Raw {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The fields of each kind that name a file. */
const PATH_FIELDS: Record<'cluster' | 'user', string[]> = {
  cluster: ['certificate-authority'],
  user: ['client-certificate', 'client-key', 'token-file'],
};

/** $KUBECONFIG's files in order, or ~/.kube/config. */
export function jobKubeconfigPaths(env: NodeJS.ProcessEnv): { paths: string[]; looked: string } {
  const list = (env.KUBECONFIG ?? '')
    .split(path.delimiter)
    .map((p) => p.trim())
    .filter(Boolean);
  if (list.length > 0) return { paths: list, looked: `$KUBECONFIG (${list.join(path.delimiter)})` };
  const home = path.join(env.HOME || homedir(), '.kube', 'config');
  return { paths: [home], looked: `${home} ($KUBECONFIG is not set)` };
}

function readFile(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // kubectl skips the files of KUBECONFIG that do not exist.
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw new ActionError(`Cannot read the job's kubeconfig ${file}: ${code ?? 'error'}`, {
      hint: 'The kubeconfig input is empty, so the kubeconfig of the job (written by a cloud login step) is used.',
    });
  }
}

function parseFile(file: string, text: string): Raw {
  const doc = parseDocument(text, { prettyErrors: false });
  const first = doc.errors[0];
  if (first) {
    const line = text.slice(0, first.pos[0]).split('\n').length;
    throw new ActionError(`The job's kubeconfig ${file} is not valid YAML (line ${line})`, {
      hint: 'The kubeconfig input is empty, so the kubeconfig of the job is used; fix the step that wrote it, or pass the kubeconfig input.',
    });
  }
  const value: unknown = doc.toJS();
  if (value === null || value === undefined) return {};
  if (!isMap(value)) {
    throw new ActionError(`The job's kubeconfig ${file} is not a kubeconfig (not a YAML mapping)`);
  }
  return value;
}

function absolute(v: unknown, dir: string): unknown {
  return typeof v === 'string' && v !== '' && !path.isAbsolute(v) ? path.resolve(dir, v) : v;
}

function absolutePaths(body: unknown, fields: string[], dir: string): unknown {
  if (!isMap(body)) return body;
  const out: Raw = { ...body };
  for (const f of fields) if (out[f] !== undefined) out[f] = absolute(out[f], dir);
  // client-go resolves an exec command against the file only when it names a path ("bin/token"), not a program
  // looked up on PATH ("aws").
  const exec = out.exec;
  if (isMap(exec) && typeof exec.command === 'string' && exec.command.includes('/')) {
    out.exec = { ...exec, command: absolute(exec.command, dir) };
  }
  return out;
}

/**
 * Finds and merges the job's kubeconfig. `text` is undefined when there is none (no file, or only empty files).
 * Throws ActionError naming the file when one cannot be read or parsed.
 */
export function findJobKubeconfig(env: NodeJS.ProcessEnv = process.env): JobKubeconfig {
  const { paths, looked } = jobKubeconfigPaths(env);
  const lists: Record<'clusters' | 'contexts' | 'users', Raw[]> = { clusters: [], contexts: [], users: [] };
  const seen = { clusters: new Set<string>(), contexts: new Set<string>(), users: new Set<string>() };
  let currentContext: string | undefined;
  const files: string[] = [];
  for (const file of paths) {
    const text = readFile(path.resolve(file));
    if (text === undefined || text.trim() === '') continue;
    files.push(file);
    const raw = parseFile(file, text);
    const dir = path.dirname(path.resolve(file));
    for (const [key, inner] of [
      ['clusters', 'cluster'],
      ['contexts', 'context'],
      ['users', 'user'],
    ] as const) {
      const entries = raw[key];
      if (!Array.isArray(entries)) continue;
      for (const e of entries) {
        if (!isMap(e) || typeof e.name !== 'string' || seen[key].has(e.name)) continue;
        seen[key].add(e.name);
        const fields = inner === 'context' ? [] : PATH_FIELDS[inner];
        lists[key].push({ ...e, [inner]: absolutePaths(e[inner], fields, dir) });
      }
    }
    if (
      currentContext === undefined &&
      typeof raw['current-context'] === 'string' &&
      raw['current-context']
    ) {
      currentContext = raw['current-context'];
    }
  }
  if (files.length === 0) return { files, looked };
  const merged = {
    apiVersion: 'v1',
    kind: 'Config',
    ...lists,
    ...(currentContext ? { 'current-context': currentContext } : {}),
  };
  return { text: stringify(merged), files, looked };
}
