/**
 * An upload after an upload: the archive (tarStream) extracted by the very command the action runs in the
 * docker host (extractCommand), with this machine's sh and GNU tar, and with busybox's sh, tar and utilities
 * as in docker:dind. The directory in the "pod" must be the runner's tree, whole.
 */
import { spawn } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { extractCommand } from '../../../src/bridge/copy.js';
import { STAGING } from '../../../src/compose/sync.js';
import { type Manifest, planUpload, tarStream } from '../../../src/compose/upload.js';

const MANIFEST = '.preevy-upload-manifest.json';

/** A directory of busybox applets, or undefined when this machine has no busybox. */
function busyboxBin(): string | undefined {
  const busybox = ['/usr/bin/busybox', '/bin/busybox'].find((p) => existsSync(p));
  if (!busybox) return undefined;
  const bin = mkdtempSync(path.join(tmpdir(), 'busybox-'));
  chmodSync(bin, 0o755);
  for (const applet of ['sh', 'tar', 'xargs', 'mkdir', 'rm', 'rmdir', 'mv', 'cat', 'chmod', 'head'])
    symlinkSync(busybox, path.join(bin, applet));
  return bin;
}
const busybox = busyboxBin();

/** `uid`: the docker host's user (a rootless one is not root). */
async function extract(
  pod: string,
  plan: Awaited<ReturnType<typeof planUpload>>,
  bin?: string,
  uid?: number,
) {
  const [sh, ...args] = extractCommand(pod);
  const child = spawn(bin ? path.join(bin, 'sh') : (sh as string), args, {
    env: { PATH: bin ?? '/usr/sbin:/usr/bin:/sbin:/bin' },
    ...(uid === undefined ? {} : { uid, gid: uid }),
    stdio: ['pipe', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  const exited = new Promise<number | null>((r) => child.on('close', r));
  await pipeline(tarStream(plan, MANIFEST), child.stdin);
  expect({ code: await exited, stderr }).toEqual({ code: 0, stderr: '' });
}

/** Every path under `dir`: a file's mode and content, a link's target, a directory's name. */
function listing(dir: string, skip: string[] = []): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string) => {
    for (const n of readdirSync(path.join(dir, rel)).sort()) {
      const r = rel ? `${rel}/${n}` : n;
      if (skip.includes(r)) continue;
      const p = path.join(dir, r);
      const st = lstatSync(p);
      if (st.isSymbolicLink()) out[r] = `-> ${readlinkSync(p)}`;
      else if (st.isDirectory()) {
        out[r] = 'dir';
        walk(r);
      } else out[r] = `${(st.mode & 0o777).toString(8)} ${readFileSync(p, 'utf8')}`;
    }
  };
  walk('');
  return out;
}

function write(wd: string, files: Record<string, string>) {
  for (const [f, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(wd, f)), { recursive: true });
    writeFileSync(path.join(wd, f), text);
  }
}

const shells = [['sh and GNU tar', undefined] as const, ...(busybox ? [['busybox', busybox] as const] : [])];

describe.each(shells)('an upload over the last one (%s)', (_name, bin) => {
  it('removes deleted and renamed files, writes changed files in place and follows type changes', async () => {
    const wd = mkdtempSync(path.join(tmpdir(), 'runner-'));
    const pod = path.join(mkdtempSync(path.join(tmpdir(), 'pod-')), 'var/lib/preevy/env');
    write(wd, {
      'site/index.html': 'v1\n',
      'site/old.html': 'old\n',
      'conf/nginx.conf': 'worker 1;\n',
      'gone/deep/x.txt': 'x\n',
      'was-file': 'a file\n',
      'was-dir/y': 'y\n',
      'odd name\nwith a newline': 'odd\n',
      '-rf': 'not an option\n',
    });
    symlinkSync('index.html', path.join(wd, 'site/link.html'));
    const first = await planUpload({ workingDirectory: wd, roots: ['.'] });
    await extract(pod, first, bin);
    expect(listing(pod, [MANIFEST])).toEqual(listing(wd));
    const inode = statSync(path.join(pod, 'conf/nginx.conf')).ino;

    // The push: a change, deletions, a rename, a file that became a directory and the reverse, a mode.
    writeFileSync(path.join(wd, 'conf/nginx.conf'), 'worker 2; # a longer line\n');
    chmodSync(path.join(wd, 'site/index.html'), 0o755);
    writeFileSync(path.join(wd, 'site/index.html'), 'v2\n');
    for (const f of ['site/old.html', 'odd name\nwith a newline', '-rf', 'site/link.html', 'was-file'])
      rmSync(path.join(wd, f));
    rmSync(path.join(wd, 'gone'), { recursive: true });
    rmSync(path.join(wd, 'was-dir'), { recursive: true });
    write(wd, { 'moved/x.txt': 'x\n', 'was-file/now-inside': 'inside\n', 'was-dir': 'now a file\n' });

    const previous = JSON.parse(readFileSync(path.join(pod, MANIFEST), 'utf8')) as Manifest;
    const second = await planUpload({ workingDirectory: wd, roots: ['.'], previous });
    expect(second.sync.removed.sort()).toEqual(
      [
        '-rf',
        'gone/deep/x.txt',
        'odd name\nwith a newline',
        'site/link.html',
        'site/old.html',
        'was-dir/y',
        'was-file',
      ].sort(),
    );
    await extract(pod, second, bin);
    expect(listing(pod, [MANIFEST])).toEqual(listing(wd));
    // Written over, not replaced: a single-file bind mount of it sees the change.
    expect(statSync(path.join(pod, 'conf/nginx.conf')).ino).toBe(inode);
    expect(existsSync(path.join(pod, STAGING))).toBe(false);
  });

  it('a file bind-mounted alone keeps its inode when its content changes, and the next upload sends nothing', async () => {
    const wd = mkdtempSync(path.join(tmpdir(), 'runner-'));
    const pod = path.join(mkdtempSync(path.join(tmpdir(), 'pod-')), 'env');
    write(wd, { 'nginx.conf': 'a\n' });
    await extract(pod, await planUpload({ workingDirectory: wd, roots: ['nginx.conf'] }), bin);
    const inode = statSync(path.join(pod, 'nginx.conf')).ino;
    writeFileSync(path.join(wd, 'nginx.conf'), 'b\n');
    const manifest = () => JSON.parse(readFileSync(path.join(pod, MANIFEST), 'utf8')) as Manifest;
    const second = await planUpload({ workingDirectory: wd, roots: ['nginx.conf'], previous: manifest() });
    expect(second.sync.changed).toEqual(['nginx.conf']);
    await extract(pod, second, bin);
    expect(readFileSync(path.join(pod, 'nginx.conf'), 'utf8')).toBe('b\n');
    expect(statSync(path.join(pod, 'nginx.conf')).ino).toBe(inode);
    const third = await planUpload({ workingDirectory: wd, roots: ['nginx.conf'], previous: manifest() });
    expect(third.sync).toMatchObject({ steps: [], changed: [], removed: [] });
  });

  it.skipIf(process.getuid?.() !== 0)(
    'a read-only file that a docker host not running as root cannot write over is replaced',
    async () => {
      const nobody = 65534;
      const wd = mkdtempSync(path.join(tmpdir(), 'runner-'));
      const parent = mkdtempSync(path.join(tmpdir(), 'pod-'));
      chownSync(parent, nobody, nobody);
      const pod = path.join(parent, 'env');
      write(wd, { 'ro.txt': 'one\n' });
      chmodSync(path.join(wd, 'ro.txt'), 0o444);
      await extract(pod, await planUpload({ workingDirectory: wd, roots: ['ro.txt'] }), bin, nobody);
      chmodSync(path.join(wd, 'ro.txt'), 0o644);
      writeFileSync(path.join(wd, 'ro.txt'), 'two\n');
      chmodSync(path.join(wd, 'ro.txt'), 0o444);
      const previous = JSON.parse(readFileSync(path.join(pod, MANIFEST), 'utf8')) as Manifest;
      const second = await planUpload({ workingDirectory: wd, roots: ['ro.txt'], previous });
      await extract(pod, second, bin, nobody);
      expect(listing(pod, [MANIFEST])).toEqual({ 'ro.txt': '444 two\n' });
    },
  );
});
