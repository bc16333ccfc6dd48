import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TemplateError } from '../../src/errors.js';
import { customCommentBody, type EnvReport } from '../../src/github/comment-text.js';
import { renderInProcess } from '../../src/template/engine.js';
import { renderTemplate } from '../../src/template/render.js';
import { renderInSandbox, sandboxEntry } from '../../src/template/sandbox.js';
import { templateContext } from '../unit/bundled-templates.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Values the runner's environment holds while the action renders: what a hostile template is after. */
const SECRETS = {
  INPUT_KUBECONFIG: `token: kc-${randomBytes(18).toString('hex')}`,
  INPUT_GITHUB_TOKEN: `ghs_${randomBytes(18).toString('hex')}`,
};
let saved: Record<string, string | undefined>;
let dir: string;
/** The template's folder sits in `dir`, next to a file it must not read. */
let templates: string;
let outside: string;
const outsideText = `outside-${randomBytes(12).toString('hex')}`;

beforeAll(() => {
  saved = Object.fromEntries(Object.keys(SECRETS).map((k) => [k, process.env[k]]));
  Object.assign(process.env, SECRETS);
  dir = mkdtempSync(path.join(tmpdir(), 'sandbox-'));
  templates = path.join(dir, 'templates');
  mkdirSync(templates);
  outside = path.join(dir, 'outside.txt');
  writeFileSync(outside, outsideText);
  writeFileSync(path.join(templates, 'inside.txt'), 'inside');
});
afterAll(() => {
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  rmSync(dir, { recursive: true, force: true });
});

const context = templateContext({ namespace: 'previews', id: 'shop-pr-1-abcde', envId: 'shop-pr-1' });

/** Whatever happened, as text: the output or the whole error, for the secret scan. */
function attempt(fn: () => string): { output?: string; error?: TemplateError; seen: string } {
  try {
    const output = fn();
    return { output, seen: output };
  } catch (err) {
    expect(err).toBeInstanceOf(TemplateError);
    const e = err as TemplateError;
    return { error: e, seen: [e.message, e.userMessage, e.details ?? '', String(e.cause ?? '')].join('\n') };
  }
}

function expectNoSecret(seen: string): void {
  for (const value of [...Object.values(SECRETS), outsideText, 'root:x:0:0'])
    expect(seen).not.toContain(value);
}

/** A ready environment with nothing to show, for a comment template. */
const readyReport = (envId: string, namespace: string): EnvReport => ({
  state: 'ready',
  envId,
  namespace,
  urls: [],
  phases: [],
  at: new Date(0),
});

const READ = 'process.getBuiltinModule("fs").readFileSync';
const CODE = [
  'return JSON.stringify(process.env)',
  `return ${READ}("/etc/passwd", "utf8")`,
  'return process.getBuiltinModule("child_process").execSync("id").toString()',
];
/** The known ways from a template to `Function`, each carrying each piece of code. */
const PAYLOADS = CODE.flatMap((code) => {
  const c = JSON.stringify(code);
  return [
    `{{ range.constructor(${c})() }}`,
    `{{ cycler.constructor(${c})() }}`,
    `{{ joiner.constructor(${c})() }}`,
    `{{ ''.constructor.constructor(${c})() }}`,
    `{{ [].map.constructor(${c})() }}`,
    `{{ range["constr" + "uctor"](${c})() }}`,
    `{% set f = range.constructor(${c}) %}{{ f() }}`,
    `{{ constructor.getOwnPropertyDescriptor(constructor.getPrototypeOf(range), "constructor").value(${c})() }}`,
    `{{ range.__proto__.constructor(${c})() }}`,
  ];
});

describe('a hostile template', () => {
  it.each(PAYLOADS)('%s is refused at its line, and nothing secret is rendered', (payload) => {
    const file = path.join(templates, 'env.yaml.njk');
    writeFileSync(file, `a: 1\nb: ${payload}\n`);
    const r = attempt(() => renderTemplate({ file, context }));
    expectNoSecret(r.seen);
    expect(r.error?.file).toBe(file);
    expect(r.error?.line).toBe(2);
    expect(r.error?.message).toMatch(/`(constructor|__proto__)` is refused in templates/);
    expect(r.error?.hint).toMatch(/constructors and prototypes are refused/);
  });

  it.each(PAYLOADS.slice(0, 9))(
    'as a comment template, %s is refused, and nothing secret is rendered',
    (payload) => {
      const file = path.join(templates, 'comment.md.njk');
      writeFileSync(file, `Ready\n${payload}\n`);
      const r = attempt(() => customCommentBody(file, readyReport('shop-pr-1', 'previews')));
      expectNoSecret(r.seen);
      expect(r.error?.file).toBe(file);
      expect(r.error?.line).toBe(2);
    },
  );

  // `main` is rendered from the template folder holding `files`; the refusal is reported in file `at`, at `line`.
  const includes = [
    {
      title: 'a refused name in an include is reported in the included file',
      files: { 'part.njk': 'x: 1\ny: {{ labels.constructor }}\n', 'main.njk': '{% include "part.njk" %}\n' },
      main: 'main.njk',
      at: 'part.njk',
      line: 2,
    },
    {
      title: 'a refused name after an include is reported in the main file, at its line',
      files: {
        'ok.njk': 'x: 1\n',
        'after.njk': '{% include "ok.njk" %}\na: 1\nb: {{ range.constructor }}\n',
      },
      main: 'after.njk',
      at: 'after.njk',
      line: 3,
    },
  ];
  // A loop, not it.each: it.each cuts long titles taken from an object's field.
  for (const { title, files, main, at, line } of includes) {
    it(title, () => {
      for (const [name, text] of Object.entries(files)) writeFileSync(path.join(templates, name), text);
      const file = path.join(templates, main);
      const r = attempt(() => renderTemplate({ file, context }));
      expect(r.error?.file).toBe(path.join(templates, at));
      expect(r.error?.line).toBe(line);
    });
  }

  it("a comment template's error says the reason alone, after its file and line", () => {
    const file = path.join(templates, 'reason.md.njk');
    writeFileSync(file, 'Ready\n{{ range.constructor }}\n');
    const r = attempt(() => customCommentBody(file, readyReport('e', 'n')));
    expect(r.error?.message).toBe(`${file}:2: \`constructor\` is refused in templates`);
  });

  it('renders ordinary templates in the sandbox exactly as in this process', () => {
    const file = path.join(ROOT, 'templates/default.yaml.njk');
    const full = templateContext({
      namespace: 'previews',
      id: 'shop-pr-1-abcde',
      envId: 'shop-pr-1',
      expose: 'ingress',
      domain: 'preview.test',
      services: [
        {
          name: 'web',
          port: 8080,
          targetPort: 80,
          host: 'web.preview.test',
          url: 'https://web.preview.test',
        },
      ],
    });
    expect(renderTemplate({ file, context: full })).toBe(renderInProcess({ file, context: full }));
  });
});

/**
 * The sandbox without the refusals: an entry standing for a template that got to run code, trying what
 * the payloads above try. What it finds is what any escape from nunjucks would find.
 */
describe('code that escapes nunjucks, in the sandbox', () => {
  const probe = `
import { readFileSync, writeFileSync } from 'node:fs';
const job = JSON.parse(readFileSync(0, 'utf8'));
const { inside, outside } = job.vars;
const tries = {
  env: () => JSON.stringify(process.env),
  passwd: () => readFileSync('/etc/passwd', 'utf8'),
  outside: () => readFileSync(outside, 'utf8'),
  inside: () => readFileSync(inside, 'utf8'),
  write: () => writeFileSync(inside + '.w', 'x'),
  exec: () => process.getBuiltinModule('child_process').execSync('id').toString(),
  binding: () => process.binding('spawn_sync'),
  worker: () => new (process.getBuiltinModule('worker_threads').Worker)('1', { eval: true }),
  mainModule: () => process.mainModule.require('child_process'),
  sqlite: () => new (process.getBuiltinModule('node:sqlite').DatabaseSync)(inside + '.db').exec('create table t(x)'),
};
const found = {};
for (const [k, fn] of Object.entries(tries)) {
  try { const v = fn(); found[k] = 'allowed: ' + (typeof v === 'string' ? v : typeof v); }
  catch (e) { found[k] = 'refused: ' + (e.code ?? e.message); }
}
process.stdout.write(JSON.stringify({ ok: true, text: JSON.stringify(found) }));
`;

  it('holds no secret, reads only its code and the template folder, writes nothing (not even by node:sqlite), starts nothing', () => {
    const probeDir = path.join(dir, 'probe');
    mkdirSync(probeDir, { recursive: true });
    const entry = path.join(probeDir, 'probe.mjs');
    writeFileSync(entry, probe);
    const inside = path.join(templates, 'inside.txt');
    const text = renderInSandbox(
      { kind: 'comment', file: inside, source: '', vars: { inside, outside } },
      [templates],
      { entry, nodeArgs: [], readable: [probeDir] },
    );
    expectNoSecret(text);
    const found = JSON.parse(text) as Record<string, string>;
    expect(found).toMatchObject({
      env: 'allowed: {}',
      passwd: 'refused: ERR_ACCESS_DENIED',
      outside: 'refused: ERR_ACCESS_DENIED',
      inside: 'allowed: inside',
      write: 'refused: ERR_ACCESS_DENIED',
      exec: 'refused: ERR_ACCESS_DENIED',
      worker: 'refused: ERR_ACCESS_DENIED',
    });
    expect(found.binding).toMatch(/^refused: /);
    expect(found.mainModule).toMatch(/^refused: /);
    expect(found.sqlite).toMatch(/^refused: /);
    expect(existsSync(`${inside}.w`)).toBe(false);
    expect(existsSync(`${inside}.db`)).toBe(false);
  });
});

describe("the sandbox's entry", () => {
  it('a renderer missing from an incomplete checkout is named, not taken for a template that looped', () => {
    const file = path.join(ROOT, 'templates/default.yaml.njk');
    const missing = {
      entry: path.join(tmpdir(), 'no-such-dist/render/index.js'),
      nodeArgs: [],
      readable: [],
    };
    let err: unknown;
    try {
      renderInSandbox(
        { kind: 'manifests', file, context: templateContext({ namespace: 'ns', id: 'x', envId: 'x' }) },
        [path.dirname(file)],
        missing,
      );
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(TemplateError);
    expect((err as TemplateError).message).toMatch(/renderer .*no-such-dist\/render\/index\.js is missing/);
  });

  it('is sandbox-child.ts next to the sources, run by node itself', () => {
    const e = sandboxEntry(path.join(ROOT, 'src/template/sandbox.ts'));
    expect(e.entry).toBe(path.join(ROOT, 'src/template/sandbox-child.ts'));
    expect(existsSync(e.entry)).toBe(true);
    expect(e.readable).toEqual([path.join(ROOT, 'src'), path.join(ROOT, 'node_modules')]);
  });

  it('is the second bundle dist/render/index.js next to the bundle, and only that folder is readable', () => {
    const e = sandboxEntry(path.join(ROOT, 'dist/index.js'));
    expect(e).toEqual({
      entry: path.join(ROOT, 'dist/render/index.js'),
      nodeArgs: [],
      readable: [path.join(ROOT, 'dist/render')],
    });
    const build = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')).scripts.build as string;
    expect(build).toContain('ncc build src/template/sandbox-child.ts --minify -o dist/render');
  });

  const built = path.join(ROOT, 'dist/render/index.js');
  it.skipIf(!existsSync(built))('the built bundle renders, and refuses, as the sources do', () => {
    const entry = sandboxEntry(path.join(ROOT, 'dist/index.js'));
    const file = path.join(ROOT, 'templates/default.yaml.njk');
    const job = { kind: 'manifests', file, context } as const;
    expect(renderInSandbox(job, [path.dirname(file)], entry)).toBe(renderInProcess({ file, context }));
    const hostile = path.join(templates, 'env.yaml.njk');
    writeFileSync(hostile, `a: 1\nb: ${PAYLOADS[0]}\n`);
    const r = attempt(() =>
      renderInSandbox({ kind: 'manifests', file: hostile, context }, [templates], entry),
    );
    expectNoSecret(r.seen);
    expect(r.error?.line).toBe(2);
  });
});
