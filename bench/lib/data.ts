/** Generated test data, written to disk in a streamed way (never a whole file or tree in memory). */
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

// Random, so that nothing on the way (a compressing proxy, a deduplicating file system) can shortcut it; a
// pool sliced at shifting offsets, so generating a gigabyte does not cost a gigabyte of randomBytes calls.
const POOL = randomBytes(1 << 20);
const CHUNK = 64 * 1024;

function* slices(bytes: number, seed: number): Generator<Buffer> {
  let offset = (seed * 7919) % (POOL.length - CHUNK);
  for (let left = bytes; left > 0; ) {
    const n = Math.min(CHUNK, left);
    yield POOL.subarray(offset, offset + n);
    left -= n;
    offset = (offset + 4099) % (POOL.length - CHUNK);
  }
}

export async function writeBlob(file: string, bytes: number): Promise<void> {
  await pipeline(Readable.from(slices(bytes, 1)), createWriteStream(file));
}

export interface TreeSpec {
  files: number;
  bytesPerFile: number;
  /** Files per directory: real projects spread their files, and tar writes a directory entry per dir. */
  perDir: number;
}

/** `root/dNNNN/fNNNNNN.bin`; returns the total bytes. */
export async function writeTree(root: string, spec: TreeSpec): Promise<number> {
  if (spec.bytesPerFile > POOL.length - CHUNK) throw new Error('files larger than the pool');
  const dirs = Math.ceil(spec.files / spec.perDir);
  for (let d = 0; d < dirs; d++)
    await mkdir(path.join(root, `d${String(d).padStart(4, '0')}`), { recursive: true });
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < spec.files; i = next++) {
      const offset = (i * 7919) % (POOL.length - spec.bytesPerFile);
      const dir = `d${String(Math.floor(i / spec.perDir)).padStart(4, '0')}`;
      await writeFile(
        path.join(root, dir, `f${String(i).padStart(6, '0')}.bin`),
        POOL.subarray(offset, offset + spec.bytesPerFile),
      );
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  return spec.files * spec.bytesPerFile;
}
