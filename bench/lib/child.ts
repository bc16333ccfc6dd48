/**
 * Parent side of the action's processes: the bench child (action-child.ts), which runs one part of the action
 * (the upload, the tunnel), and the whole action (src/index.ts, run by action-run.ts).
 *
 * By default both run from ncc bundles, as the action runs from dist/: under tsx the loader alone adds some
 * 65 MB of RSS (transformed sources of every module of @kubernetes/client-node), which is not the action's.
 * The action's bundle is built exactly as `npm run build` builds dist/ (with --minify), into the bench's temp
 * directory, so the bench measures the sources as they are, and dist/ is left alone. `--tsx` skips the
 * bundling, for working on the bench itself. Either way a child is a single node process (the tsx CLI would
 * add a wrapper process). Input travels in an environment variable, results come back as `BENCH <json>`
 * lines.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { INPUT_ENV, RESULT_PREFIX } from './child-io.js';
import { running } from './running.js';

const ENTRY = fileURLToPath(new URL('./action-child.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** How the bench child is started: node and its arguments; set by prepareChildren. */
let command: string[] | undefined;
/** How the whole action is started. */
let action: string[] | undefined;

export type ChildRuntime = 'bundle' | 'tsx';

function ncc(entry: string, outDir: string, flags: string[]): Promise<void> {
  const cli = fileURLToPath(import.meta.resolve('@vercel/ncc/dist/ncc/cli.js'));
  return new Promise<void>((resolve, reject) => {
    // -C: no build cache in the home directory; the bundle itself lives in the bench's temp dir.
    const proc = spawn(process.execPath, [cli, 'build', entry, '-o', outDir, '-q', '-C', ...flags], {
      cwd: ROOT,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    proc.stderr.on('data', (c: Buffer) => {
      stderr = (stderr + c.toString('utf8')).slice(-8192);
    });
    proc.on('error', reject);
    proc.on('close', (code) =>
      code === 0
        ? resolve()
        : reject(
            new Error(
              `ncc build of ${entry} failed (${code}); like \`npm run build\`, it type-checks the project (use --dist to run the committed dist/index.js instead): ${stderr}`,
            ),
          ),
    );
  });
}

/**
 * Bundles action-child.ts and the action (both at once), or prepares tsx; returns a description of each for
 * the output. `needAction: false` skips the action's bundle when no selected benchmark runs it.
 */
export async function prepareChildren(
  runtime: ChildRuntime,
  outDir: string,
  opts: { needAction: boolean; committedDist: boolean },
): Promise<{ child: string; action: string }> {
  const needAction = opts.needAction && !opts.committedDist;
  if (runtime === 'tsx') {
    const tsx = import.meta.resolve('tsx');
    command = [process.execPath, '--import', tsx, ENTRY];
    action = [process.execPath, '--import', tsx, path.join(ROOT, 'src/index.ts')];
    return {
      child: 'node --import tsx bench/lib/action-child.ts',
      action: 'node --import tsx src/index.ts',
    };
  }
  const childDir = path.join(outDir, 'child');
  // The action finds its bundled template at <dist>/../templates, as in its checkout.
  const actionRoot = path.join(outDir, 'action');
  mkdirSync(actionRoot, { recursive: true });
  symlinkSync(path.join(ROOT, 'templates'), path.join(actionRoot, 'templates'));
  await Promise.all([
    // -t: transpile only; `npm run typecheck` checks types, and another file's type error must not stop the
    // bench (the action's bundle below is type-checked, as `npm run build` does it).
    ncc(ENTRY, childDir, ['-t']),
    needAction
      ? ncc(path.join(ROOT, 'src/index.ts'), path.join(actionRoot, 'dist'), ['--minify'])
      : undefined,
    // The template renderer's own bundle, which the action runs in its sandbox (as `npm run build` builds it).
    needAction
      ? ncc(path.join(ROOT, 'src/template/sandbox-child.ts'), path.join(actionRoot, 'dist/render'), [
          '--minify',
        ])
      : undefined,
  ]);
  command = [process.execPath, path.join(childDir, 'index.js')];
  if (opts.committedDist) {
    action = [process.execPath, path.join(ROOT, 'dist/index.js')];
    return {
      child: 'node <ncc bundle of bench/lib/action-child.ts> (ncc -t, without --minify)',
      action: 'node dist/index.js (--dist: the committed bundle, as it is)',
    };
  }
  action = [process.execPath, path.join(actionRoot, 'dist/index.js')];
  return {
    child: 'node <ncc bundle of bench/lib/action-child.ts> (ncc -t, without --minify)',
    action: 'node <ncc bundle of src/index.ts, built as `npm run build` builds dist/index.js>',
  };
}

/** node and its arguments that start the whole action. */
export function actionCommand(): string[] {
  if (!action) throw new Error('prepareChildren() first');
  return action;
}

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

/**
 * PREEVY_BENCH_CPU_PROF=<dir>: the node process started with these arguments writes a V8 CPU profile there when
 * it exits (for working on the tunnel's and the upload's CPU per byte, and the action's start; profiling costs
 * some CPU itself, so not for the figures).
 */
export function withCpuProfile(args: string[]): string[] {
  const dir = process.env.PREEVY_BENCH_CPU_PROF;
  return dir ? ['--cpu-prof', `--cpu-prof-dir=${dir}`, ...args] : args;
}

export function startChild(input: unknown): Child {
  if (!command) throw new Error('prepareChildren() first');
  const [node, ...rest] = command as [string, ...string[]];
  const proc = spawn(node, withCpuProfile(rest), {
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
