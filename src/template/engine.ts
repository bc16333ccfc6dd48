/*
 * The nunjucks renderer itself, run in-process only by the sandbox's child (sandbox-child.ts) and by tests:
 * the action renders through render.ts, which runs this in a process without secrets or powers.
 * nunjucks does not sandbox: member lookups reach any JavaScript property, so `range.constructor` is
 * `Function` and `{{ range.constructor("return process")() }}` runs code. The lookups that lead there are
 * refused here (hardenNunjucks); the child process is the barrier that does not depend on finding every
 * such path.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import nunjucks from 'nunjucks';
import { stringify } from 'yaml';
import { TemplateError } from '../errors.js';

export interface TemplatePr {
  number: number;
  headSha: string;
  headRef: string;
  baseRef: string;
  /** `owner/name` of the base repository. */
  repository: string;
  title?: string;
}

/** One URL: a compose service's published port, exposed under `host`. */
export interface TemplateService {
  /** The compose service's name. */
  name: string;
  /** The port published on the docker host's pod (the Service's port and targetPort). */
  port: number;
  /** The container port, as in the URL. */
  targetPort: number;
  /** Empty when the exposure gives no host name (expose: loadbalancer or none). */
  host: string;
  url: string;
}

/** The variables a template sees. `namespace` and `id` are the ones Preevy's kube driver also provides. */
export interface TemplateContext {
  namespace: string;
  id: string;
  envId: string;
  labels: Record<string, string>;
  pr?: TemplatePr;
  services?: TemplateService[];
  domain?: string;
  /** ingress, loadbalancer or none (input `expose`). */
  expose?: string;
  ingressClass?: string;
  tlsSecret?: string;
  /** The docker data volume's size, a Kubernetes quantity as given (input `storage-size`). */
  storageSize?: string;
}

const CONTEXT_KEYS = [
  'namespace',
  'id',
  'envId',
  'labels',
  'pr',
  'services',
  'domain',
  'expose',
  'ingressClass',
  'tlsSecret',
  'storageSize',
] as const;

/**
 * Filters added to the nunjucks built-ins (`dump` is built in: JSON is valid YAML, so `{{ x | dump }}`
 * is the safe way to write any scalar).
 * - `quote`: the value as a string, double-quoted (`{{ 8080 | quote }}` → `"8080"`), for fields that must
 *   be strings: annotations, label values, env values.
 * - `toYaml`: a block of YAML with no trailing newline; nest it with the built-in `indent`:
 *   `labels:\n    {{ labels | toYaml | indent(4) }}`.
 * Both return undefined for undefined input, so `throwOnUndefined` still reports the missing variable.
 */
export const TEMPLATE_FILTERS = {
  quote(value: unknown): string | undefined {
    if (value === undefined || value === null) return undefined;
    return JSON.stringify(typeof value === 'string' ? value : String(value));
  },
  toYaml(value: unknown): string | undefined {
    if (value === undefined) return undefined;
    // YAML 1.1 quoting also protects `yes`, `0755` and dates from readers that follow 1.1, like kubectl.
    return stringify(value, { version: '1.1', lineWidth: 0 }).replace(/\n$/, '');
  },
} as const;

/**
 * Names whose lookup leads from a value to its constructor or prototype, and from there to `Function`
 * (code from a string) or to rewriting built-ins. No template needs them: the context is plain data.
 */
const REFUSED_NAMES = new Set([
  'constructor',
  'prototype',
  '__proto__',
  '__defineGetter__',
  '__defineSetter__',
  '__lookupGetter__',
  '__lookupSetter__',
]);

/** A refused lookup: nunjucks adds the template and line to the message. */
export const REFUSED_REASON = 'is refused in templates';

function refuse(name: unknown): void {
  if (typeof name === 'string' && REFUSED_NAMES.has(name)) throw new Error(`\`${name}\` ${REFUSED_REASON}`);
}

const HARDENED = Symbol.for('preevy-kube-action.nunjucks-hardened');

/**
 * Compiled templates call `runtime.memberLookup(obj, "name")` for `a.name` and `a["name"]` (also with
 * a computed string, so a check of the template's syntax tree would miss `a["constr" + "uctor"]`), and
 * `runtime.contextOrFrameLookup` for bare names: the context is a plain object, so a bare `constructor`
 * is `Object`. Both are read from the runtime module at render time, so replacing them covers every
 * template, include, macro and `{% set %}`.
 */
export function hardenNunjucks(): void {
  const runtime = nunjucks.runtime as unknown as Record<string | symbol, unknown> & {
    memberLookup: (obj: unknown, name: unknown) => unknown;
    contextOrFrameLookup: (context: unknown, frame: unknown, name: unknown) => unknown;
  };
  if (runtime[HARDENED]) return;
  const memberLookup = runtime.memberLookup;
  const contextOrFrameLookup = runtime.contextOrFrameLookup;
  runtime.memberLookup = (obj, name) => {
    refuse(name);
    return memberLookup(obj, name);
  };
  runtime.contextOrFrameLookup = (context, frame, name) => {
    refuse(name);
    return contextOrFrameLookup(context, frame, name);
  };
  runtime[HARDENED] = true;
}
hardenNunjucks();

/** Renders in this process: the action calls render.ts's renderTemplate, which runs this in the sandbox. */
export function renderInProcess(args: { file: string; source?: string; context: TemplateContext }): string {
  const mainPath = path.resolve(args.file);
  const root = path.dirname(mainPath);
  const source = args.source ?? readTemplateFile(args.file);
  // A loader rooted at the template's directory makes `{% include "x.njk" %}` relative to the template,
  // not to the working directory of the runner.
  const env = new nunjucks.Environment(new nunjucks.FileSystemLoader(root, { noCache: true }), {
    autoescape: false,
    throwOnUndefined: true,
    noCache: true,
  });
  for (const [name, fn] of Object.entries(TEMPLATE_FILTERS)) env.addFilter(name, fn);

  try {
    return new nunjucks.Template(source, env, mainPath, true).render(contextObject(args.context));
  } catch (err) {
    throw toTemplateError(err, { file: args.file, mainPath, root, source });
  }
}

function readTemplateFile(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new TemplateError(
      code === 'ENOENT' ? 'template file not found' : `cannot read the template: ${String(err)}`,
      file,
      undefined,
      {
        hint: `Check the template path (resolved to ${path.resolve(file)}), or use a bundled template.`,
        cause: err,
      },
    );
  }
}

/** Absent optional keys stay absent, so `{% if pr %}` works and `{{ pr.number }}` fails loudly. */
function contextObject(ctx: TemplateContext): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of CONTEXT_KEYS) if (ctx[key] !== undefined) out[key] = ctx[key];
  return out;
}

interface Location {
  path: string;
  line?: number;
  column?: number;
}

const LOCATION_LINE = /^\((.*)\)(?: \[Line (\d+)(?:, Column (\d+))?\])?$/;
const PREFIXES = /^(?:Template render error: |Error: )+/;

/**
 * nunjucks reports errors as text: one `(path) [Line N, Column M]` line per template on the include
 * chain, the innermost last, then the reason. There are no structured fields to read instead.
 */
export function parseNunjucksMessage(message: string): { location?: Location; reason: string } {
  let location: Location | undefined;
  const reason: string[] = [];
  for (const raw of message.split('\n')) {
    const line = raw.trim().replace(PREFIXES, '');
    const m = LOCATION_LINE.exec(line);
    if (m) {
      location = {
        path: m[1]!,
        line: m[2] ? Number(m[2]) : undefined,
        column: m[3] ? Number(m[3]) : undefined,
      };
    } else if (line !== '') {
      reason.push(line);
    }
  }
  return { location, reason: reason.join(' ') };
}

function toTemplateError(
  err: unknown,
  ctx: { file: string; mainPath: string; root: string; source: string },
): TemplateError {
  const message = err instanceof Error ? err.message : String(err);
  const { location, reason } = parseNunjucksMessage(message);
  const errPath = location && location.path !== 'unknown path' ? location.path : ctx.mainPath;
  const isMain = path.resolve(errPath) === ctx.mainPath;
  let display = isMain ? ctx.file : displayPath(errPath, ctx);
  const source = isMain ? ctx.source : tryRead(errPath);
  let line = location?.line;
  const opts = (hint: string) => ({ hint, details: message, cause: err });

  if (reason.includes('attempted to output null or undefined value')) {
    const expr =
      source !== undefined && line !== undefined ? expressionAt(source, line, location?.column) : '';
    return new TemplateError(
      `${expr ? `\`${expr}\`` : 'a value'} is undefined`,
      display,
      line,
      opts(
        `Variables: ${CONTEXT_KEYS.join(', ')}. pr, services and domain are not set on every run: ` +
          'guard them with {% if pr %} or give a fallback with | default("...").',
      ),
    );
  }
  const refused = new RegExp(`\`(\\w+)\` ${REFUSED_REASON}`).exec(reason)?.[1];
  if (refused) {
    // nunjucks gives the 0-based line of the statement here, or none, and after an include it names the
    // included file: the line where the name is written, in that file or else the main one, is better.
    const word = new RegExp(`\\b${refused}\\b`);
    const inMain = isMain ? undefined : findLine(ctx.source, word);
    const inFile = source === undefined ? undefined : findLine(source, word);
    if (inFile === undefined && inMain !== undefined) {
      display = ctx.file;
      line = inMain;
    } else {
      line = inFile ?? (line === undefined ? undefined : line + 1);
    }
    return new TemplateError(
      `\`${refused}\` ${REFUSED_REASON}`,
      display,
      line,
      opts(
        'Templates render data: constructors and prototypes are refused, because they lead to running code. ' +
          `Use the variables (${CONTEXT_KEYS.join(', ')}) and filters.`,
      ),
    );
  }
  const filter = /filter not found: (\S+)/.exec(reason)?.[1];
  if (filter) {
    line ??= source === undefined ? undefined : findLine(source, new RegExp(`\\|\\s*${escapeRe(filter)}\\b`));
    return new TemplateError(
      `unknown filter "${filter}"`,
      display,
      line,
      opts(`Use a nunjucks built-in filter or one of: ${Object.keys(TEMPLATE_FILTERS).join(', ')}.`),
    );
  }
  const missing = /template not found: (.+)$/.exec(reason)?.[1]?.trim();
  if (missing) {
    line ??= source === undefined ? undefined : findLine(source, new RegExp(`["']${escapeRe(missing)}["']`));
    return new TemplateError(
      `included template "${missing}" not found`,
      display,
      line,
      opts(`Includes are resolved relative to ${ctx.root}, and must stay inside that directory.`),
    );
  }
  const callee = /Unable to call `([^`]+)`/.exec(reason)?.[1];
  if (callee) {
    // nunjucks reports the line of the enclosing output here, not of the call.
    line =
      (source === undefined ? undefined : findLine(source, new RegExp(`${escapeRe(callee)}\\s*\\(`))) ?? line;
    return new TemplateError(
      `\`${callee}\` is not a function (it is undefined)`,
      display,
      line,
      opts(
        `Check the spelling. Variables: ${CONTEXT_KEYS.join(', ')}; macros must be defined or imported before use.`,
      ),
    );
  }
  return new TemplateError(
    `cannot render the template: ${reason || message}`,
    display,
    line,
    opts('Check the nunjucks syntax at this line: https://mozilla.github.io/nunjucks/templating.html'),
  );
}

function displayPath(abs: string, ctx: { file: string; root: string }): string {
  const rel = path.relative(ctx.root, abs);
  if (rel.startsWith('..') || path.isAbsolute(rel)) return abs;
  return path.join(path.dirname(ctx.file), rel);
}

function tryRead(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** nunjucks points at the `{{` of the failing output (1-based column). */
function expressionAt(source: string, line: number, column: number | undefined): string {
  const text = source.split(/\r?\n/)[line - 1];
  if (text === undefined) return '';
  const from = column === undefined ? text.indexOf('{{') : column - 1;
  const m = /^\{\{-?\s*(.*?)\s*-?\}\}/.exec(text.slice(Math.max(from, 0)));
  return m?.[1] ?? '';
}

function findLine(source: string, re: RegExp): number | undefined {
  const i = source.split(/\r?\n/).findIndex((l) => re.test(l));
  return i < 0 ? undefined : i + 1;
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * A comment template (input `comment-template`): markdown, no includes, a missing variable renders empty.
 * Its variables are prepared by the caller (github/comment-text.ts) as plain data.
 */
export function renderCommentInProcess(args: {
  file: string;
  source: string;
  vars: Record<string, unknown>;
}): string {
  const env = new nunjucks.Environment(null, { autoescape: false, throwOnUndefined: false });
  try {
    return env.renderString(args.source, args.vars);
  } catch (err) {
    const message = String((err as Error).message ?? err);
    const reported = /\[Line (\d+)/.exec(message)?.[1];
    const refused = new RegExp(`\`(\\w+)\` ${REFUSED_REASON}`).exec(message)?.[1];
    // As in toTemplateError: a refused name is found by its text, nunjucks' line is 0-based there.
    const line = refused
      ? (findLine(args.source, new RegExp(`\\b${refused}\\b`)) ??
        (reported ? Number(reported) + 1 : undefined))
      : reported
        ? Number(reported)
        : undefined;
    throw new TemplateError(
      parseNunjucksMessage(message).reason || 'render error',
      args.file,
      line,
      refused ? { hint: 'Comment templates render data: constructors and prototypes are refused.' } : {},
    );
  }
}
