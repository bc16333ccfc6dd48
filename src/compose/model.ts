import { existsSync } from 'node:fs';
import path from 'node:path';
import { ActionError } from '../errors.js';
import { runProcess } from '../util/process.js';

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

/** The files compose's own lookup picks (the first of its names that exists, plus its override file). */
function defaultFiles(dir: string): string[] {
  const first = ['compose.yaml', 'compose.yml', 'docker-compose.yaml', 'docker-compose.yml'].find((f) =>
    existsSync(path.join(dir, f)),
  );
  if (!first) return [];
  const override = first.replace(/\.(ya?ml)$/, '.override.$1');
  return existsSync(path.join(dir, override)) ? [first, override] : [first];
}

export async function loadComposeModel(
  project: ComposeProject,
  env: NodeJS.ProcessEnv,
  run: typeof runProcess = runProcess,
): Promise<ComposeModel> {
  const result = await run('docker', ['compose', ...projectArgs(project), 'config', '--format', 'json'], {
    cwd: project.workingDirectory,
    env,
    captureStdout: true,
  });
  if (result.code !== 0) {
    // Compose's parse errors say "yaml: line 2: ..." without the file: name the files it read.
    const files = project.files.length > 0 ? project.files : defaultFiles(project.workingDirectory);
    throw new ActionError(
      `docker compose could not load ${files.join(', ') || 'the project'} in ${project.workingDirectory}:\n${result.stderrTail.join('\n')}`,
      {
        hint: 'Check the inputs compose-files, compose-profiles, compose-env-files and working-directory, and that `docker compose config` succeeds locally.',
      },
    );
  }
  let model: ComposeModel;
  try {
    model = JSON.parse(result.stdout) as ComposeModel;
  } catch (err) {
    throw new ActionError('docker compose config printed something that is not JSON', { cause: err });
  }
  if (!model.services || Object.keys(model.services).length === 0) {
    throw new ActionError(
      `The compose project in ${project.workingDirectory} has no services (check compose-profiles).`,
    );
  }
  return model;
}
