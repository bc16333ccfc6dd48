import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { envLabels } from '../../src/identity.js';
import type { TypeRef } from '../../src/kube/types.js';
import { prepareManifests } from '../../src/template/index.js';
import { parseManifests } from '../../src/template/parse.js';
import { renderTemplate, type TemplateContext, type TemplatePr } from '../../src/template/render.js';
import { BUNDLED_TEMPLATES, bundledTemplatePath } from '../unit/bundled-templates.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

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
