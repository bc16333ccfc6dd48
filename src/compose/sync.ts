/**
 * What an upload must do in the docker host besides extracting new files, so that the environment's directory
 * is the runner's tree, whole: files of the last upload that are gone are removed (a deletion or a rename in the
 * PR), and a changed file is written over the old one in place, so that a container whose single-file bind
 * mount pins the old inode sees it (tar would unlink the file and create a new one, which such a container
 * never sees). After the extraction, STEPS_SCRIPT (run by bridge/copy.ts) removes, then runs the steps in order:
 *
 *   dir:MODE:NAME     make a directory (one where the last upload had a file, or below such a path)
 *   put:I-MODE:NAME   the staged entry I replaces NAME: a regular file is overwritten in place (MODE empty:
 *                     its mode is unchanged)
 *
 * Entries whose path the last upload used for something else (a file that became a directory, or the reverse)
 * are staged too: tar cannot write them before the old ones are removed.
 */
import path from 'node:path';
import type { FileEntry, Manifest } from './manifest.js';

/**
 * Where an archive puts what must replace earlier files, the lists of what to do after the extraction
 * (planSync below plans them, upload.ts writes them: NUL-terminated, every name behind `./`) and the script that does it
 * (`STEPS_SCRIPT`, as `run.sh`). Removed once the script ran.
 */
export const STAGING = '.preevy-incoming';

/**
 * After the extraction, in the environment's directory: `remove` lists the files and symlinks of the last upload
 * that are gone, `rmdirs` the directories that held them (deepest first; kept if not empty), and `steps` what
 * replaces an earlier entry: `dir:MODE:./NAME` makes a directory, `put:I-MODE:./NAME` puts the staged entry I
 * in place (MODE empty: unchanged). A regular file is overwritten in place with `cat`, which keeps its inode: a
 * container whose single-file bind mount pins it sees the new content (tar, mv and busybox's cp would all give
 * the path a new inode). A file that cannot be written (read-only, for a docker host that does not run as root)
 * is replaced instead. xargs -0 passes the names as arguments, so no shell ever parses one. Only POSIX sh and
 * utilities that busybox has, as in docker:dind.
 */
export const STEPS_SCRIPT = `set -e
s=${STAGING}
xargs -0 rm -f < $s/remove
xargs -0 rmdir < $s/rmdirs 2>/dev/null || :
xargs -0 sh -c '
for e do
  op=\${e%%:*}; e=\${e#*:}; a=\${e%%:*}; f=\${e#*:}
  case $op in
  dir) mkdir -p "$f" && chmod "$a" "$f" ;;
  put) i=${STAGING}/\${a%-*}; m=\${a#*-}
    if [ -f "$f" ] && [ ! -L "$f" ] && [ -f "$i" ] && [ ! -L "$i" ] && { cat "$i" > "$f"; } 2>/dev/null; then
      [ -z "$m" ] || chmod "$m" "$f"
    else
      if [ -d "$f" ] && [ ! -L "$f" ]; then rmdir "$f"; fi
      mv -f "$i" "$f"
    fi ;;
  *) echo "unknown upload step: $op" >&2; false ;;
  esac || exit 1
done' sh < $s/steps
`;

export interface SyncPlan {
  /** Sent entries that tar extracts where they belong. */
  direct: FileEntry[];
  /** Sent entries that tar extracts into the staging directory (the index is their position here). */
  staged: FileEntry[];
  /** Directories that held removed files and are no directory of the new tree, deepest first. */
  rmdirs: string[];
  /** The steps, in order (see above). */
  steps: string[];
  /** Files and symlinks of the last upload that are gone from the tree (relative names). */
  removed: string[];
  /** Files and symlinks that differ from the last upload: changed, added or removed (relative names). */
  changed: string[];
}

function ancestors(name: string): string[] {
  const out: string[] = [];
  for (let d = path.posix.dirname(name); d !== '.' && d !== '/' && d !== ''; d = path.posix.dirname(d))
    out.push(d);
  return out;
}

/** The mode in octal, for chmod; digits only, so it can never be read as an option or a path. */
const octal = (mode: number) => (mode & 0o7777).toString(8).padStart(4, '0');

/**
 * The steps that turn the last upload's tree (`previous`, undefined when none is known: then nothing is removed
 * and nothing counts as changed) into the planned one. `send` holds the sent entries in archive order
 * (directories before what they hold); `entries` every entry of the tree.
 */
export function planSync(
  entries: readonly FileEntry[],
  send: readonly FileEntry[],
  previous: Manifest | undefined,
): SyncPlan {
  if (!previous) return { direct: [...send], staged: [], rmdirs: [], steps: [], removed: [], changed: [] };
  const before = new Set(Object.keys(previous));
  const now = new Map(entries.map((e) => [e.name, e]));
  // A file that became a symlink (or the reverse) is replaced by its new entry: only what is no leaf goes.
  const removed = [...before].filter((n) => (now.get(n)?.type ?? 'directory') === 'directory');
  // A directory that held files of the last upload: a leaf of the new tree there cannot be written by tar.
  const heldFiles = new Set([...before].flatMap(ancestors));
  const conflicted = (e: FileEntry) =>
    ancestors(e.name).some((a) => before.has(a)) ||
    (e.type === 'directory' ? before.has(e.name) : heldFiles.has(e.name));

  const steps: string[] = [];
  const gone = new Set(removed.flatMap(ancestors).filter((d) => now.get(d)?.type !== 'directory'));
  const depth = (n: string) => n.split('/').length;
  const rmdirs = [...gone].sort((a, b) => depth(b) - depth(a) || a.localeCompare(b));

  const direct: FileEntry[] = [];
  const staged: FileEntry[] = [];
  const changed = new Set(removed);
  for (const e of send) {
    // A file is sent only when its content is not the one uploaded; a symlink is sent every time.
    if (e.type === 'file' || (e.type === 'symlink' && previous[e.name]?.link !== e.linkname))
      changed.add(e.name);
    if (e.type === 'directory') {
      if (conflicted(e)) steps.push(`dir:${octal(e.mode)}:${e.name}`);
      else direct.push(e);
    } else if (conflicted(e) || (e.type === 'file' && before.has(e.name))) {
      const mode = previous[e.name]?.mode === (e.mode & 0o7777) ? '' : octal(e.mode);
      steps.push(`put:${staged.length}-${mode}:${e.name}`);
      staged.push(e);
    } else direct.push(e);
  }
  return { direct, staged, rmdirs, steps, removed, changed: [...changed].sort() };
}
