import { spawn } from 'node:child_process';
import { ActionError } from '../errors.js';

export interface ProcessResult {
  code: number;
  /** Whole stdout, only when `captureStdout` is set (e.g. `docker compose config` JSON). */
  stdout: string;
  /** The last lines of stderr, for error messages: output can be long, and only its end explains a failure. */
  stderrTail: string[];
}

export interface ProcessOptions {
  cwd?: string;
  /** The child's whole environment: nothing of ours leaks into it unless listed. */
  env: NodeJS.ProcessEnv;
  captureStdout?: boolean;
  /** Captured stdout beyond this fails the run (default 32 MiB): compose prints what a PR's files make it print. */
  maxStdoutBytes?: number;
  /** Written to the child's stdin (e.g. a compose model for `-f -`, so it never touches the disk). */
  input?: string;
  /** Each output line as it comes, for streaming into the log. */
  onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
  timeoutMs?: number;
  signal?: AbortSignal;
  tailLines?: number;
}

const DEFAULT_MAX_STDOUT_BYTES = 32 * 1024 * 1024;
/** Between SIGTERM and SIGKILL when a program is stopped. */
const STOP_GRACE_MS = 5_000;

/**
 * The one way the action starts an external program (docker compose). Arguments are passed as an array,
 * never through a shell, so nothing from a PR is ever interpreted by one. Tests use it as the seam.
 */
export function runProcess(command: string, args: string[], opts: ProcessOptions): Promise<ProcessResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: opts.cwd,
      env: opts.env,
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      // Its own process group, so stop() reaches grandchildren: `docker compose` is a plugin process that the
      // docker CLI starts, and neither stops on SIGTERM while compose is busy (a YAML alias bomb spins for ever).
      detached: true,
    });
    const stop = () => {
      const signalGroup = (sig: NodeJS.Signals) => {
        try {
          if (child.pid !== undefined) process.kill(-child.pid, sig);
        } catch {
          // The group is gone already.
        }
      };
      signalGroup('SIGTERM');
      setTimeout(() => signalGroup('SIGKILL'), STOP_GRACE_MS).unref();
    };
    if (opts.input !== undefined && child.stdin) {
      child.stdin.on('error', () => {}); // the child may exit before reading it all; its exit code tells why
      child.stdin.end(opts.input);
    }
    const tailMax = opts.tailLines ?? 40;
    const tail: string[] = [];
    let stdout = '';
    const partial = { stdout: '', stderr: '' };
    const take = (stream: 'stdout' | 'stderr', chunk: Buffer) => {
      const text = partial[stream] + chunk.toString('utf8');
      const lines = text.split('\n');
      partial[stream] = lines.pop() ?? '';
      for (const line of lines) emit(stream, line);
    };
    const emit = (stream: 'stdout' | 'stderr', line: string) => {
      opts.onLine?.(line, stream);
      if (stream === 'stderr') {
        tail.push(line);
        if (tail.length > tailMax) tail.shift();
      }
    };
    const maxStdout = opts.maxStdoutBytes ?? DEFAULT_MAX_STDOUT_BYTES;
    let stdoutBytes = 0;
    const stdoutChunks: Buffer[] = [];
    let overflow = false;
    child.stdout?.on('data', (c: Buffer) => {
      if (!opts.captureStdout) {
        take('stdout', c);
        return;
      }
      if (overflow) return;
      stdoutBytes += c.length;
      if (stdoutBytes > maxStdout) {
        overflow = true;
        stdoutChunks.length = 0;
        stop();
        // A grandchild may still hold the pipe, so 'close' may never come: fail now, and break the pipe.
        child.stdout?.destroy();
        clearTimeout(timer);
        opts.signal?.removeEventListener('abort', onAbort);
        reject(
          new ActionError(`${command} ${args[0] ?? ''} printed more than ${maxStdout} bytes; stopped it`),
        );
        return;
      }
      // Decoded once at the end: a character split between two chunks would otherwise be garbled.
      stdoutChunks.push(c);
    });
    child.stderr?.on('data', (c: Buffer) => take('stderr', c));

    const timer =
      opts.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            stop();
            reject(new ActionError(`${command} ${args[0] ?? ''} did not finish within ${opts.timeoutMs} ms`));
          }, opts.timeoutMs);
    const onAbort = () => stop();
    opts.signal?.addEventListener('abort', onAbort, { once: true });

    child.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      reject(
        new ActionError(
          err.code === 'ENOENT' ? `${command} is not installed or not on PATH` : `${command}: ${err.message}`,
          { cause: err },
        ),
      );
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      for (const stream of ['stdout', 'stderr'] as const) if (partial[stream]) emit(stream, partial[stream]);
      if (overflow) return;
      stdout = Buffer.concat(stdoutChunks).toString('utf8');
      resolve({ code: code ?? (signal ? 128 : 1), stdout, stderrTail: tail });
    });
  });
}

/**
 * The runner's environment without the DOCKER_* variables that would point compose elsewhere. Without
 * `dockerHost` (reading the model only), DOCKER_HOST is left unset.
 */
export function cleanDockerEnv(base: NodeJS.ProcessEnv, dockerHost?: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(base))
    if (!k.startsWith('DOCKER_') && !k.startsWith('COMPOSE_')) env[k] = v;
  if (dockerHost) env.DOCKER_HOST = dockerHost;
  return env;
}
