/**
 * The whole action as a child process, started the way the runner starts a node24 action (as
 * test/e2e/support.ts does it): `INPUT_*` variables, the event payload in GITHUB_EVENT_PATH, files for the
 * outputs and the job summary. The script is the bundle that `npm run build` makes (prepareAction in child.ts).
 *
 * Measured from the parent: wall time to exit, time to the first line of output, the log groups' durations
 * (from the arrival of `::group::` and `::endgroup::` lines), and the peak RSS (VmHWM, polled; it only grows,
 * so the last reading before the exit misses at most the last few milliseconds).
 */
import { spawn } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { actionCommand, withCpuProfile } from './child.js';
import { running } from './running.js';

export interface PullRequestEvent {
  action: 'opened' | 'synchronize' | 'closed';
  number: number;
  headSha: string;
  /** The head repository; another one than acme/shop makes a fork PR. */
  headRepository?: string;
}

export interface ActionRunResult {
  code: number | null;
  ms: number;
  /** From the spawn to the first line the action printed. */
  firstLineMs: number;
  peakRss: number;
  /** Log groups (the action's phases) in order, with their durations. */
  phases: Array<{ name: string; ms: number }>;
  outputs: Record<string, string>;
  /** The last lines of output, for an error message. */
  tail: string;
}

const REPOSITORY = 'acme/shop';

function parseOutputs(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const re = /^(.+?)<<(.+)\n([\s\S]*?)\n\2$/gm;
  for (let m = re.exec(text); m; m = re.exec(text)) out[m[1]!] = m[3]!;
  return out;
}

function hwm(pid: number): number | undefined {
  try {
    const m = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Runs the action once; resolves whatever its exit code (the caller checks `code`). */
export async function runAction(args: {
  inputs: Record<string, string>;
  event: PullRequestEvent;
  workspace: string;
  timeoutMs?: number;
}): Promise<ActionRunResult> {
  const dir = mkdtempSync(path.join(tmpdir(), 'bench-run-'));
  try {
    const eventPath = path.join(dir, 'event.json');
    const { event } = args;
    writeFileSync(
      eventPath,
      JSON.stringify({
        action: event.action,
        number: event.number,
        pull_request: {
          number: event.number,
          state: event.action === 'closed' ? 'closed' : 'open',
          title: `PR ${event.number}`,
          labels: [],
          head: {
            sha: event.headSha,
            ref: 'feature',
            repo: { full_name: event.headRepository ?? REPOSITORY },
          },
          base: { ref: 'main', repo: { full_name: REPOSITORY } },
        },
        repository: { full_name: REPOSITORY, name: 'shop' },
      }),
    );
    const outputFile = path.join(dir, 'output');
    writeFileSync(outputFile, '');
    writeFileSync(path.join(dir, 'summary'), '');
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? dir,
      GITHUB_ACTIONS: 'true',
      GITHUB_EVENT_NAME: 'pull_request',
      GITHUB_EVENT_PATH: eventPath,
      GITHUB_REPOSITORY: REPOSITORY,
      GITHUB_SHA: event.headSha,
      GITHUB_RUN_ID: '4242',
      GITHUB_RUN_ATTEMPT: '1',
      GITHUB_SERVER_URL: 'https://github.com',
      GITHUB_API_URL: 'https://api.github.com',
      GITHUB_WORKSPACE: args.workspace,
      GITHUB_OUTPUT: outputFile,
      GITHUB_STEP_SUMMARY: path.join(dir, 'summary'),
      RUNNER_TEMP: dir,
    };
    for (const [k, v] of Object.entries(args.inputs)) env[`INPUT_${k.toUpperCase()}`] = v;

    const [node, ...rest] = actionCommand() as [string, ...string[]];
    // PREEVY_BENCH_TRACE=<file>: every line of every run, with its time in ms since the spawn, appended there.
    const trace = process.env.PREEVY_BENCH_TRACE;
    if (trace) appendFileSync(trace, `--- ${event.action} #${event.number}\n`);
    const started = performance.now();
    const child = spawn(node, withCpuProfile(rest), { env, stdio: ['ignore', 'pipe', 'pipe'] });
    running.add(child);
    let firstLineMs = -1;
    let peakRss = 0;
    let partial = '';
    let tail: string[] = [];
    const phases: ActionRunResult['phases'] = [];
    let open: { name: string; at: number } | undefined;
    const onText = (text: string) => {
      const now = performance.now();
      if (firstLineMs < 0) firstLineMs = now - started;
      const lines = (partial + text).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        if (trace) appendFileSync(trace, `${(now - started).toFixed(0).padStart(6)} ${line}\n`);
        if (line.startsWith('::group::')) open = { name: line.slice(9), at: now };
        else if (line.startsWith('::endgroup::') && open) {
          phases.push({ name: open.name, ms: now - open.at });
          open = undefined;
        }
        if (!line.startsWith('::debug::') && !line.startsWith('::add-mask::'))
          tail = [...tail, line].slice(-40);
      }
    };
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', onText);
    child.stderr.on('data', onText);
    const poll = setInterval(() => {
      const v = child.pid ? hwm(child.pid) : undefined;
      if (v !== undefined) peakRss = Math.max(peakRss, v);
    }, 10);
    const timer = setTimeout(() => child.kill('SIGKILL'), args.timeoutMs ?? 10 * 60_000);
    const code = await new Promise<number | null>((resolve, reject) => {
      child.on('error', reject);
      child.on('close', (c) => resolve(c));
    });
    const ms = performance.now() - started;
    clearInterval(poll);
    clearTimeout(timer);
    running.delete(child);
    return {
      code,
      ms,
      firstLineMs,
      peakRss,
      phases,
      outputs: parseOutputs(readFileSync(outputFile, 'utf8')),
      tail: tail.join('\n'),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Runs the action and fails unless it exits 0. */
export async function mustRunAction(
  args: Parameters<typeof runAction>[0],
  what: string,
): Promise<ActionRunResult> {
  const r = await runAction(args);
  if (r.code !== 0) throw new Error(`${what}: the action exited ${r.code}:\n${r.tail}`);
  return r;
}
