import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { TemplateError } from '../../../src/errors.js';
import { documentPosition, excerpt, PARSE_LIMITS, parseManifests } from '../../../src/template/parse.js';
import { renderTemplate } from '../../../src/template/render.js';
import { thrownBy } from '../support.js';

const FILE = 'templates/env.yaml.njk';

const parseError = (text: string): TemplateError => thrownBy(TemplateError, () => parseManifests(text, FILE));

const cm = (name: string) => `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\n`;

describe('parseManifests', () => {
  it('reads every document of a multi-document stream', () => {
    const objs = parseManifests(`${cm('a')}---\n${cm('b')}---\n${cm('c')}`, FILE);
    expect(objs.map((o) => o.metadata.name)).toEqual(['a', 'b', 'c']);
  });

  it('drops empty, comment-only and null documents, and remembers where each object was', () => {
    const objs = parseManifests(
      `---\n---\n# just a comment\n---\n${cm('a')}---\n~\n---\n${cm('b')}---\n`,
      FILE,
    );
    expect(objs.map((o) => o.metadata.name)).toEqual(['a', 'b']);
    expect(documentPosition(objs[0]!)).toEqual({ index: 3, line: 5 });
    expect(documentPosition(objs[1]!)?.index).toBe(5);
  });

  it('returns nothing for an empty rendering', () => {
    expect(parseManifests('', FILE)).toEqual([]);
    expect(parseManifests('\n# nothing\n', FILE)).toEqual([]);
  });

  it('reads octal file modes the way kubectl does', () => {
    const [o] = parseManifests(
      'apiVersion: v1\nkind: X\nmetadata: {name: x}\nmode: 0644\nport: 8080\n',
      FILE,
    );
    expect(o?.mode).toBe(0o644);
    expect(o?.port).toBe(8080);
  });

  it('supports merge keys, as kubectl does', () => {
    const [o] = parseManifests(
      'base: &b {a: 1}\napiVersion: v1\nkind: X\nmetadata:\n  <<: *b\n  name: x\n',
      FILE,
    );
    expect(o?.metadata).toEqual({ a: 1, name: 'x' });
  });

  it('rejects broken YAML, naming the file, the line in the rendered output, and showing it', () => {
    const text = `${cm('a')}---\n${cm('b')}data:\n  key: a: b\n  other: 1\n`;
    const err = parseError(text);
    expect(err.file).toBe(FILE);
    // The line is of the rendered output, not the template: not offered as the template's line.
    expect(err.line).toBeUndefined();
    expect(err.message).toContain('document 2 (rendered output line 11)');
    expect(err.message).toContain('> 11 |   key: a: b');
    expect(err.message).toContain('   9 |   name: b');
    expect(err.message).toContain('  12 |   other: 1');
    expect(err.userMessage).toContain('| dump');
  });

  it('rejects the silent corruption of a quoted {{ x }} whose value has a quote', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'parse-'));
    try {
      const file = path.join(dir, 't.njk');
      writeFileSync(
        file,
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  annotations:\n    title: '{{ pr.title }}'\n    owner: team\n",
      );
      const pr = {
        number: 1,
        headSha: 's',
        headRef: 'h',
        baseRef: 'b',
        repository: 'a/b',
        title: "Fix user's page",
      };
      const rendered = renderTemplate({
        file,
        context: { namespace: 'n', id: 'i', envId: 'e', labels: {}, pr },
      });
      const err = parseError(rendered);
      expect(err.message).toContain('rendered output line 6');
      expect(err.message).toContain("title: 'Fix user's page'");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rejects duplicate keys, which would silently drop a value', () => {
    expect(parseError(`${cm('a')}  name: b\n`).message).toContain('rendered output line 5');
  });

  it('rejects a value read as a YAML tag', () => {
    expect(parseError(`${cm('a')}data:\n  password: !s3cret\n`).message).toMatch(/tag/i);
  });

  it('rejects a document that is not a mapping', () => {
    expect(parseError(`${cm('a')}---\n- a\n- b\n`).message).toContain(
      'document 2 (rendered output line 6) is a list',
    );
    expect(parseError('just text\n').message).toContain('is a string');
  });

  it('refuses an alias bomb', () => {
    let bomb = 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\na0: &a0 [x, x, x, x, x, x, x, x, x]\n';
    for (let i = 1; i < 10; i++)
      bomb += `a${i}: &a${i} [${Array(9)
        .fill(`*a${i - 1}`)
        .join(', ')}]\n`;
    expect(parseError(bomb).userMessage).toMatch(/alias/i);
  });

  it('refuses absurd nesting', () => {
    expect(parseError(`${cm('a')}x: ${'['.repeat(200)}${']'.repeat(200)}\n`).message).toMatch(
      /nested|valid YAML/,
    );
    const deep = `${cm('a')}x: ${'{a: '.repeat(PARSE_LIMITS.maxDepth)}1${'}'.repeat(PARSE_LIMITS.maxDepth)}\n`;
    expect(parseError(deep).message).toMatch(/nested more than/);
  });

  it('refuses too many documents', () => {
    const text = Array.from({ length: PARSE_LIMITS.maxDocuments + 1 }, (_, i) => cm(`c${i}`)).join('---\n');
    expect(parseError(text).message).toMatch(/documents, more than the limit/);
  });

  it('refuses an oversized rendering', () => {
    const text = `${cm('a')}data:\n  big: ${'x'.repeat(PARSE_LIMITS.maxBytes)}\n`;
    expect(parseError(text).message).toMatch(/bytes, more than the limit/);
  });
});

describe('excerpt', () => {
  it('shows two lines of context, clipped at the edges', () => {
    expect(excerpt('a\nb\nc', 1)).toBe('> 1 | a\n  2 | b\n  3 | c');
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
