import { LineCounter, parseAllDocuments, type ScalarTag, type YAMLError } from 'yaml';
import { TemplateError } from '../errors.js';
import type { KubeObject } from '../kube/types.js';

/** Limits against a hostile or runaway template; real environments are far below them. */
export const PARSE_LIMITS = {
  maxBytes: 4 * 1024 * 1024,
  maxDocuments: 500,
  maxDepth: 100,
  /** The yaml library's guard against alias expansion ("billion laughs"). */
  maxAliasCount: 100,
} as const;

/**
 * The yaml library's warnings we accept. Every other warning (an unresolved `!tag`, an unknown `%directive`,
 * an ambiguous alias) means a rendered value was read as YAML syntax: the data is not what the author wrote.
 */
const HARMLESS_WARNINGS = new Set(['BAD_INDENT']);

/**
 * kubectl reads manifests as YAML 1.1, where `0644` is octal (420). Under YAML 1.2 it is decimal 644, which
 * as a `defaultMode` silently gives the wrong file mode; read it the way kubectl does.
 */
const yaml11Octal: ScalarTag = {
  // Parse only: never chosen when writing YAML.
  identify: () => false,
  default: true,
  tag: 'tag:yaml.org,2002:int',
  format: 'OCT',
  test: /^[-+]?0[0-7]+$/,
  resolve: (s) => (s.startsWith('-') ? -parseInt(s.slice(1), 8) : parseInt(s.replace(/^\+/, ''), 8)),
};

export interface DocumentPosition {
  /** 1-based, counting every document of the rendered output, empty ones too. */
  index: number;
  /** 1-based line in the rendered output where the document starts. */
  line: number;
}

const positions = new WeakMap<object, DocumentPosition>();

/** Where a parsed object came from in the rendered output, for messages that help the user find it. */
export function documentPosition(o: object): DocumentPosition | undefined {
  return positions.get(o);
}

export function parseManifests(text: string, file: string): KubeObject[] {
  const bytes = Buffer.byteLength(text);
  if (bytes > PARSE_LIMITS.maxBytes) {
    throw new TemplateError(
      `the rendered manifests are ${bytes} bytes, more than the limit of ${PARSE_LIMITS.maxBytes}`,
      file,
      undefined,
      { hint: 'Check the template for a runaway loop, or move large data out of the template.' },
    );
  }
  const lc = new LineCounter();
  const parsed = parseAllDocuments(text, {
    lineCounter: lc,
    merge: true,
    customTags: (tags) => [yaml11Octal, ...tags],
  });
  const docs = Array.isArray(parsed) ? parsed : [];
  if (docs.length > PARSE_LIMITS.maxDocuments) {
    throw new TemplateError(
      `the rendered manifests have ${docs.length} documents, more than the limit of ${PARSE_LIMITS.maxDocuments}`,
      file,
      undefined,
      { hint: 'Check the template for a runaway loop.' },
    );
  }

  const objects: KubeObject[] = [];
  docs.forEach((doc, i) => {
    const index = i + 1;
    const problem: YAMLError | undefined =
      doc.errors[0] ?? doc.warnings.find((w) => !HARMLESS_WARNINGS.has(w.code));
    if (problem) {
      // The parser recurses per nesting level: thousands of levels exhaust the stack before our depth check.
      if (/call stack/i.test(problem.message)) throw tooDeep(index, lc.linePos(doc.range[0]).line, file);
      throw yamlError(problem, { text, file, index });
    }

    // The first node, not the `---` or comments before it.
    const line = lc.linePos(doc.contents?.range[0] ?? doc.range[0]).line;
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: PARSE_LIMITS.maxAliasCount });
    } catch (err) {
      throw new TemplateError(
        `document ${index} (rendered output line ${line}): ${err instanceof Error ? err.message : String(err)}\n${excerpt(text, line)}`,
        file,
        undefined,
        {
          hint: 'Too many YAML aliases (*name) expand to a huge document. Write the values out instead.',
          cause: err,
        },
      );
    }
    if (value === null || value === undefined) return;
    if (!isPlainObject(value)) {
      throw new TemplateError(
        `document ${index} (rendered output line ${line}) is ${Array.isArray(value) ? 'a list' : `a ${typeof value}`}, not a Kubernetes object\n${excerpt(text, line)}`,
        file,
        undefined,
        { hint: 'Each document between `---` lines must be one object with apiVersion, kind and metadata.' },
      );
    }
    if (depthOf(value, PARSE_LIMITS.maxDepth) > PARSE_LIMITS.maxDepth) throw tooDeep(index, line, file);
    const obj = value as KubeObject;
    positions.set(obj, { index, line });
    objects.push(obj);
  });
  return objects;
}

function tooDeep(index: number, line: number, file: string): TemplateError {
  return new TemplateError(
    `document ${index} (rendered output line ${line}) is nested more than ${PARSE_LIMITS.maxDepth} levels deep`,
    file,
    undefined,
    { hint: 'Check the template for a runaway recursive macro.' },
  );
}

function yamlError(e: YAMLError, ctx: { text: string; file: string; index: number }): TemplateError {
  const line = e.linePos?.[0].line;
  // The library appends its own location and a source excerpt; ours shows more context, with line numbers.
  const reason = (e.message.split('\n')[0] ?? e.message).replace(/ at line \d+, column \d+:?$/, '');
  const where = line === undefined ? '' : ` (rendered output line ${line})`;
  return new TemplateError(
    `document ${ctx.index}${where} is not valid YAML: ${reason}${line === undefined ? '' : `\n${excerpt(ctx.text, line)}`}`,
    ctx.file,
    // Not a line of the template file: the template's lines do not map one to one onto the output.
    undefined,
    {
      hint:
        'Render every value with `| dump` (e.g. `name: {{ id | dump }}`) so quotes, colons and newlines in ' +
        'values cannot change the YAML structure. Wrapping `{{ x }}` in quotes is not enough.',
      details: e.message,
      cause: e,
    },
  );
}

/** The offending rendered lines with two lines of context, numbered, the failing one marked. */
export function excerpt(text: string, line: number, context = 2): string {
  const lines = text.split(/\r?\n/);
  const from = Math.max(1, line - context);
  const to = Math.min(lines.length, line + context);
  const width = String(to).length;
  const out: string[] = [];
  for (let n = from; n <= to; n++) {
    out.push(`${n === line ? '>' : ' '} ${String(n).padStart(width)} | ${lines[n - 1]}`);
  }
  return out.join('\n');
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Iterative, so a deep document cannot overflow the stack here; stops counting past the limit. */
function depthOf(root: unknown, limit: number): number {
  let max = 0;
  const stack: Array<[unknown, number]> = [[root, 1]];
  while (stack.length > 0) {
    const [v, d] = stack.pop()!;
    if (typeof v !== 'object' || v === null) continue;
    if (d > max) max = d;
    if (max > limit) return max;
    for (const child of Array.isArray(v) ? v : Object.values(v)) stack.push([child, d + 1]);
  }
  return max;
}
