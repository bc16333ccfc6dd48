import { Writable } from 'node:stream';

/** A Writable that keeps what it is given, for a command's whole output (small: a file read back, a status). */
export function textSink(): { stream: Writable; text: () => string } {
  const chunks: Buffer[] = [];
  return {
    stream: new Writable({
      write(chunk: Buffer, _enc, cb) {
        chunks.push(chunk);
        cb();
      },
    }),
    text: () => Buffer.concat(chunks).toString('utf8'),
  };
}
