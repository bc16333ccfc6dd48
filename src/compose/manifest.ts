/** The entries an upload walks and the manifest it leaves in the docker host (upload.ts, sync.ts). */

/**
 * What was uploaded last time, kept in the docker host next to the files: relative path → size, mtime and the
 * SHA-256 of the content (a symlink: its target, so that a later upload removes it when it is gone). A runner checks out a fresh copy for every run, so every mtime is new each time: a
 * file is unchanged when its content hash is the one uploaded. Size and mtime only spare reading a file that
 * has both as they were (a run on the same checkout).
 */
export type Manifest = Record<string, ManifestEntry>;
export interface ManifestEntry {
  size: number;
  mtimeMs: number;
  sha256?: string;
  /** Permission bits (files): an in-place write changes them only when they changed. */
  mode?: number;
  link?: string;
}

export interface FileEntry {
  /** Path on the runner. */
  local: string;
  /** Path inside the archive: relative to the environment's directory in the docker host, POSIX. */
  name: string;
  type: 'file' | 'directory' | 'symlink';
  size: number;
  mtimeMs: number;
  mode: number;
  linkname?: string;
  /** Known once the file was compared with the manifest or has been streamed. */
  sha256?: string;
}
