import { execFileSync } from 'node:child_process';
import {
  createWriteStream,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { planUpload, tarStream } from '../../../src/compose/upload.js';
import { ActionError } from '../../../src/errors.js';

function tree(): string {
  const wd = mkdtempSync(path.join(tmpdir(), 'upload-'));
  mkdirSync(path.join(wd, 'conf/nested'), { recursive: true });
  writeFileSync(path.join(wd, 'conf/app.ini'), 'a=1\n');
  writeFileSync(path.join(wd, 'conf/nested/big.bin'), Buffer.alloc(100_000, 7));
  writeFileSync(path.join(wd, 'secret.txt'), 's3cret');
  symlinkSync('app.ini', path.join(wd, 'conf/link.ini'));
  return wd;
}

async function extract(plan: Awaited<ReturnType<typeof planUpload>>): Promise<string> {
  const out = mkdtempSync(path.join(tmpdir(), 'extract-'));
  const file = path.join(out, 'a.tar');
  await pipeline(tarStream(plan), createWriteStream(file));
  mkdirSync(path.join(out, 'x'));
  execFileSync('tar', ['xf', file, '-C', path.join(out, 'x')]);
  return path.join(out, 'x');
}

describe('planUpload and tarStream', () => {
  it('archives the roots with their contents, links and a manifest, as tar extracts them', async () => {
    const wd = tree();
    const plan = await planUpload({ workingDirectory: wd, roots: ['conf', 'secret.txt'] });
    expect(plan.totalBytes).toBe(4 + 100_000 + 6);
    expect(plan.largest[0]).toEqual({ dir: 'conf/nested', bytes: 100_000 });
    const x = await extract(plan);
    expect(readFileSync(path.join(x, 'conf/app.ini'), 'utf8')).toBe('a=1\n');
    expect(readFileSync(path.join(x, 'conf/link.ini'), 'utf8')).toBe('a=1\n');
    expect(readFileSync(path.join(x, 'conf/nested/big.bin')).equals(Buffer.alloc(100_000, 7))).toBe(true);
    expect(readFileSync(path.join(x, 'secret.txt'), 'utf8')).toBe('s3cret');
    const manifest = JSON.parse(readFileSync(path.join(x, '.preevy-upload-manifest.json'), 'utf8'));
    expect(Object.keys(manifest).sort()).toEqual([
      'conf/app.ini',
      'conf/link.ini',
      'conf/nested/big.bin',
      'secret.txt',
    ]);
    // A symlink is kept with its target, so that an upload without it removes it.
    expect(manifest['conf/link.ini']).toMatchObject({ link: 'app.ini' });
  });

  it('a re-deploy sends only the files whose content changed, whatever their mtimes', async () => {
    const wd = tree();
    // The manifest the docker host keeps is the one that travelled with the archive, hashes filled in.
    const manifestOf = async (plan: Awaited<ReturnType<typeof planUpload>>) =>
      JSON.parse(readFileSync(path.join(await extract(plan), '.preevy-upload-manifest.json'), 'utf8'));
    const first = await planUpload({ workingDirectory: wd, roots: ['conf'] });
    const kept = await manifestOf(first);
    expect(kept['conf/app.ini'].sha256).toMatch(/^[0-9a-f]{64}$/);

    // A fresh checkout: same content, new mtimes. Then one file edited to the same size.
    const later = new Date(Date.now() + 5000);
    for (const f of ['conf/app.ini', 'conf/nested/big.bin']) utimesSync(path.join(wd, f), later, later);
    const fresh = await planUpload({ workingDirectory: wd, roots: ['conf'], previous: kept });
    expect(fresh.send.filter((e) => e.type === 'file')).toEqual([]);
    expect(fresh.skippedFiles).toBe(2);

    writeFileSync(path.join(wd, 'conf/app.ini'), 'a=2\n');
    const second = await planUpload({ workingDirectory: wd, roots: ['conf'], previous: kept });
    expect(second.send.filter((e) => e.type === 'file').map((e) => e.name)).toEqual(['conf/app.ini']);
    expect(second.sendBytes).toBe(4);
    expect(second.skippedFiles).toBe(1);
    const next = await manifestOf(second);
    expect(next['conf/app.ini'].sha256).not.toBe(kept['conf/app.ini'].sha256);
    expect(next['conf/nested/big.bin'].sha256).toBe(kept['conf/nested/big.bin'].sha256);
  });

  it('a reader that stops mid-file (a failed upload) ends the archive quietly, with no uncaught error', async () => {
    const wd = tree();
    writeFileSync(path.join(wd, 'conf/nested/big.bin'), Buffer.alloc(8 * 1024 * 1024, 7));
    const plan = await planUpload({ workingDirectory: wd, roots: ['conf'] });
    const uncaught: unknown[] = [];
    const onUncaught = (err: unknown) => void uncaught.push(err);
    process.on('uncaughtException', onUncaught);
    try {
      let read = 0;
      for await (const chunk of tarStream(plan)) {
        read += (chunk as Buffer).length;
        if (read > 1024 * 1024) break;
      }
      await new Promise((r) => setTimeout(r, 200));
    } finally {
      process.off('uncaughtException', onUncaught);
    }
    expect(uncaught).toEqual([]);
  });

  it('refuses a symlink that leads outside the working directory, and a missing source', async () => {
    const wd = tree();
    symlinkSync('/etc/passwd', path.join(wd, 'conf/passwd'));
    const err = await planUpload({ workingDirectory: wd, roots: ['conf', 'missing'] }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ActionError);
    expect((err as ActionError).message).toContain('conf/passwd is a symlink to /etc/passwd');
    expect((err as ActionError).message).toContain('missing does not exist');
  });
});
