import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  commentBody,
  commentMarker,
  customCommentBody,
  type EnvReport,
} from '../../../src/github/comment-text.js';
import { codeBlock, mdText } from '../../../src/github/markdown.js';

const at = new Date('2026-11-24T12:00:00Z');
const report = (over: Partial<EnvReport>): EnvReport => ({
  state: 'ready',
  envId: 'shop-pr-7',
  namespace: 'previews',
  prNumber: 7,
  sha: 'abcdef0123456789abcdef0123456789abcdef01',
  runUrl: 'https://github.com/acme/shop/actions/runs/1',
  urls: [],
  phases: [],
  at,
  ...over,
});

/** A service's port as the report lists it, on host h. */
const exposed = (service: string, url: string, port = 80, published = 1): EnvReport['urls'][number] => ({
  service,
  port,
  published,
  host: 'h',
  url,
});

describe('commentBody', () => {
  it('starts with the marker, and a ready comment has the URL table, SHA, run link and phase times', () => {
    const body = commentBody(
      report({
        urls: [exposed('web', 'https://web-80-shop-pr-7.example.com', 80, 8000)],
        phases: [
          { name: 'Apply the objects', ms: 1200 },
          { name: 'Build and start the services', ms: 42_000 },
        ],
      }),
    );
    expect(body.startsWith(`${commentMarker('shop-pr-7')}\n`)).toBe(true);
    expect(body).toContain(
      '| web | 80 | [https://web-80-shop-pr-7.example.com](https://web-80-shop-pr-7.example.com) |',
    );
    expect(body).toContain('`abcdef012345`');
    expect(body).toContain('[workflow run](https://github.com/acme/shop/actions/runs/1)');
    expect(body).toMatch(/Apply the objects 1\.2 s · Build and start the services 42 s \(total 43 s\)/);
  });

  it('never renders a table without URLs', () => {
    const body = commentBody(report({ urls: [] }));
    expect(body).not.toContain('| service |');
    expect(body).toMatch(/none is exposed/);
  });

  it('a failed comment shows the error and the last log lines in a collapsed block', () => {
    const body = commentBody(
      report({ state: 'failed', error: 'docker compose build failed', logs: 'line1\nline2' }),
    );
    expect(body).toContain('```text\ndocker compose build failed\n```');
    expect(body).toMatch(/<details><summary>Last log lines<\/summary>\n\n```text\nline1\nline2\n```/);
  });

  it('deploying and deleted say so', () => {
    expect(commentBody(report({ state: 'deploying' }))).toMatch(/Deploying/);
    expect(commentBody(report({ state: 'deleted' }))).toMatch(/was deleted/);
  });

  it('hostile service names and error text cannot inject markdown, HTML, mentions or table cells', () => {
    const body = commentBody(
      report({
        urls: [exposed('<img src=x onerror=alert(1)>|[click](https://evil)@team', 'https://ok.example.com')],
      }),
    );
    const row = body.split('\n').find((l) => l.includes('ok.example.com'))!;
    expect(row.split(/(?<!\\)\|/).length).toBe(5); // 3 cells, no injected one
    expect(row).not.toMatch(/<img|\]\(https:\/\/evil/);
    expect(row).toContain('@\u200dteam');
    const failed = commentBody(report({ state: 'failed', error: 'x\n```\n# injected heading\n```' }));
    expect(failed).toMatch(/````text\nx\n```\n# injected heading\n```\n````/);
  });
});

describe('markdown helpers', () => {
  it('escape and fence', () => {
    expect(mdText('a|b\nc')).toBe('a\\|b c');
    expect(codeBlock('a ```` b')).toBe('`````text\na ```` b\n`````');
  });
});

describe('customCommentBody', () => {
  it('renders a user template behind the marker, with escaped PR text', () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'ct-')), 'comment.md.njk');
    writeFileSync(
      file,
      'State: {{ state }}\n{% for u in urls %}- {{ u.service }}: {{ u.url }}\n{% endfor %}',
    );
    const body = customCommentBody(file, report({ urls: [exposed('a|b', 'https://x.example.com', 1)] }));
    expect(body).toBe(`${commentMarker('shop-pr-7')}\nState: ready\n- a\\|b: https://x.example.com\n`);
  });

  it('names the file and line of a broken template', () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'ct-')), 'bad.md.njk');
    writeFileSync(file, 'ok\n{% for %}\n');
    expect(() => customCommentBody(file, report({}))).toThrow(/bad\.md\.njk:2: /);
  });
});
