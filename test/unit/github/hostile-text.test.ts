import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkDistinctHosts, type ServiceUrl, serviceUrls } from '../../../src/compose/urls.js';
import { commentBody, customCommentBody, type EnvReport } from '../../../src/github/comment-text.js';
import { mdText } from '../../../src/github/markdown.js';

/**
 * The most hostile service names `docker compose config` accepts (it allows [a-zA-Z0-9._-] and nothing
 * else, in any order): option-like, dot-only, emphasis-like, and one GitHub would turn into a link.
 */
const NAMES = [
  'www.evil.com',
  'WWW.Evil.Com',
  '--follow',
  '-f',
  '..',
  '.',
  '__init__',
  '_x_',
  'x---',
  '9.9',
  '-',
];

const report = (urls: ServiceUrl[]): EnvReport => ({
  state: 'ready',
  envId: 'shop-pr-7',
  namespace: 'previews',
  urls,
  phases: [],
  at: new Date('2026-11-24T12:00:00Z'),
});

const urlsOf = (names: string[]) =>
  names.map((service, i) =>
    serviceUrls([{ service, target: 80 + i, published: 30_000 + i, protocol: 'tcp' }], {
      template: 'https://{service}-{port}-{envId}.{domain}',
      envId: 'shop-pr-7',
      domain: 'preview.example.com',
    }),
  );

describe('hostile compose service names', () => {
  it('make valid, distinct host names', () => {
    const urls = urlsOf(NAMES).flat();
    for (const u of urls) {
      for (const label of u.host.split('.')) expect(label).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
    }
    expect(() => checkDistinctHosts(urls)).not.toThrow();
    // Names that differ only in what a host name cannot hold still collide, and say so.
    const same = urlsOf(['..', '__']).map((u) => ({ ...u[0]!, port: 80 }));
    same[1]!.host = same[0]!.host;
    expect(() => checkDistinctHosts(same)).toThrow(/same host/);
  });

  it('cannot add a link, emphasis or table cell to the comment', () => {
    const body = commentBody(report(urlsOf(NAMES).flat()));
    const rows = body.split('\n').filter((l) => l.startsWith('| ') && l.includes('preview.example.com'));
    expect(rows).toHaveLength(NAMES.length);
    for (const row of rows) {
      expect(row.split(/(?<!\\)\|/).length).toBe(5);
      // Every link in the row is the URL's own.
      expect([...row.matchAll(/\]\((https:[^)]*)\)/g)].map((m) => m[1])).toHaveLength(1);
    }
    // GitHub links a bare www.x.y: it must not see one.
    expect(body).not.toMatch(/www\.evil/i);
    expect(body).toContain('www\u200d.evil.com');
    expect(body).toContain('\\_\\_init\\_\\_');
  });

  it('reach a custom comment template escaped', () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'ct-')), 'c.md.njk');
    writeFileSync(file, '{% for u in urls %}{{ u.service }}\n{% endfor %}');
    const body = customCommentBody(file, report(urlsOf(['www.evil.com', '__init__']).flat()));
    expect(body).toContain('www\u200d.evil.com\n\\_\\_init\\_\\_\n');
  });

  it('mdText defuses autolinks of any text', () => {
    expect(mdText('see https://evil.example/x and www.evil.example')).toBe(
      'see https:\u200d//evil.example/x and www\u200d.evil.example',
    );
  });
});
