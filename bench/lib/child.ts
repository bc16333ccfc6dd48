/**
 * Parent side of the action's child process (action-child.ts). By default the child runs from an ncc bundle,
 * as the action runs from dist/: under tsx the loader alone adds some 65 MB of RSS (transformed sources of
 * every module of @kubernetes/client-node), which is not the action's. `--tsx` skips the ~30 s bundling,
 * for working on the bench itself. Either way the child is a single node process (the tsx CLI would add a
 * wrapper process). Input travels in an environment variable, results come back as `BENCH <json>` lines.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { INPUT_ENV, RESULT_PREFIX } from './child-io.js';

const ENTRY = fileURLToPath(new URL('./action-child.ts', import.meta.url));

/** How the child is started: node and its arguments; set by prepareActionChild. */
let command: string[] | undefined;

export type ChildRuntime = 'bundle' | 'tsx';

/** Bundles action-child.ts with ncc into `outDir` (or prepares tsx); returns a description for the output. */
export async function prepareActionChild(runtime: ChildRuntime, outDir: string): Promise<string> {
  if (runtime === 'tsx') {
    command = [process.execPath, '--import', import.meta.resolve('tsx'), ENTRY];
    return 'node --import tsx bench/lib/action-child.ts';
  }
  const ncc = fileURLToPath(import.meta.resolve('@vercel/ncc/dist/ncc/cli.js'));
  await new Promise<void>((resolve, reject) => {
    // -t: transpile only; `npm run typecheck` checks types, and another file's type error must not stop the
    // bench. -C: no build cache in the home directory; the bundle itself lives in the bench's temp dir.
    const proc = spawn(process.execPath, [ncc, 'build', ENTRY, '-o', outDir, '-q', '-t', '-C'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    proc.stderr.on('data', (c: Buffer) => {
      stderr = (stderr + c.toString('utf8')).slice(-8192);
    });
    proc.on('error', reject);
    proc.on('close', (code) =>
      code === 0 ? resolve() : reject(new Error(`ncc build failed (${code}): ${stderr}`)),
    );
  });
  command = [process.execPath, path.join(outDir, 'index.js')];
  return 'node <ncc bundle of bench/lib/action-child.ts> (ncc, as dist/ is built, without --minify)';
}

/** Children still running, so an interrupted bench can end them. */
const running = new Set<ChildProcess>();

export function killRunningChildren(): void {
  for (const c of running) c.kill('SIGKILL');
}

export interface Child {
  pid: number;
  /** The next reported message (in order); rejects if the child exits first. */
  message<T>(): Promise<T>;
  /** Ends the child's stdin (children that serve until told to stop watch it). */
  endInput(): void;
  /** Exit code; a signal counts as failure. */
  exited: Promise<number>;
  kill(): void;
}

export function startChild(input: unknown): Child {
  if (!command) throw new Error('prepareActionChild() first');
  const [node, ...args] = command as [string, ...string[]];
  const proc = spawn(node, args, {
    env: { ...process.env, [INPUT_ENV]: JSON.stringify(input) },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  running.add(proc);
  const queue: unknown[] = [];
  const waiters: Array<{ resolve: (v: unknown) => void; reject: (e: Error) => void }> = [];
  let gone: Error | undefined;
  let partial = '';
  proc.stdout!.setEncoding('utf8');
  proc.stdout!.on('data', (text: string) => {
    const lines = (partial + text).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      if (!line.startsWith(RESULT_PREFIX)) {
        // Whatever else a child prints is for the reader of the log.
        if (line) process.stdout.write(`  [child ${proc.pid}] ${line}\n`);
        continue;
      }
      const msg: unknown = JSON.parse(line.slice(RESULT_PREFIX.length));
      const w = waiters.shift();
      if (w) w.resolve(msg);
      else queue.push(msg);
    }
  });
  proc.stdin!.on('error', () => {});
  const exited = new Promise<number>((resolve, reject) => {
    proc.on('error', reject);
    proc.on('close', (code, signal) => {
      running.delete(proc);
      gone = new Error(`the child exited (${signal ?? `code ${code}`}) without reporting`);
      for (const w of waiters.splice(0)) w.reject(gone);
      resolve(code ?? 1);
    });
  });
  exited.catch(() => {});
  return {
    pid: proc.pid ?? -1,
    message<T>() {
      if (queue.length > 0) return Promise.resolve(queue.shift() as T);
      if (gone) return Promise.reject(gone);
      return new Promise<T>((resolve, reject) => {
        waiters.push({ resolve: resolve as (v: unknown) => void, reject });
      });
    },
    endInput: () => proc.stdin!.end(),
    exited,
    kill: () => proc.kill('SIGKILL'),
  };
}

/** Runs a child to its end and returns its last message; a non-zero exit or a timeout is an error. */
export async function runChild<T>(input: unknown, timeoutMs: number): Promise<T> {
  const child = startChild(input);
  child.endInput();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      child.kill();
      reject(new Error(`the child did not finish within ${timeoutMs / 1000} s`));
    }, timeoutMs);
  });
  try {
    const code = await Promise.race([child.exited, timeout]);
    if (code !== 0) throw new Error(`the child exited with code ${code}`);
    let last: T | undefined;
    for (;;) {
      try {
        last = await child.message<T>();
      } catch {
        break;
      }
    }
    if (last === undefined) throw new Error(`the child reported nothing`);
    return last;
  } finally {
    clearTimeout(timer);
  }
}
