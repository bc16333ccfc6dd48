/**
 * Commands in a pod's container over the WebSocket form of `pods/exec` (opened by websocket.ts, which says
 * why `ws` directly and describes the channel protocol).
 *
 * On v4 the end of stdin cannot be signalled. `execInPod` with `stdin` therefore fails with
 * `ExecProtocolV4` before sending any data; the caller retries with `lengthPrefixedCommand(cmd, n)` and
 * `stdinLength: n` (and a fresh stdin stream): `head -c n` ends the pipe after exactly n bytes.
 */
import type { Readable, Writable } from 'node:stream';
import WebSocket from 'ws';
import { ActionError } from '../../errors.js';
import type { KubeClient } from '../client.js';
import type { KubeStatus } from '../errors.js';
import {
  channelSender,
  type OpenedSocket,
  openWebSocket,
  PROTOCOL_V4,
  PROTOCOL_V5,
  queryString,
} from './websocket.js';

const CH_STDIN = 0;
const CH_STDOUT = 1;
const CH_STDERR = 2;
const CH_STATUS = 3;
const CH_CLOSE = 255;

/** Stop reading stdin while more than this is queued in the WebSocket. */
const HIGH_WATER = 1024 * 1024;
const STDERR_TAIL = 4096;

/** The server negotiated v4: the end of stdin cannot be signalled. Retry with `lengthPrefixedCommand`. */
export class ExecProtocolV4 extends ActionError {
  constructor(readonly protocol: string) {
    super(
      `The cluster negotiated the ${protocol} exec protocol, which cannot signal the end of stdin (Kubernetes < 1.30).`,
      { hint: 'Retry with a length-prefixed command (lengthPrefixedCommand) and stdinLength.' },
    );
  }
}

/** The exec did not produce an exit status (connection lost, timeout, abort, or a Failure Status). */
export class ExecError extends ActionError {}

export interface ExecArgs {
  namespace: string;
  pod: string;
  container: string;
  command: string[];
  stdin?: Readable;
  /**
   * Set when `command` is already length-prefixed (`lengthPrefixedCommand`): on v4, stdin is then sent
   * without an end signal and must hold exactly this many bytes.
   */
  stdinLength?: number;
  stdout?: Writable;
  stderr?: Writable;
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface ExecResult {
  exitCode: number;
  /** The last few KiB of stderr, for error messages. */
  stderrTail: string;
  protocol: string;
}

function shellQuote(s: string): string {
  return /^[A-Za-z0-9_./=:@%+,-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** `sh -c 'head -c N | <command>'`: the command sees EOF after N bytes of stdin, without a close signal. */
export function lengthPrefixedCommand(command: string[], length: number): string[] {
  if (!Number.isSafeInteger(length) || length < 0) throw new Error(`invalid stdin length ${length}`);
  return ['sh', '-c', `head -c ${length} | ${command.map(shellQuote).join(' ')}`];
}

/** Exit code from the channel-3 Status; throws ExecError for failures that are not an exit code. */
export function exitCodeOf(status: KubeStatus, stderrTail: string): number {
  if (status.status === 'Success') return 0;
  if (status.reason === 'NonZeroExitCode') {
    const cause = status.details?.causes?.find((c) => c.reason === 'ExitCode');
    const code = Number(cause?.message);
    if (Number.isInteger(code)) return code;
  }
  throw new ExecError(`the command failed: ${status.message ?? status.reason ?? 'unknown error'}`, {
    details: `${JSON.stringify(status)}${stderrTail ? `\nstderr: ${stderrTail}` : ''}`,
  });
}

/**
 * Run a command in a container and wait for its exit status. Resolves with the exit code (non-zero is not an
 * error here: the caller decides); rejects with KubeApiError (upgrade refused, unreachable), ExecProtocolV4
 * (v4 negotiated and stdin given without stdinLength), or ExecError (no status: connection lost, timeout,
 * abort; or a Failure Status such as a missing binary). On timeout or abort the socket is terminated, which
 * makes the API server kill the remote process. `stdin` is consumed with backpressure and never buffered
 * whole. Output streams are written to but not ended.
 */
export async function execInPod(client: KubeClient, args: ExecArgs): Promise<ExecResult> {
  const { namespace, pod, container, command, stdin } = args;
  const what = `exec in pod ${pod} (${command.join(' ')})`;
  const params: Array<[string, string]> = [];
  for (const c of command) params.push(['command', c]);
  params.push(['container', container], ['stdin', String(stdin !== undefined)]);
  params.push(['stdout', 'true'], ['stderr', 'true']);
  const path = `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(pod)}/exec?${queryString(params)}`;

  const sock = await openWebSocket(client, path, [PROTOCOL_V5, PROTOCOL_V4], what);
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const stopped = new Promise<never>((_resolve, reject) => {
    const stop = (err: ExecError) => {
      sock.ws.terminate();
      reject(err);
    };
    if (args.timeoutMs !== undefined)
      timer = setTimeout(
        () => stop(new ExecError(`${what}: timed out after ${args.timeoutMs! / 1000} s`)),
        args.timeoutMs,
      );
    if (args.signal) {
      onAbort = () => stop(new ExecError(`${what}: aborted`));
      if (args.signal.aborted) onAbort();
      else args.signal.addEventListener('abort', onAbort, { once: true });
    }
  });
  stopped.catch(() => {});
  try {
    const protocol = await Promise.race([sock.opened, stopped]);
    return await Promise.race([run(sock, protocol, args, what), stopped]);
  } finally {
    if (timer) clearTimeout(timer);
    if (onAbort) args.signal?.removeEventListener('abort', onAbort);
  }
}

function run(sock: OpenedSocket, protocol: string, args: ExecArgs, what: string): Promise<ExecResult> {
  const { ws } = sock;
  const { stdin, stdout, stderr } = args;
  if (stdin && protocol !== PROTOCOL_V5 && args.stdinLength === undefined) {
    // The command is already running with stdin open: terminate (not close) so that it is killed.
    ws.terminate();
    return Promise.reject(new ExecProtocolV4(protocol || '(none)'));
  }
  return new Promise<ExecResult>((resolve, reject) => {
    let tail = '';
    let finished = false;
    const finish = (fn: () => void) => {
      if (finished) return;
      finished = true;
      fn();
    };

    const message = (data: Buffer, isBinary: boolean) => {
      if (!isBinary || data.length < 1) return;
      const channel = data[0];
      const payload = data.subarray(1);
      if (channel === CH_STDOUT || channel === CH_STDERR) {
        if (payload.length === 0) return;
        if (channel === CH_STDERR) tail = (tail + payload.toString('utf8')).slice(-STDERR_TAIL);
        const out = channel === CH_STDOUT ? stdout : stderr;
        if (out && !out.write(payload) && !ws.isPaused) {
          ws.pause();
          out.once('drain', () => ws.resume());
        }
      } else if (channel === CH_STATUS) {
        let status: KubeStatus;
        try {
          status = JSON.parse(payload.toString('utf8')) as KubeStatus;
        } catch {
          finish(() =>
            reject(new ExecError(`${what}: unreadable exit status`, { details: payload.toString() })),
          );
          ws.terminate();
          return;
        }
        finish(() => {
          try {
            resolve({ exitCode: exitCodeOf(status, tail), stderrTail: tail, protocol });
          } catch (err) {
            reject(
              err instanceof ExecError
                ? new ExecError(`${what}: ${err.message}`, { details: err.details })
                : err,
            );
          }
        });
        ws.close(1000);
      }
    };
    const close = (code: number) => {
      finish(() =>
        reject(
          new ExecError(`${what}: connection closed before the command finished (WebSocket close ${code})`, {
            details: tail ? `stderr: ${tail}` : undefined,
          }),
        ),
      );
    };
    // 'error' is always followed by 'close'; openWebSocket keeps a listener so it is never unhandled.
    sock.receive({ message, close });

    if (stdin) {
      pump(ws, stdin, protocol, args.stdinLength, () => finished).catch((err: unknown) => {
        finish(() =>
          reject(
            err instanceof ActionError
              ? err
              : new ExecError(
                  `${what}: reading stdin failed: ${err instanceof Error ? err.message : String(err)}`,
                ),
          ),
        );
        ws.terminate();
      });
    }
  });
}

async function pump(
  ws: WebSocket,
  stdin: Readable,
  protocol: string,
  expectedLength: number | undefined,
  done: () => boolean,
): Promise<void> {
  let total = 0;
  const out = channelSender(ws, CH_STDIN);
  // Settles when the last byte written so far is on the socket.
  let last: Promise<void> = Promise.resolve();
  // Once the loop is left early (the process exited), an error stdin emits while it is torn down has no one to
  // reach, and would be an uncaught exception. Errors during the loop still reach it.
  stdin.on('error', () => {});
  for await (const chunk of stdin) {
    if (done() || ws.readyState !== WebSocket.OPEN) return;
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string);
    total += buf.length;
    last = new Promise<void>((resolve, reject) => out.write(buf, (err) => (err ? reject(err) : resolve())));
    last.catch(() => {});
    if (ws.bufferedAmount > HIGH_WATER) {
      out.flush();
      await last;
    }
    if (done() || ws.readyState !== WebSocket.OPEN) return;
  }
  if (expectedLength !== undefined && total !== expectedLength)
    throw new ExecError(`stdin had ${total} bytes, ${expectedLength} were announced`);
  // The end-of-stdin frame must follow the last data frame.
  out.flush();
  if (done() || ws.readyState !== WebSocket.OPEN) return;
  if (protocol === PROTOCOL_V5) ws.send(Buffer.from([CH_CLOSE, CH_STDIN]));
  await last;
}
