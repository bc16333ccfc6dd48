import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { deployFingerprint } from '../../../src/compose/fingerprint.js';
import type { ComposeModel } from '../../../src/compose/model.js';
import { planUpload, tarStream } from '../../../src/compose/upload.js';

/** Writes `files` (path below `wd`: content) into `wd`, making their directories. */
function write(wd: string, files: Record<string, string>): string {
  for (const [f, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(wd, f)), { recursive: true });
    writeFileSync(path.join(wd, f), text);
  }
  return wd;
}

const project = (files: Record<string, string>) =>
  write(mkdtempSync(path.join(tmpdir(), 'fingerprint-')), files);

const modelOf = (wd: string, build: Record<string, unknown> = {}): ComposeModel => ({
  name: 'p',
  services: { web: { build: { context: path.join(wd, 'app'), dockerfile: 'Dockerfile', ...build } } },
});

/** As bridge/deploy.ts has it: the plan after its archive was streamed, every file hashed. */
async function fingerprint(wd: string, model = modelOf(wd)): Promise<string | undefined> {
  const plan = await planUpload({ workingDirectory: wd, roots: ['site'] });
  for await (const _ of tarStream(plan)) {
    // drain
  }
  return deployFingerprint(model, plan);
}

/** The fingerprint once `files` are written into the project. */
const fingerprintAfter = (wd: string, files: Record<string, string>, model = modelOf(wd)) =>
  fingerprint(write(wd, files), model);

const FILES = {
  'app/Dockerfile': 'FROM busybox\nCOPY . /app\n',
  'app/.dockerignore': 'node_modules\n*.log\n',
  'app/main.sh': 'echo hi\n',
  'site/index.html': 'v1\n',
};

describe('deployFingerprint', () => {
  it('changes with the model, an uploaded file, or a file the build context sends', async () => {
    const wd = project(FILES);
    const base = await fingerprint(wd);
    expect(base).toMatch(/^[0-9a-f]{64}$/);
    expect(await fingerprint(wd)).toBe(base);

    const otherModel = await fingerprint(wd, modelOf(wd, { args: { V: '2' } }));
    expect(otherModel).not.toBe(base);

    const site = await fingerprintAfter(wd, { 'site/index.html': 'v2\n' });
    expect(site).not.toBe(base);

    const context = await fingerprintAfter(wd, { 'app/main.sh': 'echo bye\n' });
    expect(context).not.toBe(site);

    expect(await fingerprintAfter(wd, { 'app/extra.txt': 'new file\n' })).not.toBe(context);
  });

  it("leaves out what the context's .dockerignore does, unless the Dockerfile has its own ignore file", async () => {
    const wd = project(FILES);
    const base = await fingerprint(wd);
    const ignored = { 'app/node_modules/dep/index.js': 'x\n', 'app/build.log': 'noise\n' };
    expect(await fingerprintAfter(wd, ignored)).toBe(base);

    // BuildKit reads <Dockerfile>.dockerignore first: with one that ignores less, node_modules counts.
    const own = await fingerprintAfter(wd, { 'app/Dockerfile.dockerignore': '*.log\n' });
    expect(own).not.toBe(base);
    expect(await fingerprintAfter(wd, { 'app/node_modules/dep/index.js': 'y\n' })).not.toBe(own);
  });

  it('walks an ignored directory when an exception may bring a file of it back', async () => {
    const wd = project({
      ...FILES,
      'app/.dockerignore': 'vendor\n!vendor/keep.txt\n',
      'app/vendor/keep.txt': 'a\n',
    });
    const base = await fingerprint(wd);
    expect(await fingerprintAfter(wd, { 'app/vendor/keep.txt': 'b\n' })).not.toBe(base);
  });

  it('gives none for a context that is not a local directory, or an upload not yet hashed', async () => {
    const wd = project(FILES);
    expect(
      await fingerprint(wd, modelOf(wd, { context: 'https://github.com/o/r.git#main' })),
    ).toBeUndefined();
    rmSync(path.join(wd, 'app'), { recursive: true });
    expect(await fingerprint(wd)).toBeUndefined();
    const plan = await planUpload({ workingDirectory: project(FILES), roots: ['site'] });
    expect(await deployFingerprint({ name: 'p', services: { web: { image: 'x' } } }, plan)).toBeUndefined();
  });

  it('gives none for a service that asks to be pulled or built every time', async () => {
    const wd = project(FILES);
    expect(await fingerprint(wd, modelOf(wd, { pull: true }))).toBeUndefined();
    for (const policy of ['always', 'build']) {
      const model = modelOf(wd);
      model.services.web!.pull_policy = policy;
      expect(await fingerprint(wd, model)).toBeUndefined();
    }
  });

  it('counts a local additional context, and not an image one', async () => {
    const wd = project({ ...FILES, 'extra/data.txt': 'one\n' });
    const withExtra = (more: Record<string, string>) => modelOf(wd, { additional_contexts: more });
    const model = () => withExtra({ data: path.join(wd, 'extra'), img: 'docker-image://busybox:1.36' });
    const base = await fingerprint(wd, model());
    expect(await fingerprintAfter(wd, { 'extra/data.txt': 'two\n' }, model())).not.toBe(base);
  });
});
