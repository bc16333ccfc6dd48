import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { TemplateError } from '../../../src/errors.js';
import { parseNunjucksMessage, renderTemplate, type TemplateContext } from '../../../src/template/render.js';
import { thrownBy } from '../support.js';

const context: TemplateContext = {
  namespace: 'previews',
  id: 'shop-pr-1-abcde',
  envId: 'shop-pr-1',
  labels: { 'preevy.dev/env-id': 'shop-pr-1' },
};

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'render-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function write(name: string, text: string): string {
  const file = path.join(dir, name);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, text);
  return file;
}

const renderError = (fn: () => unknown): TemplateError => thrownBy(TemplateError, fn);

describe('renderTemplate', () => {
  it('renders the context variables', () => {
    const file = write('t.njk', 'ns: {{ namespace }}\nid: {{ id }}\nenv: {{ envId }}\n');
    expect(renderTemplate({ file, context })).toBe('ns: previews\nid: shop-pr-1-abcde\nenv: shop-pr-1\n');
  });

  it('renders from a given source as if it were the file', () => {
    const file = path.join(dir, 'virtual.njk');
    write('part.njk', 'part: {{ id }}');
    expect(renderTemplate({ file, source: '{% include "part.njk" %}', context })).toBe(
      'part: shop-pr-1-abcde',
    );
  });

  it('resolves includes relative to the template directory, not the working directory', () => {
    write('sub/partials/labels.njk', '{% for k, v in labels %}{{ k }}: {{ v | dump }}{% endfor %}');
    const file = write('sub/main.njk', 'labels:\n  {% include "partials/labels.njk" %}\n');
    expect(parse(renderTemplate({ file, context }))).toEqual({
      labels: { 'preevy.dev/env-id': 'shop-pr-1' },
    });
  });

  it('lets optional PR data be guarded', () => {
    const file = write('t.njk', '{% if pr %}pr: {{ pr.number }}{% else %}no-pr{% endif %}');
    expect(renderTemplate({ file, context })).toBe('no-pr');
    const pr = { number: 5, headSha: 'abc', headRef: 'f', baseRef: 'main', repository: 'a/b' };
    expect(renderTemplate({ file, context: { ...context, pr } })).toBe('pr: 5');
  });

  it('keeps a value with quotes, newlines and ": " one YAML value with | dump', () => {
    const title = `it's "fixed": yes\nnext: line # not a comment`;
    const pr = { number: 5, headSha: 'abc', headRef: 'f', baseRef: 'main', repository: 'a/b', title };
    const file = write(
      't.njk',
      'metadata:\n  annotations:\n    title: {{ pr.title | dump }}\n    other: x\n',
    );
    const doc = parse(renderTemplate({ file, context: { ...context, pr } }));
    expect(doc).toEqual({ metadata: { annotations: { title, other: 'x' } } });
  });

  it('offers quote and toYaml for strings and nested blocks', () => {
    const file = write(
      't.njk',
      'port: {{ 8080 | quote }}\nflag: {{ "yes" | quote }}\nmeta:\n  labels:\n    {{ labels | toYaml | indent(4) }}\n  mode: {{ "0755" | toYaml }}\n',
    );
    const out = renderTemplate({
      file,
      context: { ...context, labels: { a: 'yes', b: 'x: y', c: '0755' } },
    });
    expect(parse(out, { version: '1.1' })).toEqual({
      port: '8080',
      flag: 'yes',
      meta: { labels: { a: 'yes', b: 'x: y', c: '0755' }, mode: '0755' },
    });
  });

  describe('errors name the file and line and say what to do', () => {
    /** Each case: its name, the text of a template t.njk, what the error holds (given t.njk's path). */
    it.each<[string, string, (file: string) => object]>([
      [
        'an undefined variable',
        'a: 1\nb: {{ nope }}\n',
        (file) => ({
          file,
          line: 2,
          message: expect.stringContaining('`nope` is undefined'),
          userMessage: expect.stringMatching(/default/),
        }),
      ],
      [
        'an undefined optional variable, used through | dump',
        'a: 1\n\ntitle: {{ pr.title | dump }}\n',
        () => ({
          line: 3,
          message: expect.stringContaining('`pr.title | dump` is undefined'),
          userMessage: expect.stringContaining('{% if pr %}'),
        }),
      ],
      [
        'a syntax error',
        'a: 1\n\nb: {% if %}x{% endif %}\n',
        (file) => ({ file, line: 3, userMessage: expect.stringMatching(/syntax/) }),
      ],
      [
        'an unclosed block',
        'a: 1\n{% for x in labels %}\nb: 2\n',
        (file) => ({ file, message: expect.stringMatching(/cannot render/) }),
      ],
      [
        'an unknown filter',
        'a: 1\nb: 2\nc: {{ id | toJson }}\n',
        () => ({
          line: 3,
          message: expect.stringContaining('unknown filter "toJson"'),
          userMessage: expect.stringContaining('toYaml'),
        }),
      ],
      [
        'a missing include',
        'a: 1\n{% include "nope.njk" %}\n',
        () => ({
          line: 2,
          message: expect.stringContaining('"nope.njk" not found'),
          userMessage: expect.stringContaining(dir),
        }),
      ],
    ])('%s', (_name, text, want) => {
      const file = write('t.njk', text);
      expect(renderError(() => renderTemplate({ file, context }))).toMatchObject(want(file));
    });

    it('an undefined variable in an included file names the included file', () => {
      write('inc/part.njk', 'x: 1\ny: 2\nz: {{ missing }}\n');
      const file = write('main.njk', 'a: 1\n{% include "inc/part.njk" %}\n');
      const err = renderError(() => renderTemplate({ file, context }));
      expect(err.file).toBe(path.join(dir, 'inc/part.njk'));
      expect(err.line).toBe(3);
      expect(err.message).toContain('`missing`');
    });

    it('a relative template path is reported as given, included files next to it', () => {
      write('inc.njk', '{{ missing }}');
      write('main.njk', '{% include "inc.njk" %}');
      const rel = path.relative(process.cwd(), path.join(dir, 'main.njk'));
      const err = renderError(() => renderTemplate({ file: rel, context }));
      expect(err.file).toBe(path.join(path.dirname(rel), 'inc.njk'));
    });

    it('a missing template file', () => {
      const err = renderError(() => renderTemplate({ file: path.join(dir, 'absent.njk'), context }));
      expect(err.message).toContain('template file not found');
    });
  });
});

describe('parseNunjucksMessage', () => {
  it('takes the innermost location of an include chain', () => {
    const msg =
      '(/t/main.njk)\n  Template render error: (/t/main.njk)\n  Template render error: (/t/a (1).njk) [Line 2, Column 4]\n  attempted to output null or undefined value';
    expect(parseNunjucksMessage(msg)).toEqual({
      location: { path: '/t/a (1).njk', line: 2, column: 4 },
      reason: 'attempted to output null or undefined value',
    });
  });
});
