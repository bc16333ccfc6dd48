import { randomUUID } from 'node:crypto';
import { ActionError } from '../errors.js';
import type { Log } from '../util/log.js';
import { runProcess } from '../util/process.js';
import { composeDockerConfig } from './docker-config.js';
import { type ComposeModel, type ComposeProject, projectArgs } from './model.js';

export interface ComposeRunOptions {
  project: ComposeProject;
  /** The rewritten model: read by compose from stdin, so its interpolated values never touch the disk. */
  model: ComposeModel;
  /** The child's environment, DOCKER_HOST pointing at the tunnel (see cleanDockerEnv). */
  env: NodeJS.ProcessEnv;
  /**
   * The job's environment, whose Docker config (DOCKER_CONFIG, or ~/.docker) holds its registry logins: compose
   * gets those and nothing else of it (src/compose/docker-config.ts). Default: process.env.
   */
  jobEnv?: NodeJS.ProcessEnv;
  log: Log;
  run?: typeof runProcess;
  signal?: AbortSignal;
  /**
   * Runs the step (`up --build`); it rejects with its ActionError. It is idempotent, so a caller may run it
   * again (bridge/deploy.ts does when the tunnel dropped a connection during it).
   */
  step?: ComposeStepRunner;
}

export type ComposeStep = 'up' | 'up --force-recreate';
export type ComposeStepRunner = (step: ComposeStep, fn: () => Promise<void>) => Promise<void>;

export function baseArgs(p: ComposeProject): string[] {
  return ['compose', ...projectArgs(p, { modelOnStdin: true })];
}

export function hasHealthchecks(model: ComposeModel): boolean {
  return Object.values(model.services).some((s) => s.healthcheck && !s.healthcheck.disable);
}

/**
 * `up --build --detach --remove-orphans` (with `--wait` when a service has a health check): one command, as
 * `docker compose up --build` is run by hand. A separate `build` first would cost a second compose process and
 * Docker session, about 0.3 s through the tunnel.
 */
export async function composeUp(opts: ComposeRunOptions): Promise<void> {
  // Build output is the PR's text: a `RUN echo "::set-output ..."` (or `##[...]`) line would otherwise be read by
  // the runner as a workflow command. The runner ignores commands between these markers.
  const resume = randomUUID();
  const config = await composeDockerConfig(opts.env, { jobEnv: opts.jobEnv, log: opts.log });
  opts.log.info(`::stop-commands::${resume}`);
  try {
    await composeSteps({ ...opts, env: config.env });
  } finally {
    opts.log.info(`::${resume}::`);
    await config.remove();
  }
}

async function composeSteps(opts: ComposeRunOptions): Promise<void> {
  const run = opts.run ?? runProcess;
  const step: ComposeStepRunner = opts.step ?? ((_step, fn) => fn());
  const input = JSON.stringify(opts.model);
  const common = {
    cwd: opts.project.workingDirectory,
    env: opts.env,
    input,
    signal: opts.signal,
    onLine: (line: string) => opts.log.info(line),
  };
  const upArgs = [
    'up',
    '--build',
    '--detach',
    '--remove-orphans',
    ...(hasHealthchecks(opts.model) ? ['--wait'] : []),
  ];
  await step('up', async () => {
    const up = await run('docker', [...baseArgs(opts.project), ...upArgs], common);
    // BuildKit's words for a failed build (`failed to solve: ...`, or compose's own `failed to build`): then no
    // container changed, and the build's lines say what went wrong.
    if (up.code !== 0 && up.stderrTail.some((l) => /failed to (solve|build)\b/i.test(l))) {
      throw new ActionError(`docker compose build failed:\n${up.stderrTail.join('\n')}`, {
        hint: "The build runs on the environment's Docker host; the lines above show the failing step.",
        logs: up.stderrTail.join('\n'),
      });
    }
    if (up.code !== 0) {
      const diagnosis = await composeDiagnosis(opts, run);
      throw new ActionError(`docker compose up failed:\n${up.stderrTail.join('\n')}${diagnosis}`, {
        logs: diagnosis.trim() || up.stderrTail.join('\n'),
      });
    }
  });
}

/** `ps` and the last log lines of every service that is not running, for the error and the PR comment. */
async function composeDiagnosis(opts: ComposeRunOptions, run: typeof runProcess): Promise<string> {
  const args = baseArgs(opts.project);
  const common = { cwd: opts.project.workingDirectory, env: opts.env, input: JSON.stringify(opts.model) };
  const ps = await run('docker', [...args, 'ps', '--all', '--format', 'json'], {
    ...common,
    captureStdout: true,
    timeoutMs: 30_000,
  });
  const rows = ps.stdout
    .split('\n')
    .filter((l) => l.trim().startsWith('{'))
    .map((l) => JSON.parse(l) as { Service?: string; State?: string; Health?: string; ExitCode?: number });
  const broken = rows.filter((r) => r.State !== 'running' || (r.Health && r.Health !== 'healthy'));
  let out = rows.length
    ? `\nServices:\n${rows.map((r) => `  ${r.Service}: ${r.State}${r.Health ? ` (${r.Health})` : ''}${r.State === 'exited' ? ` exit ${r.ExitCode}` : ''}`).join('\n')}`
    : '';
  for (const r of broken) {
    if (!r.Service) continue;
    // `--`: compose accepts service names such as `--follow`, which would make this wait for ever.
    const logs = await run('docker', [...args, 'logs', '--no-color', '--tail', '20', '--', r.Service], {
      ...common,
      captureStdout: true,
      timeoutMs: 30_000,
    });
    out += `\nLast log lines of ${r.Service}:\n${logs.stdout.trimEnd()}`;
  }
  return out;
}
