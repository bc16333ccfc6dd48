/*
 * Security: nunjucks does not sandbox. A template can read any file under its directory, loop forever and,
 * through prototype tricks, run code. The template is trusted configuration: a template changed by a PR is
 * code that runs with the cluster credentials, so workflows that run on PRs from forks must not take the
 * template from the PR's checkout.
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
  /** `owner/name` */
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

export function renderTemplate(args: { file: string; source?: string; context: TemplateContext }): string {
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
  const display = isMain ? ctx.file : displayPath(errPath, ctx);
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
