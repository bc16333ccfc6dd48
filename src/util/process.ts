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
  /** Written to the child's stdin (e.g. a compose model for `-f -`, so it never touches the disk). */
  input?: string;
  /** Each output line as it comes, for streaming into the log. */
  onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
  timeoutMs?: number;
  signal?: AbortSignal;
  tailLines?: number;
}

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
    });
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
    child.stdout?.on('data', (c: Buffer) => {
      if (opts.captureStdout) stdout += c.toString('utf8');
      else take('stdout', c);
    });
    child.stderr?.on('data', (c: Buffer) => take('stderr', c));

    const timer =
      opts.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            child.kill('SIGTERM');
            reject(new ActionError(`${command} ${args[0] ?? ''} did not finish within ${opts.timeoutMs} ms`));
          }, opts.timeoutMs);
    const onAbort = () => child.kill('SIGTERM');
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
