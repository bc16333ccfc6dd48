/**
 * Copy a tar archive into a directory of a container, over the WebSocket exec API (see
 * kube/stream/exec.ts), and check
 * that it arrived: the exit status is always read, and a container that cannot run `sh`/`tar` is reported
 * as the template-contract violation it is.
 *
 * v5 (Kubernetes >= 1.30): one pass; the v5 close frame ends tar's stdin.
 * v4 only (older clusters): the end of stdin cannot be signalled, so the archive is measured first (one pass
 * into a counting sink, never buffered) and sent again behind `head -c N`. The two passes must agree: the
 * second is checked as it streams and its last chunk is held back until its length is known, so a file that
 * changed in between never yields an archive that the remote tar takes as complete.
 */
import { Readable } from 'node:stream';
import { STAGING } from '../compose/sync.js';
import { ActionError } from '../errors.js';
import type { KubeClient } from '../kube/client.js';
import { retryOpening } from '../kube/retry.js';
import {
  ExecError,
  ExecProtocolV4,
  type ExecResult,
  execInPod,
  lengthPrefixedCommand,
} from '../kube/stream/exec.js';
import { type Log, noopLog } from '../util/log.js';

/**
 * The directory is an argument, so no path is quoted into a script; `$0` stays `sh`, so a missing tar reads
 * `sh: tar: not found` and not as if the directory were the problem. An archive without the script (one not
 * made by tarStream) is just extracted.
 */
const EXTRACT = `mkdir -p "$1" && cd "$1" && tar xf - && if [ -f ${STAGING}/run.sh ]; then sh ${STAGING}/run.sh && rm -rf ${STAGING}; fi`;
/** The command that extracts an archive from stdin into `dir` and runs its steps. */
export function extractCommand(dir: string): string[] {
  return ['sh', '-c', EXTRACT, 'sh', dir];
}

/** Enough of tar's stderr for a message; the rest goes to the details. */
const MESSAGE_TAIL = 1500;

export interface CopyTarArgs {
  namespace: string;
  pod: string;
  container: string;
  /** Directory in the container, created if missing. */
  dir: string;
  /** A fresh archive stream per call: called once on v5, twice on a v4-only cluster. */
  tar: () => Readable;
  log?: Log;
}

export interface CopyTarResult {
  /** Archive bytes sent. */
  bytes: number;
  /** The exec subprotocol the cluster negotiated. */
  protocol: string;
}

/** The first container cannot run `sh` or `tar`: the template breaks the contract. */
export class TarMissingError extends ActionError {}

/** On a v4-only cluster, the archive's second pass did not have the length of the first. */
export class ArchiveChangedError extends ActionError {}

const contractHint =
  'The template contract requires `tar` (and `sh`) in the first container of the docker-host Deployment: the files of the compose project are copied into it with `tar` over exec, and put in place with `xargs`, `rm`, `rmdir`, `mv`, `cat` and `chmod` (docker:dind has them all).';

function buffer(chunk: unknown): Buffer {
  return Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string);
}

/**
 * The archive of `open()`, opened on first read (an exec refused before any data never opens files), with its
 * length counted. With `expected`, a longer archive fails at the first excess byte and the last chunk waits for
 * the end, so the remote `head -c` never gets its last byte from an archive of the wrong length.
 */
function metered(
  open: () => Readable,
  expected?: number,
): { stream: Readable; bytes: () => number; changed: () => ArchiveChangedError | undefined } {
  let total = 0;
  let changed: ArchiveChangedError | undefined;
  const mismatch = (now: string) => {
    changed = new ArchiveChangedError(
      `The files changed during the upload: their archive measured ${expected} bytes, and ${now} when it was sent; the upload stopped before the end of the archive.`,
      {
        hint: 'The cluster speaks only the v4 exec protocol (Kubernetes < 1.30), so the upload reads the files twice; keep the working directory unchanged while the action runs, and re-run the job.',
      },
    );
    return changed;
  };
  async function* chunks(): AsyncGenerator<Buffer> {
    let held: Buffer | undefined;
    for await (const chunk of quiet(open())) {
      const buf = buffer(chunk);
      total += buf.length;
      if (expected === undefined) {
        yield buf;
        continue;
      }
      if (total > expected) throw mismatch(`more than ${expected}`);
      if (held) yield held;
      held = buf;
    }
    if (expected !== undefined && total !== expected) throw mismatch(String(total));
    if (held) yield held;
  }
  return { stream: quiet(Readable.from(chunks())), bytes: () => total, changed: () => changed };
}

/**
 * Leaving a `for await` early destroys the stream, which then emits an AbortError; once the loop is gone
 * nothing listens, and it would be an uncaught exception. Errors during the loop still reach it.
 */
function quiet(stream: Readable): Readable {
  stream.on('error', () => {});
  return stream;
}

/** The length of the archive, read through without keeping it. */
async function measure(open: () => Readable): Promise<number> {
  let n = 0;
  try {
    for await (const chunk of quiet(open())) n += buffer(chunk).length;
  } catch (err) {
    // On v5 the same failure surfaces from the exec's stdin; here nothing has been sent yet.
    throw new ActionError(
      `Reading the files for the upload failed: ${err instanceof Error ? err.message : String(err)}`,
      { cause: err },
    );
  }
  return n;
}

/**
 * Extract the archive of `tar()` into `dir` of the container. Rejects with TarMissingError (no `sh`/`tar`),
 * ArchiveChangedError (v4 only: the files changed between the two passes), ActionError (tar exited non-zero,
 * with its stderr), or the ExecError / KubeApiError of the exec itself.
 */
export async function copyTarToPod(client: KubeClient, args: CopyTarArgs): Promise<CopyTarResult> {
  const { namespace, pod, container, dir } = args;
  const log = args.log ?? noopLog;
  const command = extractCommand(dir);

  const what = `copy into ${dir} of pod ${pod}`;
  const first = perAttempt(() => metered(args.tar));
  let result: ExecResult;
  let bytes: number;
  try {
    result = await retryOpening(
      what,
      ({ attempt }) =>
        execInPod(client, { namespace, pod, container, command, stdin: first.next(attempt).stream }),
      { log },
    );
    bytes = first.current().bytes();
  } catch (err) {
    first.current().stream.destroy();
    if (!(err instanceof ExecProtocolV4)) throw explain(err, args);
    log.info(
      `The cluster speaks only ${err.protocol} for exec (Kubernetes < 1.30), which cannot signal the end of the upload: the files are read twice, once to measure the archive and once to send it.`,
    );
    const length = await measure(args.tar);
    log.debug(`copy into pod ${pod}: archive of ${length} bytes, sent behind head -c`);
    const second = perAttempt(() => metered(args.tar, length));
    try {
      result = await retryOpening(
        what,
        ({ attempt }) =>
          execInPod(client, {
            namespace,
            pod,
            container,
            command: lengthPrefixedCommand(command, length),
            stdin: second.next(attempt).stream,
            stdinLength: length,
          }),
        { log },
      );
    } catch (err2) {
      throw second.current().changed() ?? explain(err2, args);
    } finally {
      second.current().stream.destroy();
    }
    // The remote side may finish on a bad archive before the stream is read to its end.
    const changed = second.current().changed();
    if (changed) throw changed;
    bytes = second.current().bytes();
  }

  if (result.exitCode === 0) return { bytes, protocol: result.protocol };
  const stderr = result.stderrTail.trim();
  // 127 is the shell's "command not found" (busybox: `sh: tar: not found`).
  if (result.exitCode === 127 && /not found/i.test(stderr)) {
    // The shell names the command: `sh: tar: not found`, dash's `sh: 1: xargs: not found`.
    const missing = /([^\s:]+): not found/i.exec(stderr)?.[1] ?? 'tar';
    throw new TarMissingError(
      `The first container of the docker host (pod ${pod}, container ${container}) cannot run ${missing}: ${stderr.slice(-MESSAGE_TAIL)}`,
      { hint: contractHint },
    );
  }
  throw new ActionError(
    `Copying the files into ${dir} of pod ${pod} (container ${container}) failed: tar exited ${result.exitCode}${stderr ? `: ${stderr.slice(-MESSAGE_TAIL)}` : ' without a message'}`,
    {
      hint: `Check the free space and write access of ${dir} in the first container of the docker host.`,
      details: stderr ? `stderr: ${stderr}` : undefined,
    },
  );
}

/**
 * The archive for each of retryOpening's attempts. A refused opening read nothing of the archive; a retry gets
 * a fresh one all the same.
 */
function perAttempt<T extends { stream: Readable }>(
  open: () => T,
): { next(attempt: number): T; current(): T } {
  let archive = open();
  return {
    next(attempt) {
      if (attempt > 1) {
        archive.stream.destroy();
        archive = open();
      }
      return archive;
    },
    current: () => archive,
  };
}

/** The container runtime's words for a missing `sh` (as in fixture 103) become the contract error. */
function explain(err: unknown, args: CopyTarArgs): unknown {
  if (err instanceof ExecError && /exec: "sh": executable file not found/.test(err.message)) {
    return new TarMissingError(
      `The first container of the docker host (pod ${args.pod}, container ${args.container}) cannot run sh and tar: ${err.message}`,
      { hint: contractHint, details: err.details, cause: err },
    );
  }
  return err;
}
