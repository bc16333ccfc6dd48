import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { type DockerSim, startJobGitHub, startSim, useDockerSim } from '../integration/harness.js';
import type { GitHubSim, GitHubSimOptions } from '../sim/github/index.js';
import type { KubeSim } from '../sim/kube/index.js';
import type { NetworkOptions } from '../sim/kube/network/index.js';

/** What one run of the bundled action left behind, as the runner would see it. */
export interface ActionRun {
  code: number | null;
  stdout: string;
  outputs: Record<string, string>;
  summary: string;
}

export interface PullRequestEvent {
  action: 'opened' | 'synchronize' | 'reopened' | 'closed' | 'labeled' | 'unlabeled' | 'edited';
  number: number;
  headSha: string;
  repository?: string;
  headRef?: string;
  title?: string;
  /** The event's name; default pull_request. */
  name?: 'pull_request' | 'pull_request_target';
  /** The head repository, when the PR comes from a fork. */
  headRepository?: string;
  labels?: string[];
  /** The label of a labeled/unlabeled event. */
  label?: string;
}

/** The repository the runs' pull requests belong to (runAction's default). */
export const OWNER = 'acme';
export const REPO = 'shop';

export const ACTION_ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');

/** GITHUB_OUTPUT holds `name<<delimiter\nvalue\ndelimiter` blocks. */
function parseOutputs(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const re = /^(.+?)<<(.+)\n([\s\S]*?)\n\2$/gm;
  for (let m = re.exec(text); m; m = re.exec(text)) out[m[1]!] = m[3]!;
  return out;
}

/**
 * Starts dist/index.js the way the runner starts a node24 action: `INPUT_*` variables, the event payload
 * in GITHUB_EVENT_PATH, and files for outputs and the job summary.
 */
export async function runAction(args: {
  inputs: Record<string, string>;
  event: PullRequestEvent;
  workspace?: string;
  env?: Record<string, string>;
  echo?: (chunk: string) => void;
}): Promise<ActionRun> {
  const dir = mkdtempSync(path.join(tmpdir(), 'action-run-'));
  const repository = args.event.repository ?? `${OWNER}/${REPO}`;
  const eventPath = path.join(dir, 'event.json');
  writeFileSync(
    eventPath,
    JSON.stringify({
      action: args.event.action,
      number: args.event.number,
      ...(args.event.label ? { label: { name: args.event.label } } : {}),
      pull_request: {
        number: args.event.number,
        state: args.event.action === 'closed' ? 'closed' : 'open',
        title: args.event.title ?? `PR ${args.event.number}`,
        labels: (args.event.labels ?? []).map((name) => ({ name })),
        head: {
          sha: args.event.headSha,
          ref: args.event.headRef ?? 'feature',
          repo: { full_name: args.event.headRepository ?? repository },
        },
        base: { ref: 'main', repo: { full_name: repository } },
      },
      repository: { full_name: repository, name: repository.split('/')[1] },
    }),
  );
  const outputFile = path.join(dir, 'output');
  const summaryFile = path.join(dir, 'summary');
  writeFileSync(outputFile, '');
  writeFileSync(summaryFile, '');
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? dir,
    GITHUB_ACTIONS: 'true',
    GITHUB_EVENT_NAME: args.event.name ?? 'pull_request',
    GITHUB_EVENT_PATH: eventPath,
    GITHUB_REPOSITORY: repository,
    GITHUB_SHA: args.event.headSha,
    GITHUB_RUN_ID: '4242',
    GITHUB_RUN_ATTEMPT: '1',
    GITHUB_SERVER_URL: 'https://github.com',
    GITHUB_API_URL: 'https://api.github.com',
    GITHUB_WORKSPACE: args.workspace ?? dir,
    GITHUB_OUTPUT: outputFile,
    GITHUB_STEP_SUMMARY: summaryFile,
    RUNNER_TEMP: dir,
    ...args.env,
  };
  for (const [k, v] of Object.entries(args.inputs)) env[`INPUT_${k.toUpperCase()}`] = v;

  const child = spawn(process.execPath, [path.join(ACTION_ROOT, 'dist/index.js')], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  const collect = (b: Buffer) => {
    const s = b.toString();
    stdout += s;
    args.echo?.(s);
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  const run = {
    code,
    stdout,
    outputs: parseOutputs(readFileSync(outputFile, 'utf8')),
    summary: readFileSync(summaryFile, 'utf8'),
  };
  // The run's event, outputs and RUNNER_TEMP (and its workspace when the test gave none): hundreds per suite.
  rmSync(dir, { recursive: true, force: true });
  return run;
}

/** Runs `node ARGS` from the action's root as a user would; gives its exit code and all it printed, interleaved. */
export async function runNode(args: string[]): Promise<{ code: number | null; out: string }> {
  const child = spawn(process.execPath, args, {
    cwd: ACTION_ROOT,
    env: { ...process.env, NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const keep = (s: string) => {
    out += s;
  };
  child.stdout.setEncoding('utf8').on('data', keep);
  child.stderr.setEncoding('utf8').on('data', keep);
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  return { code, out };
}

/** A Kubernetes API simulator (startSim) for the enclosing describe: started before its tests, closed after them. */
export function useSim(): { sim: KubeSim } {
  const suite = {} as { sim: KubeSim };
  beforeAll(async () => {
    suite.sim = await startSim();
  });
  afterAll(async () => {
    await suite.sim?.close();
  });
  return suite;
}

/**
 * useDockerSim, and a GitHub simulator knowing OWNER/REPO and the job token `token` (startJobGitHub). Both are
 * closed after the describe's own afterAll hooks, which may still use them, GitHub first.
 */
export function useDockerSimAndGitHub(
  token: string,
  opts: { network?: NetworkOptions; github?: GitHubSimOptions } = {},
): DockerSim & { gh: GitHubSim } {
  const suite = useDockerSim(opts.network) as DockerSim & { gh: GitHubSim };
  beforeAll(async () => {
    suite.gh = await startJobGitHub({ owner: OWNER, repo: REPO }, token, opts.github);
  });
  afterAll(async () => {
    await suite.gh?.close();
  });
  return suite;
}
