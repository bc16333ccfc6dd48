import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, opendir, readdir, readlink, realpath } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pack } from 'tar-stream';
import { ActionError } from '../errors.js';
import type { FileEntry, Manifest } from './manifest.js';
import { followLinks, outsideProblem } from './rewrite.js';
import { planSync, STAGING, STEPS_SCRIPT, type SyncPlan } from './sync.js';

// In a file of their own so that sync.ts, which upload.ts imports, needs nothing from here.
export type { FileEntry, Manifest, ManifestEntry } from './manifest.js';

export interface UploadPlan {
  /** Every entry under the upload roots (directories first, so the archive creates them in order). */
  entries: FileEntry[];
  /** The entries to send: new or changed files (content), every directory and symlink. */
  send: FileEntry[];
  /** The new manifest. The hashes of the files sent are filled in while tarStream streams them. */
  manifest: Manifest;
  /** How the sent entries reach their place, and what the last upload had that goes (see sync.ts). */
  sync: SyncPlan;
  totalBytes: number;
  sendBytes: number;
  skippedFiles: number;
  /** Special files left out (sockets, FIFOs, devices): a docker.sock in the tree stays the host's own. */
  specials: string[];
  /** The largest top-level directories by bytes, for the size warning. */
  largest: Array<{ dir: string; bytes: number }>;
}

export interface PlanOptions {
  workingDirectory: string;
  /** Relative to the working directory (inside it), or absolute when outside paths are allowed. */
  roots: string[];
  previous?: Manifest;
  allowOutside?: boolean;
}

function isInside(dir: string, p: string): boolean {
  const rel = path.relative(dir, p);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

/**
 * Walks the upload roots (metadata only: file contents are read later, while streaming). A symlink that leads
 * outside the working directory is refused unless allowed, so a PR cannot upload the runner's files.
 */
export async function planUpload(opts: PlanOptions): Promise<UploadPlan> {
  const wd = await realpath(opts.workingDirectory);
  const entries: FileEntry[] = [];
  const specials: string[] = [];
  const problems: string[] = [];
  const seen = new Set<string>();

  const archiveName = (local: string): string => {
    const rel = path.relative(opts.workingDirectory, local);
    return isInside(opts.workingDirectory, local)
      ? rel.split(path.sep).join('/') || '.'
      : path.posix.join('_outside', local.split(path.sep).join('/'));
  };

  const visit = async (local: string): Promise<void> => {
    const name = archiveName(local);
    if (seen.has(name)) return;
    seen.add(name);
    const st = await lstat(local).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') {
        problems.push(`${local} does not exist (compose would bind-mount an empty directory instead)`);
        return undefined;
      }
      throw err;
    });
    if (!st) return;
    if (st.isSymbolicLink()) {
      const problem = opts.allowOutside ? undefined : linkProblem(local, wd);
      if (problem) {
        problems.push(problem);
        return;
      }
      entries.push({
        local,
        name,
        type: 'symlink',
        size: 0,
        mtimeMs: st.mtimeMs,
        mode: st.mode,
        linkname: await readlink(local),
      });
      return;
    }
    if (st.isDirectory()) {
      entries.push({ local, name, type: 'directory', size: 0, mtimeMs: st.mtimeMs, mode: st.mode });
      const dir = await opendir(local);
      const children: string[] = [];
      for await (const d of dir) children.push(d.name);
      children.sort();
      for (const c of children) await visit(path.join(local, c));
      return;
    }
    if (st.isFile()) {
      entries.push({
        local,
        name,
        type: 'file',
        size: st.size,
        mtimeMs: Math.trunc(st.mtimeMs),
        mode: st.mode,
      });
      return;
    }
    specials.push(local);
  };

  for (const root of opts.roots) {
    const local = path.isAbsolute(root) ? root : path.join(opts.workingDirectory, root);
    // lstat looks at the last name only: `conf/x` under a `conf` linked to /etc is /etc/x.
    const problem = opts.allowOutside ? undefined : outsideProblem(local, opts.workingDirectory);
    if (problem) {
      problems.push(problem);
      continue;
    }
    // Parent directories of a root are created by tar from the entry names.
    await visit(local);
  }
  if (problems.length > 0) {
    throw new ActionError(`Cannot upload the compose project's files:\n  - ${problems.join('\n  - ')}`, {
      hint: 'Create the missing files, or replace links that leave the working directory (or set `allow-outside-paths: true` if this repository trusts its PRs).',
    });
  }

  await hashCandidates(entries, opts.previous);
  const manifest: Manifest = {};
  const send: FileEntry[] = [];
  const byTop = new Map<string, number>();
  let totalBytes = 0;
  let sendBytes = 0;
  let skippedFiles = 0;
  for (const e of entries) {
    if (e.type === 'symlink') manifest[e.name] = { size: 0, mtimeMs: e.mtimeMs, link: e.linkname };
    if (e.type !== 'file') {
      send.push(e);
      continue;
    }
    manifest[e.name] = { size: e.size, mtimeMs: e.mtimeMs, sha256: e.sha256, mode: e.mode & 0o7777 };
    totalBytes += e.size;
    const top = e.name.split('/').slice(0, 2).join('/');
    byTop.set(top, (byTop.get(top) ?? 0) + e.size);
    const before = opts.previous?.[e.name];
    if (before?.sha256 !== undefined && before.sha256 === e.sha256) {
      skippedFiles++;
      continue;
    }
    send.push(e);
    sendBytes += e.size;
  }
  const largest = [...byTop]
    .map(([dir, bytes]) => ({ dir, bytes }))
    .sort((a, b) => b.bytes - a.bytes)
    .slice(0, 5);
  const sync = planSync(entries, send, opts.previous);
  return { entries, send, manifest, sync, totalBytes, sendBytes, skippedFiles, specials, largest };
}

/** Files read at once while hashing: enough to hide the latency of opening many small files. */
const HASH_CONCURRENCY = 8;

/**
 * The content hash of every file that may be unchanged: one the manifest has with the same size. Without a
 * manifest entry a file is sent anyway, and hashed while it streams.
 */
async function hashCandidates(entries: FileEntry[], previous: Manifest | undefined): Promise<void> {
  if (!previous) return;
  const todo = entries.filter((e) => {
    const before = e.type === 'file' ? previous[e.name] : undefined;
    if (before?.sha256 === undefined || before.size !== e.size) return false;
    if (before.mtimeMs === e.mtimeMs) {
      e.sha256 = before.sha256;
      return false;
    }
    return true;
  });
  let next = 0;
  const worker = async () => {
    for (let e = todo[next++]; e; e = todo[next++]) e.sha256 = await fileSha256(e.local);
  };
  await Promise.all(Array.from({ length: Math.min(HASH_CONCURRENCY, todo.length) }, worker));
}

/** SHA-256 of a file's content, hex; streamed. */
export async function fileSha256(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * The archive of the planned entries, streamed: one file is open at a time, and tar-stream's backpressure
 * keeps memory flat whatever the tree's size. Files named in `emptied` are written empty (a marker that must
 * not outlive the upload); `extra` files are written with their text. Entries that must replace what the last
 * upload left go to the staging directory, with the steps that put them in place (sync.ts, bridge/copy.ts); the
 * manifest, with the hashes of the files just sent, travels as the last entry.
 */
export function tarStream(
  plan: UploadPlan,
  manifestName = '.preevy-upload-manifest.json',
  emptied: string[] = [],
  extra: Record<string, string> = {},
): Readable {
  const p = pack();
  const { sync } = plan;
  const staged = new Map(sync.staged.map((e, i) => [e, `${STAGING}/${i}`]));
  void (async () => {
    try {
      for (const name of emptied) p.entry({ name, mode: 0o600, type: 'file' }, '');
      for (const [name, text] of Object.entries(extra)) p.entry({ name, mode: 0o600, type: 'file' }, text);
      // Always all there, empty or not: lists a failed upload left behind must not be used again.
      p.entry({ name: STAGING, mode: 0o700, type: 'directory' });
      p.entry({ name: `${STAGING}/run.sh`, mode: 0o600, type: 'file' }, STEPS_SCRIPT);
      p.entry({ name: `${STAGING}/remove`, mode: 0o600, type: 'file' }, namesText(sync.removed));
      p.entry({ name: `${STAGING}/rmdirs`, mode: 0o600, type: 'file' }, namesText(sync.rmdirs));
      p.entry({ name: `${STAGING}/steps`, mode: 0o600, type: 'file' }, stepsText(sync.steps));
      for (const e of [...sync.direct, ...sync.staged]) {
        const name = staged.get(e) ?? e.name;
        const header = { name, mode: e.mode & 0o7777, mtime: new Date(e.mtimeMs) };
        if (e.type === 'directory') {
          p.entry({ ...header, type: 'directory' });
        } else if (e.type === 'symlink') {
          p.entry({ ...header, type: 'symlink', linkname: e.linkname });
        } else {
          const hash = createHash('sha256');
          await new Promise<void>((resolve, reject) => {
            const entry = p.entry({ ...header, type: 'file', size: e.size }, (err) =>
              err ? reject(err) : resolve(),
            );
            // When the reader stops early (the upload failed), the pack is destroyed and takes this entry with it.
            // Its error then belongs here: without a listener, `pipe` would re-emit it as an uncaught exception.
            entry.on('error', reject);
            const src = createReadStream(e.local);
            src.on('error', reject);
            src.on('data', (chunk) => hash.update(chunk as Buffer));
            src.pipe(entry);
          });
          const digest = hash.digest('hex');
          e.sha256 = digest;
          const m = plan.manifest[e.name];
          if (m) m.sha256 = digest;
        }
      }
      p.entry({ name: manifestName, mode: 0o600, type: 'file' }, JSON.stringify(plan.manifest));
      p.finalize();
    } catch (err) {
      p.destroy(err as Error);
    }
  })();
  // tar-stream packs with streamx; callers get a Node stream (async iteration keeps the backpressure).
  return Readable.from(p);
}

/** NUL-terminated, each name behind `./`: a name may hold any character but NUL, and none reads as an option. */
function namesText(names: readonly string[]): string {
  return names.map((n) => `./${n}\0`).join('');
}

/** As namesText: `OP:ARG:./NAME`. */
function stepsText(steps: readonly string[]): string {
  return steps
    .map((s) => {
      const at = s.indexOf(':', s.indexOf(':') + 1) + 1;
      return `${s.slice(0, at)}./${s.slice(at)}\0`;
    })
    .join('');
}

/**
 * A symlink in the upload leads outside the working directory (`wd`: real): followed as far as it exists, and a
 * dangling one by its text, since the docker host follows it in its own filesystem when it is a bind source.
 */
function linkProblem(local: string, wd: string): string | undefined {
  const target = followLinks(local);
  if (target === undefined) return `${local} is a symlink loop`;
  return isInside(wd, target)
    ? undefined
    : `${local} is a symlink to ${target}, outside the working directory`;
}

const UPLOAD_HINT =
  'Create the missing files, or replace links that leave the working directory (or set `allow-outside-paths: true` if this repository trusts its PRs).';

/**
 * planUpload's refusals, found before anything is applied: missing roots, and symlinks leading outside the
 * working directory. Names only, no stat of plain files, so the walk is cheap next to the upload's own.
 */
export async function checkUploadRoots(opts: Omit<PlanOptions, 'previous'>): Promise<void> {
  if (opts.allowOutside) return;
  const wd = await realpath(opts.workingDirectory);
  const problems: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const d of await readdir(dir, { withFileTypes: true })) {
      const local = path.join(dir, d.name);
      if (d.isSymbolicLink()) {
        const problem = linkProblem(local, wd);
        if (problem) problems.push(problem);
      } else if (d.isDirectory()) await walk(local);
    }
  };
  for (const root of opts.roots) {
    const local = path.isAbsolute(root) ? root : path.join(opts.workingDirectory, root);
    const problem = outsideProblem(local, opts.workingDirectory);
    if (problem) {
      problems.push(problem);
      continue;
    }
    const st = await lstat(local).catch(() => undefined);
    if (!st) problems.push(`${local} does not exist (compose would bind-mount an empty directory instead)`);
    else if (st.isSymbolicLink()) {
      const linked = linkProblem(local, wd);
      if (linked) problems.push(linked);
    } else if (st.isDirectory()) await walk(local);
  }
  if (problems.length > 0) {
    throw new ActionError(`Cannot upload the compose project's files:\n  - ${problems.join('\n  - ')}`, {
      hint: UPLOAD_HINT,
    });
  }
}
