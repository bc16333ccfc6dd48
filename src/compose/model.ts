import { existsSync, lstatSync } from 'node:fs';
import path from 'node:path';
import { ActionError } from '../errors.js';
import { cleanDockerEnv, runProcess } from '../util/process.js';

export interface ComposeVolume {
  type: 'bind' | 'volume' | 'tmpfs' | 'npipe' | 'cluster' | 'image';
  source?: string;
  target: string;
  read_only?: boolean;
  [k: string]: unknown;
}

export interface ComposePort {
  target: number;
  published?: string;
  host_ip?: string;
  protocol?: string;
  mode?: string;
}

export interface ComposeService {
  image?: string;
  build?: { context: string; dockerfile?: string; [k: string]: unknown };
  ports?: ComposePort[];
  volumes?: ComposeVolume[];
  secrets?: Array<{ source: string; target?: string }>;
  configs?: Array<{ source: string; target?: string }>;
  healthcheck?: { test?: unknown; disable?: boolean };
  [k: string]: unknown;
}

/** `docker compose config --format json`: paths absolute, variables interpolated (so: never persisted). */
export interface ComposeModel {
  name: string;
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
  networks?: Record<string, unknown>;
  secrets?: Record<string, { file?: string; [k: string]: unknown }>;
  configs?: Record<string, { file?: string; [k: string]: unknown }>;
  [k: string]: unknown;
}

export interface ComposeProject {
  workingDirectory: string;
  /** Empty: compose's own lookup (compose.yaml, docker-compose.yml, ...). */
  files: string[];
  profiles: string[];
  envFiles: string[];
  projectName: string;
}

/**
 * The global flags that select the project: the same for config, build and up. With `modelOnStdin`, compose
 * reads the (already interpolated) model from stdin instead of the files, and needs no env files.
 */
export function projectArgs(p: ComposeProject, opts: { modelOnStdin?: boolean } = {}): string[] {
  return [
    ...(opts.modelOnStdin ? ['--file', '-'] : p.files.flatMap((f) => ['--file', f])),
    ...p.profiles.flatMap((x) => ['--profile', x]),
    ...(opts.modelOnStdin ? [] : p.envFiles.flatMap((f) => ['--env-file', f])),
    '--project-name',
    p.projectName,
    '--project-directory',
    p.workingDirectory,
  ];
}

/** Compose's own lookup, so "no compose project" can be told apart from a broken one. */
export function hasComposeProject(project: ComposeProject): boolean {
  if (project.files.length > 0) return true;
  return DEFAULT_COMPOSE_FILES.some((f) => existsSync(path.join(project.workingDirectory, f)));
}

/** The names compose's own lookup tries in a project's directory, in its order. */
export const DEFAULT_COMPOSE_FILES = [
  'compose.yaml',
  'compose.yml',
  'docker-compose.yaml',
  'docker-compose.yml',
];

/** The files compose's own lookup picks (the first of its names that exists, plus its override file). */
function defaultFiles(dir: string): string[] {
  const first = DEFAULT_COMPOSE_FILES.find((f) => existsSync(path.join(dir, f)));
  if (!first) return [];
  const override = first.replace(/\.(ya?ml)$/, '.override.$1');
  return existsSync(path.join(dir, override)) ? [first, override] : [first];
}

/**
 * The action's own inputs (`INPUT_KUBECONFIG`, `INPUT_GITHUB-TOKEN`) and the runner's tokens (`ACTIONS_RUNTIME_TOKEN`,
 * `ACTIONS_ID_TOKEN_REQUEST_TOKEN`, ...) are in the runner's environment. A PR's compose file could hand them to
 * its services by interpolation (`${INPUT_KUBECONFIG}`), a bare `environment: [NAME]` or a secret's
 * `environment: NAME`, so compose never sees them.
 */
export function isWithheldVariable(name: string): boolean {
  return /^(INPUT|ACTIONS)_/i.test(name);
}

/** The environment for docker compose: cleanDockerEnv without the withheld variables. */
export function composeEnv(base: NodeJS.ProcessEnv, dockerHost?: string): NodeJS.ProcessEnv {
  const env = cleanDockerEnv(base, dockerHost);
  for (const k of Object.keys(env)) if (isWithheldVariable(k)) delete env[k];
  return env;
}

/** `docker compose config` of a sound project takes seconds; a hostile one (a YAML alias bomb) never ends. */
const CONFIG_TIMEOUT_MS = 60_000;

/**
 * `docker compose config --format json` with extra flags, its output parsed. `stdinModel` replaces the files (for
 * probing compose's interpolation).
 */
async function composeConfig(
  project: ComposeProject,
  env: NodeJS.ProcessEnv,
  run: typeof runProcess,
  opts: { flags?: string[]; stdinModel?: unknown; signal?: AbortSignal } = {},
): Promise<ComposeModel> {
  const selection =
    opts.stdinModel === undefined
      ? projectArgs(project)
      : [
          '--file',
          '-',
          ...project.envFiles.flatMap((f) => ['--env-file', f]),
          '--project-name',
          project.projectName,
          '--project-directory',
          project.workingDirectory,
        ];
  // Compose's parse errors say "yaml: line 2: ..." without the file: name the files it read.
  const files = project.files.length > 0 ? project.files : defaultFiles(project.workingDirectory);
  const result = await run(
    'docker',
    ['compose', ...selection, 'config', '--format', 'json', ...(opts.flags ?? [])],
    {
      cwd: project.workingDirectory,
      env,
      captureStdout: true,
      input: opts.stdinModel === undefined ? undefined : JSON.stringify(opts.stdinModel),
      timeoutMs: CONFIG_TIMEOUT_MS,
      signal: opts.signal,
    },
  ).catch((err: unknown) => {
    if (!(err instanceof ActionError) || !/did not finish|printed more than/.test(err.message)) throw err;
    throw new ActionError(
      `docker compose could not load ${files.join(', ') || 'the project'}: ${err.message}`,
      {
        hint: 'Check the compose files for YAML aliases that expand without end, deep nesting or huge values: compose reads a sound project in seconds.',
        cause: err,
      },
    );
  });
  if (result.code !== 0) {
    throw new ActionError(
      `docker compose could not load ${files.join(', ') || 'the project'} in ${project.workingDirectory}:\n${result.stderrTail.join('\n')}`,
      {
        hint: 'Check the inputs compose-files, compose-profiles, compose-env-files and working-directory, and that `docker compose config` succeeds locally.',
      },
    );
  }
  try {
    return JSON.parse(result.stdout) as ComposeModel;
  } catch (err) {
    throw new ActionError('docker compose config printed something that is not JSON', { cause: err });
  }
}

export async function loadComposeModel(
  project: ComposeProject,
  env: NodeJS.ProcessEnv,
  run: typeof runProcess = runProcess,
  signal?: AbortSignal,
): Promise<ComposeModel> {
  const model = await composeConfig(project, env, run, { signal });
  if (!model.services || Object.keys(model.services).length === 0) {
    throw new ActionError(
      `The compose project in ${project.workingDirectory} has no services (check compose-profiles).`,
    );
  }
  return model;
}

/** The compose files compose reads first (given, or its own lookup), absolute. */
export function composeFilePaths(project: ComposeProject): string[] {
  const files = project.files.length > 0 ? project.files : defaultFiles(project.workingDirectory);
  return files.map((f) => path.resolve(project.workingDirectory, f));
}

/**
 * The files that select and configure the project, read by compose on the runner: the compose files (given,
 * or compose's own lookup), the env files, and the project directory's `.env`. Inputs name them, but the PR's
 * checkout decides what they are: any of them may be a symlink.
 */
export function projectFiles(project: ComposeProject): RunnerRead[] {
  const files = project.files.length > 0 ? project.files : defaultFiles(project.workingDirectory);
  const at = (f: string) => path.resolve(project.workingDirectory, f);
  return [
    ...files.map((f) => ({ where: `compose file ${f}`, path: at(f), written: f })),
    ...project.envFiles.map((f) => ({ where: `env file ${f}`, path: at(f), written: f })),
    ...(existsSync(at('.env')) || isLink(at('.env'))
      ? [{ where: '.env', path: at('.env'), written: '.env' }]
      : []),
  ];
}

function isLink(p: string): boolean {
  try {
    return lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}

/** A file compose reads on the runner while it builds the model, named for messages. */
export interface RunnerRead {
  where: string;
  /** Absolute, interpolated; undefined when its variables leave it impossible to locate. */
  path?: string;
  written: string;
}

type FileList = Array<string | { path?: string }> | undefined;
const pathsOf = (list: FileList): string[] =>
  (list ?? []).map((e) => (typeof e === 'string' ? e : (e.path ?? ''))).filter(Boolean);

/**
 * The `env_file` and `label_file` entries of every service. Compose reads them while building the model and
 * leaves only their contents in it, so they are found without interpolation, which reads nothing: a check of these
 * paths can then run before compose reads a file of the runner (an env file of `~/.kube/config` would otherwise
 * reach the services, or compose's error message, which is shown on the PR).
 */
export async function filesReadByCompose(
  project: ComposeProject,
  env: NodeJS.ProcessEnv,
  run: typeof runProcess = runProcess,
  signal?: AbortSignal,
): Promise<RunnerRead[]> {
  const collect = (m: ComposeModel) =>
    Object.entries(m.services ?? {}).flatMap(([name, s]) => [
      ...pathsOf(s.env_file as FileList).map((p) => ({ where: `service "${name}" env_file`, p })),
      ...pathsOf(s.label_file as FileList).map((p) => ({ where: `service "${name}" label_file`, p })),
    ]);
  const resolved = collect(await composeConfig(project, env, run, { flags: ['--no-interpolate'], signal }));
  if (!resolved.some((r) => r.p.includes('$')))
    return resolved.map((r) => ({ where: r.where, path: r.p, written: r.p }));

  // Compose interpolates a path before resolving it against its file's directory: interpolate what was written
  // (compose itself, so `.env` and `--env-file` count), then resolve it against that directory.
  const written = collect(
    await composeConfig(project, env, run, { flags: ['--no-interpolate', '--no-path-resolution'], signal }),
  );
  const values = await interpolate(
    project,
    env,
    run,
    written.map((w) => w.p),
    signal,
  );
  return resolved.map((r, i) => {
    const raw = written[i]?.p;
    const value = values[i];
    if (raw === undefined || value === undefined || !r.p.includes('$'))
      return { where: r.where, path: r.p, written: r.p };
    if (path.isAbsolute(value)) return { where: r.where, path: path.normalize(value), written: raw };
    const base = path.isAbsolute(raw) ? undefined : r.p.endsWith(raw) ? r.p.slice(0, -raw.length) : undefined;
    return { where: r.where, path: base === undefined ? undefined : path.resolve(base, value), written: raw };
  });
}

/** Strings interpolated the way compose interpolates the project's files (same env, `.env` and env files). */
async function interpolate(
  project: ComposeProject,
  env: NodeJS.ProcessEnv,
  run: typeof runProcess,
  values: string[],
  signal?: AbortSignal,
): Promise<string[]> {
  const labels = Object.fromEntries(values.map((v, i) => [`v${i}`, v]));
  const probe = { name: project.projectName, services: { probe: { image: 'probe', labels } } };
  const out = await composeConfig(project, env, run, { stdinModel: probe, signal });
  const got = (out.services.probe?.labels ?? {}) as Record<string, string>;
  // Compose writes a literal `$` back as `$$`.
  return values.map((_, i) => (got[`v${i}`] ?? '').replaceAll('$$', '$'));
}
