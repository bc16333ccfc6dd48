/*
 * Templates (input `template`, `comment-template`) are code a PR can change (with allow-pull-request-target)
 * or that is copied from elsewhere. They render in a child process that cannot reach what this process
 * holds: its environment is empty (no kubeconfig, no GitHub token, no NODE_OPTIONS), its context comes as
 * JSON on stdin and its text leaves as JSON on stdout, and Node's permission model lets it read only its own
 * code and the template's folder, and start no process or worker, write no file, load no addon.
 * Not covered by Node's permission model: the network (the child holds no credential to use on it) and
 * symbolic links inside the template's folder (followed wherever they point: the folder is the user's).
 * nunjucks itself still needs `new Function` (it compiles templates to JavaScript), so code generation from
 * strings stays allowed; the refusals in engine.ts keep templates from reaching it.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, realpathSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { TemplateError } from '../errors.js';
import type { TemplateContext } from './engine.js';

export type SandboxJob =
  | { kind: 'manifests'; file: string; source?: string; context: TemplateContext }
  | { kind: 'comment'; file: string; source: string; vars: Record<string, unknown> };

export interface SandboxFailure {
  /** The TemplateError's message without its `file:line: ` prefix. */
  reason: string;
  file?: string;
  line?: number;
  hint?: string;
  details?: string;
}

export type SandboxResult = { ok: true; text: string } | { ok: false; error: SandboxFailure };

/** How to start the child: its entry file, node's options to load it, and the files its code needs. */
export interface SandboxEntry {
  entry: string;
  nodeArgs: string[];
  readable: string[];
}

/*
 * Sources use `./x.js` for `./x.ts` (TypeScript's NodeNext convention): node strips the types itself and
 * this hook maps the specifier. tsx cannot serve here: it probes paths outside any folder worth granting.
 */
const RESOLVE_TS =
  'data:text/javascript,import{registerHooks}from"node:module";registerHooks({resolve(s,c,n){try{return n(s,c)}catch(e){if(/^\\.\\.?\\//.test(s)&&s.endsWith(".js"))return n(s.slice(0,-3)+".ts",c);throw e}}});';

/**
 * The child's code, found from this module's own file: in the bundle (dist/index.js) it is the second bundle
 * dist/render/index.js (`npm run build` builds both); in the sources (tests, bench) it is sandbox-child.ts,
 * which node runs with its TypeScript support (parameter properties need transform-types, not only stripping).
 */
export function sandboxEntry(moduleFile: string): SandboxEntry {
  const dir = path.dirname(moduleFile);
  if (moduleFile.endsWith('.ts')) {
    const root = path.resolve(dir, '../..');
    return {
      entry: path.join(dir, 'sandbox-child.ts'),
      nodeArgs: [
        '--experimental-transform-types',
        '--disable-warning=ExperimentalWarning',
        '--import',
        RESOLVE_TS,
      ],
      readable: [path.join(root, 'src'), path.join(root, 'node_modules')],
    };
  }
  const renderDir = path.join(dir, 'render');
  return { entry: path.join(renderDir, 'index.js'), nodeArgs: [], readable: [renderDir] };
}

/** node's arguments for the child: everything it may read, granted by path (and real path: a link's target). */
export function sandboxArgs(entry: SandboxEntry, readable: string[]): string[] {
  const paths = new Set<string>();
  for (const p of [...entry.readable, ...readable]) {
    // Node reads `*` in a granted path as a wildcard: `/ws/a*` would grant every path starting with `/ws/a`.
    if (p.includes('*'))
      throw new TemplateError("the template's folder has a `*` in its path", p, undefined, {
        hint: 'Move the template to a folder whose path has no `*`: the sandbox grants reading it by path.',
      });
    paths.add(path.resolve(p));
    try {
      paths.add(realpathSync(p));
    } catch {
      // A folder that does not exist grants nothing; the render reports the missing file.
    }
  }
  return [
    '--permission',
    ...[...paths].map((p) => `--allow-fs-read=${p}`),
    // node:sqlite opens and creates files past the permission model (Node 24): the child has no use for it.
    '--no-experimental-sqlite',
    // A template that builds a huge value fails alone, instead of taking the runner's memory.
    '--max-old-space-size=256',
    ...entry.nodeArgs,
    entry.entry,
  ];
}

/** Long enough for any template; a template that loops forever is stopped instead of hanging the job. */
const RENDER_TIMEOUT_MS = 60_000;
const MAX_OUTPUT = 64 * 1024 * 1024;

const DEFAULT_ENTRY = sandboxEntry(fileURLToPath(import.meta.url));

/**
 * Renders one job in a fresh child and returns its text, or throws the TemplateError the child reported.
 * Synchronous: a render takes tens of milliseconds, and its callers are synchronous.
 */
export function renderInSandbox(
  job: SandboxJob,
  readable: string[],
  entry: SandboxEntry = DEFAULT_ENTRY,
): string {
  if (!existsSync(entry.entry))
    throw new TemplateError(`the action's template renderer ${entry.entry} is missing`, job.file, undefined, {
      hint: 'The action runs from its whole checkout: dist/index.js and dist/render/index.js (`npm run build` builds both).',
    });
  const res = spawnSync(process.execPath, sandboxArgs(entry, readable), {
    input: JSON.stringify(job),
    env: {},
    encoding: 'utf8',
    timeout: RENDER_TIMEOUT_MS,
    killSignal: 'SIGKILL',
    maxBuffer: MAX_OUTPUT,
    windowsHide: true,
  });
  let result: SandboxResult | undefined;
  try {
    result = JSON.parse(res.stdout) as SandboxResult;
  } catch {
    result = undefined;
  }
  if (result?.ok === true && typeof result.text === 'string') return result.text;
  if (result?.ok === false) {
    const e = result.error;
    throw new TemplateError(e.reason, e.file ?? job.file, e.line, { hint: e.hint, details: e.details });
  }
  const why = res.error
    ? (res.error as NodeJS.ErrnoException).code === 'ETIMEDOUT'
      ? `did not finish in ${RENDER_TIMEOUT_MS / 1000} s`
      : String(res.error)
    : `exited with ${res.signal ?? `code ${res.status}`}`;
  throw new TemplateError(`the template's renderer ${why}`, job.file, undefined, {
    hint:
      'A template that loops without end or builds a huge value is stopped. ' +
      `The renderer said: ${tailLines(res.stderr ?? '', 5) || '(nothing)'}`,
  });
}

function tailLines(text: string, n: number): string {
  return text.trim().split('\n').slice(-n).join('\n');
}
