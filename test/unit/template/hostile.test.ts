import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { TemplateError } from '../../../src/errors.js';
import { envLabels } from '../../../src/identity.js';
import type { TypeRef } from '../../../src/kube/types.js';
import { BUNDLED_TEMPLATES, bundledTemplatePath, prepareManifests } from '../../../src/template/index.js';
import { PARSE_LIMITS, parseManifests } from '../../../src/template/parse.js';
import { renderTemplate, type TemplateContext, type TemplatePr } from '../../../src/template/render.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

/** What a PR author can put in a title (anything) or a branch name (git refuses spaces, `:`, `~`, `^`, `\`...). */
const HOSTILE_TITLES = [
  'fix: "quoted" \'single\' # comment',
  'x\nkind: Secret\n---\napiVersion: v1',
  '&anchor *alias !!binary !tag %YAML 1.1 ? key | > @ `',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: shell and compose syntax in hostile text
  '{{ namespace }} {% raw %} {# c #} ${HOME} $(id) `id`; rm -rf / | cat && echo',
  '<script>alert(1)</script> [x](javascript:alert(1)) ![i](https://evil/x.png) @org/team #1',
  'tab\there, cr\r\nlf, nel\u0085, ls\u2028, ps\u2029, bom\ufeff, nul\u0000, bell\u0007, del\u007f',
  '- [ ] list?\n  - nested: {a: [1, 2]}',
  '"',
  "'",
  '\\',
  'null',
  '0755',
  'yes',
  '',
];
const HOSTILE_REFS = [
  'feature/a"b',
  "it's-{{x}}",
  'x$(id)',
  'a;b|c&d',
  'refs/heads/<b>',
  '@{-1}',
  'x..y',
  '-f',
];

const pr = (title: string, headRef = 'feature'): TemplatePr => ({
  number: 7,
  headSha: 'a'.repeat(40),
  headRef,
  baseRef: 'main',
  repository: 'acme/shop',
  title,
});

const context = (p?: TemplatePr): TemplateContext => ({
  namespace: 'previews',
  id: 'shop-pr-7-abcde',
  envId: 'shop-pr-7',
  labels: envLabels('shop-pr-7', 'shop-pr-7-abcde'),
  ...(p ? { pr: p } : {}),
});

const TEMPLATE = `apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ (id + "-pr") | dump }}
  namespace: {{ namespace | dump }}
  annotations:
    title: {{ pr.title | dump }}
    ref: {{ pr.headRef | quote }}
data:
  inline: {{ ("[" + pr.title + "]") | dump }}
  pr:
    {{ pr | toYaml | indent(4) }}
  list: [{{ pr.title | dump }}, {{ pr.headRef | dump }}]
`;

function parseError(text: string): TemplateError {
  try {
    parseManifests(text, 'env.yaml.njk');
  } catch (err) {
    expect(err).toBeInstanceOf(TemplateError);
    return err as TemplateError;
  }
  throw new Error('expected a TemplateError');
}

describe('PR text in templates', () => {
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'hostile-')), 't.yaml.njk');
  writeFileSync(file, TEMPLATE);

  it.each(HOSTILE_TITLES.map((t, i) => [i, t, HOSTILE_REFS[i % HOSTILE_REFS.length]!]))(
    'title %i stays one value through | dump, | quote and | toYaml',
    (_, title, headRef) => {
      const rendered = renderTemplate({ file, context: context(pr(title, headRef)) });
      const [obj, ...rest] = parseManifests(rendered, file);
      expect(rest).toEqual([]);
      expect(obj!.metadata.annotations).toEqual({ title, ref: headRef });
      const data = obj!.data as Record<string, unknown>;
      expect(data.inline).toBe(`[${title}]`);
      expect(data.pr).toEqual(pr(title, headRef));
      expect(data.list).toEqual([title, headRef]);
    },
  );

  it.each(BUNDLED_TEMPLATES)('the bundled %s template renders no PR text at all', (name) => {
    const scopeOf = (_t: TypeRef) => 'Namespaced' as const;
    const t = bundledTemplatePath(name, ROOT)!;
    const plain = prepareManifests({ file: t, context: context(), namespace: 'previews', scopeOf });
    for (const [i, title] of HOSTILE_TITLES.entries()) {
      const headRef = HOSTILE_REFS[i % HOSTILE_REFS.length]!;
      const m = prepareManifests({
        file: t,
        context: context(pr(title, headRef)),
        namespace: 'previews',
        scopeOf,
      });
      expect(m.rendered).toBe(plain.rendered);
    }
  });
});

describe('parse limits against a hostile or runaway template', () => {
  it('a billion-laughs alias bomb is refused quickly', () => {
    const lines = ['apiVersion: v1', 'kind: ConfigMap', 'metadata: {name: lol}', 'data:', '  a0: &a0 "lol"'];
    for (let i = 1; i <= 9; i++) {
      lines.push(
        `  a${i}: &a${i} [${Array(10)
          .fill(`*a${i - 1}`)
          .join(', ')}]`,
      );
    }
    const start = performance.now();
    const err = parseError(`${lines.join('\n')}\n`);
    expect(err.userMessage).toMatch(/alias/i);
    expect(performance.now() - start).toBeLessThan(5_000);
  });

  it('merge keys count as aliases too', () => {
    const lines = ['apiVersion: v1', 'kind: ConfigMap', 'metadata: {name: lol}', 'a0: &a0 {x: 1}'];
    for (let i = 1; i <= 12; i++)
      lines.push(
        `a${i}: &a${i} {<<: [${Array(10)
          .fill(`*a${i - 1}`)
          .join(', ')}]}`,
      );
    expect(parseError(`${lines.join('\n')}\n`).userMessage).toMatch(/alias/i);
  });

  it('10,000 levels of nesting are refused as too deep, in flow and in block style', () => {
    const head = 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: deep}\n';
    const flowMap = `${head}x: ${'{a: '.repeat(10_000)}1${'}'.repeat(10_000)}\n`;
    const flowSeq = `${head}x: ${'['.repeat(10_000)}${']'.repeat(10_000)}\n`;
    const block = `${head}${Array.from({ length: 2_000 }, (_, i) => `${' '.repeat(i)}a:`).join('\n')} 1\n`;
    for (const text of [flowMap, flowSeq, block]) {
      expect(parseError(text).message).toMatch(
        new RegExp(`nested more than ${PARSE_LIMITS.maxDepth} levels deep`),
      );
    }
  });

  it('a 50 MB rendering is refused before it is parsed', () => {
    const text = `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: big}\ndata:\n  big: ${'x'.repeat(50 * 1024 * 1024)}\n`;
    const start = performance.now();
    expect(parseError(text).message).toMatch(/52428\d+ bytes, more than the limit/);
    expect(performance.now() - start).toBeLessThan(2_000);
  });
});
