/**
 * A minimal ustar writer: enough for build contexts and for feeding `tar x` in tests. The project has no tar
 * dependency and these helpers must not add one. Entries carry fixed owner and mtime so the same input gives
 * the same bytes, which keeps the engine's build cache warm.
 */
import fs from 'node:fs';
import { Readable } from 'node:stream';

export type TarEntry =
  | { type: 'file'; name: string; data: Buffer | string; mode?: number }
  /** A file streamed from disk (a 2 MB busybox need not sit in memory twice). */
  | { type: 'file'; name: string; path: string; size: number; mode?: number }
  | { type: 'dir'; name: string; mode?: number }
  | { type: 'symlink'; name: string; target: string };

const BLOCK = 512;

function octal(value: number, width: number): string {
  // width includes the terminating NUL
  return `${value.toString(8).padStart(width - 1, '0')}\0`;
}

function header(name: string, opts: { size: number; mode: number; typeflag: string; linkname?: string }) {
  if (Buffer.byteLength(name) > 100) throw new Error(`tar entry name longer than 100 bytes: ${name}`);
  const h = Buffer.alloc(BLOCK, 0);
  h.write(name, 0, 100, 'utf8');
  h.write(octal(opts.mode, 8), 100, 'ascii');
  h.write(octal(0, 8), 108, 'ascii'); // uid
  h.write(octal(0, 8), 116, 'ascii'); // gid
  h.write(octal(opts.size, 12), 124, 'ascii');
  h.write(octal(0, 12), 136, 'ascii'); // mtime: fixed for reproducible contexts
  h.write('        ', 148, 'ascii'); // checksum is computed with this field as spaces
  h.write(opts.typeflag, 156, 'ascii');
  if (opts.linkname) h.write(opts.linkname, 157, 100, 'utf8');
  h.write('ustar\0', 257, 'ascii');
  h.write('00', 263, 'ascii');
  h.write('root', 265, 'ascii');
  h.write('root', 297, 'ascii');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'ascii');
  return h;
}

function padding(size: number): Buffer {
  const rest = size % BLOCK;
  return Buffer.alloc(rest === 0 ? 0 : BLOCK - rest, 0);
}

async function* generate(entries: readonly TarEntry[]): AsyncGenerator<Buffer> {
  for (const e of entries) {
    if (e.type === 'dir') {
      const name = e.name.endsWith('/') ? e.name : `${e.name}/`;
      yield header(name, { size: 0, mode: e.mode ?? 0o755, typeflag: '5' });
    } else if (e.type === 'symlink') {
      yield header(e.name, { size: 0, mode: 0o777, typeflag: '2', linkname: e.target });
    } else if ('data' in e) {
      const data = Buffer.isBuffer(e.data) ? e.data : Buffer.from(e.data);
      yield header(e.name, { size: data.length, mode: e.mode ?? 0o644, typeflag: '0' });
      yield data;
      yield padding(data.length);
    } else {
      yield header(e.name, { size: e.size, mode: e.mode ?? 0o644, typeflag: '0' });
      let sent = 0;
      for await (const chunk of fs.createReadStream(e.path)) {
        const buf = chunk as Buffer;
        sent += buf.length;
        yield buf;
      }
      // A file that changed size while streaming would corrupt every following header.
      if (sent !== e.size) throw new Error(`${e.path} changed size while being archived`);
      yield padding(e.size);
    }
  }
  yield Buffer.alloc(BLOCK * 2, 0);
}

/** The archive as a stream, produced as it is read. */
export function tarStream(entries: readonly TarEntry[]): Readable {
  return Readable.from(generate(entries), { objectMode: false });
}

/** The archive in memory (small test payloads). */
export async function tarBuffer(entries: readonly TarEntry[]): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of generate(entries)) chunks.push(c);
  return Buffer.concat(chunks);
}
