/**
 * The Docker client configuration compose runs with: the job's registry logins, and nothing else of the job's.
 *
 * A job may have selected a builder before the action runs: docker/setup-buildx-action creates a
 * docker-container builder, makes it current ($DOCKER_CONFIG/buildx/current) and may export BUILDX_BUILDER.
 * compose builds through buildx, which honours both (BUILDX_BUILDER first, then the current builder of the
 * buildx store), and BUILDKIT_HOST makes it use a remote BuildKit. The build would then run on the runner, or fail
 * there, instead of on the environment's engine. So compose gets a Docker config directory of its own: with no
 * buildx state buildx uses the default builder of the DOCKER_HOST context, which is the environment's engine.
 *
 * Logins made earlier in the job (docker/login-action writes `auths` to $DOCKER_CONFIG/config.json, or names
 * credential helpers) are copied, so private base images still pull. Plugins installed into the job's config
 * directory (its cli-plugins) stay found through `cliPluginsExtraDirs`.
 *
 * The copy holds credentials: its directory is 0700, the file 0600, and both are removed when compose is done.
 */
import { constants as fsConstants } from 'node:fs';
import { mkdtemp, open, readFile, rm } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import path from 'node:path';
import type { Log } from '../util/log.js';

/** Variables that select a builder other than the DOCKER_HOST's own, or a buildx store other than ours. */
const BUILDER_VARIABLES = ['BUILDX_BUILDER', 'BUILDX_CONFIG', 'BUILDKIT_HOST', 'DOCKER_CONTEXT'];

/** The keys of the job's config.json that carry registry logins. */
const LOGIN_KEYS = ['auths', 'credHelpers', 'credsStore'] as const;

export interface ComposeDockerConfig {
  /** The child's environment: DOCKER_CONFIG is the private directory, and no builder is selected. */
  env: NodeJS.ProcessEnv;
  dir: string;
  /** Removes the directory (with the copied logins). Safe to call twice. */
  remove(): Promise<void>;
}

/** The job's Docker config directory, as the docker CLI finds it. */
export function jobDockerConfigDir(jobEnv: NodeJS.ProcessEnv): string {
  // Relative to the action's working directory, as the job's docker commands read it; compose runs elsewhere.
  if (jobEnv.DOCKER_CONFIG) return path.resolve(jobEnv.DOCKER_CONFIG);
  return path.join(jobEnv.HOME || homedir(), '.docker');
}

async function readJobConfig(dir: string, log: Log): Promise<Record<string, unknown>> {
  const file = path.join(dir, 'config.json');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      log.warning(
        `Cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'}): the build runs without the job's registry logins.`,
      );
    }
    return {};
  }
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value === 'object' && value !== null && !Array.isArray(value))
      return value as Record<string, unknown>;
  } catch {
    // The message of a JSON error quotes the text, which holds credentials: say only where it is.
  }
  log.warning(`${file} is not a JSON object: the build runs without the job's registry logins.`);
  return {};
}

/**
 * Makes compose's Docker config directory from the job's (`jobEnv`: the runner's environment, where DOCKER_CONFIG
 * and HOME are still set) and returns `childEnv` pointing at it.
 */
export async function composeDockerConfig(
  childEnv: NodeJS.ProcessEnv,
  opts: { jobEnv?: NodeJS.ProcessEnv; log: Log; logins?: boolean },
): Promise<ComposeDockerConfig> {
  const jobEnv = opts.jobEnv ?? process.env;
  const jobDir = jobDockerConfigDir(jobEnv);
  const job = await readJobConfig(jobDir, opts.log);
  const config: Record<string, unknown> = {};
  // `docker compose config` reads files only: it gets no logins (logins: false), but neither the job's context.
  if (opts.logins !== false) for (const key of LOGIN_KEYS) if (job[key] !== undefined) config[key] = job[key];
  const extraDirs = Array.isArray(job.cliPluginsExtraDirs) ? job.cliPluginsExtraDirs : [];
  config.cliPluginsExtraDirs = [path.join(jobDir, 'cli-plugins'), ...extraDirs];

  // mkdtemp makes the directory 0700.
  const dir = await mkdtemp(path.join(jobEnv.RUNNER_TEMP || tmpdir(), 'preevy-docker-config-'));
  const remove = () => rm(dir, { recursive: true, force: true });
  try {
    // Created 0600 before anything is written: the logins are never readable by others, not even briefly.
    const handle = await open(
      path.join(dir, 'config.json'),
      fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL,
      0o600,
    );
    try {
      await handle.writeFile(JSON.stringify(config));
    } finally {
      await handle.close();
    }
  } catch (err) {
    await remove();
    throw err;
  }
  const env: NodeJS.ProcessEnv = { ...childEnv, DOCKER_CONFIG: dir };
  for (const name of BUILDER_VARIABLES) delete env[name];
  return { env, dir, remove };
}
