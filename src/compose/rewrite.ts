import { readlinkSync, realpathSync } from 'node:fs';
import path from 'node:path';
import { ActionError } from '../errors.js';
import { type ComposeModel, isWithheldVariable, type RunnerRead } from './model.js';

/** Where the project's files live inside the docker host's pod (an emptyDir in the bundled templates). */
export const REMOTE_ROOT = '/var/lib/preevy/projects';

/** The Docker host's own socket: a bind of it keeps pointing at the host, it is never uploaded. */
export const HOST_SOCKETS = new Set(['/var/run/docker.sock', '/run/docker.sock']);

export interface RewriteResult {
  /** The model with bind sources and secret/config files pointing into the docker host. */
  model: ComposeModel;
  /** The environment's directory in the docker host. */
  remoteDir: string;
  /** Paths relative to the working directory to upload (files or directories), deduplicated, sorted. */
  uploads: string[];
}

export interface RewriteOptions {
  workingDirectory: string;
  envId: string;
  /** Allow bind sources and build contexts outside the working directory (input `allow-outside-paths`). */
  allowOutside?: boolean;
}

function isInside(dir: string, p: string): boolean {
  const rel = path.relative(dir, p);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

/**
 * The path with every symlink on it followed, as far as it exists: a missing tail is kept as written, and a
 * dangling link is followed by its text (in the docker host it may well exist). Undefined for a link loop.
 */
export function followLinks(p: string): string | undefined {
  let head = path.resolve(p);
  const tail: string[] = [];
  for (let hops = 0; hops <= 40; ) {
    try {
      return path.join(realpathSync(head), ...tail);
    } catch {}
    let link: string | undefined;
    try {
      link = readlinkSync(head);
    } catch {}
    if (link !== undefined) {
      head = path.resolve(path.dirname(head), link);
      hops++;
      continue;
    }
    const parent = path.dirname(head);
    if (parent === head) return path.join(head, ...tail);
    tail.unshift(path.basename(head));
    head = parent;
  }
  return undefined;
}

/**
 * Whether a path of the runner stays in the working directory, written and with its symlinks followed: a PR
 * controls the links in its checkout, and a link to the runner's home makes a path inside lead outside.
 * Undefined when inside; otherwise what to say.
 */
export function outsideProblem(abs: string, workingDirectory: string): string | undefined {
  if (!isInside(workingDirectory, abs)) return `${abs} is outside the working directory ${workingDirectory}`;
  const real = followLinks(abs);
  if (real === undefined) return `${abs} is a symlink loop`;
  const realWd = followLinks(workingDirectory) ?? workingDirectory;
  if (!isInside(realWd, real))
    return `${abs} leads through a symlink to ${real}, outside the working directory`;
  return undefined;
}

function outsideError(problems: string[]): ActionError {
  return new ActionError(
    `The compose project reads files outside its working directory:\n  - ${problems.join('\n  - ')}`,
    {
      hint: 'Move them into the working directory, or set `allow-outside-paths: true` if this repository trusts its PRs.',
    },
  );
}

/**
 * The env and label files compose reads on the runner (filesReadByCompose), checked before compose reads them:
 * their contents go into the services' environment and labels, that is to the docker host.
 */
export function checkRunnerReads(reads: RunnerRead[], opts: RewriteOptions): void {
  if (opts.allowOutside) return;
  const problems: string[] = [];
  for (const r of reads) {
    if (r.path === undefined) {
      problems.push(`${r.where}: "${r.written}" uses variables in a way whose result cannot be located`);
      continue;
    }
    const problem = outsideProblem(r.path, opts.workingDirectory);
    if (problem) problems.push(`${r.where}: ${problem}`);
  }
  if (problems.length > 0) throw outsideError(problems);
}

/**
 * Compose runs on the runner and talks to the docker host through the tunnel: it reads build contexts,
 * Dockerfiles, additional contexts and SSH keys on the runner and sends them to the docker host's builder, so
 * those must stay in the working directory. Bind sources and file secrets/configs are read by the Docker engine
 * itself, from its own filesystem, and so are uploaded and pointed at there.
 */
export function rewriteForDockerHost(input: ComposeModel, opts: RewriteOptions): RewriteResult {
  const model = structuredClone(input);
  const remoteDir = path.posix.join(REMOTE_ROOT, opts.envId);
  const uploads = new Set<string>();
  const problems: string[] = [];
  const withheld: string[] = [];

  const relativeOf = (abs: string, where: string): string | undefined => {
    const rel = path.relative(opts.workingDirectory, abs);
    const lexicallyInside = rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
    if (opts.allowOutside) return lexicallyInside ? rel : undefined;
    const problem = outsideProblem(abs, opts.workingDirectory);
    if (problem) {
      problems.push(`${where}: ${problem}`);
      return undefined;
    }
    return rel;
  };
  const remoteFor = (abs: string, where: string): string => {
    const rel = relativeOf(abs, where);
    if (rel !== undefined) {
      uploads.add(rel === '' ? '.' : rel);
      return rel === '' ? remoteDir : path.posix.join(remoteDir, ...rel.split(path.sep));
    }
    // Allowed outside paths keep their absolute path under a separate root, so they cannot shadow project files.
    uploads.add(abs);
    return path.posix.join(remoteDir, '_outside', abs);
  };

  for (const [name, service] of Object.entries(model.services)) {
    const build = service.build;
    // Remote contexts (git URLs) are not paths; compose makes every local one absolute.
    if (build?.context && path.isAbsolute(build.context)) {
      relativeOf(build.context, `service "${name}" build.context`);
      if (typeof build.dockerfile_inline !== 'string') {
        const dockerfile = path.resolve(build.context, build.dockerfile ?? 'Dockerfile');
        relativeOf(dockerfile, `service "${name}" build.dockerfile`);
      }
    }
    for (const [ctx, value] of Object.entries(
      (build?.additional_contexts ?? {}) as Record<string, unknown>,
    )) {
      if (typeof value === 'string' && path.isAbsolute(value)) {
        relativeOf(value, `service "${name}" build.additional_contexts.${ctx}`);
      }
    }
    for (const [id, key] of Object.entries((build?.ssh ?? {}) as Record<string, unknown>)) {
      if (typeof key === 'string' && key !== '') relativeOf(key, `service "${name}" build.ssh.${id}`);
      else if (!opts.allowOutside) {
        problems.push(`service "${name}" build.ssh.${id}: forwards the runner's SSH agent to the build`);
      }
    }
    for (const v of service.volumes ?? []) {
      if (v.type !== 'bind' || !v.source) continue;
      if (HOST_SOCKETS.has(v.source)) continue;
      v.source = remoteFor(v.source, `service "${name}" volume ${v.target}`);
    }
    // Compose fills a variable listed without a value from its own environment at every run: the value was
    // decided when the model was read (the variable was not set then), and later runs must not decide again.
    const env = service.environment;
    if (env && typeof env === 'object' && !Array.isArray(env)) {
      for (const [k, v] of Object.entries(env as Record<string, unknown>)) {
        if (v === null || v === undefined) delete (env as Record<string, unknown>)[k];
      }
    }
  }
  for (const kind of ['secrets', 'configs'] as const) {
    for (const [name, def] of Object.entries(model[kind] ?? {})) {
      const where = `${kind.slice(0, -1)} "${name}"`;
      if (def.file) def.file = remoteFor(def.file, where);
      if (typeof def.environment === 'string' && isWithheldVariable(def.environment)) {
        withheld.push(`${where}: environment ${def.environment}`);
      }
    }
  }
  if (withheld.length > 0) {
    // Not an outside path: allow-outside-paths does not open the action's own credentials to the services.
    throw new ActionError(
      `The compose project reads variables that hold the action's inputs or the runner's tokens:\n  - ${withheld.join('\n  - ')}`,
      {
        hint: "INPUT_* and ACTIONS_* variables are never given to compose. Pass the value under another name in the step's `env:`.",
      },
    );
  }
  if (problems.length > 0) throw outsideError(problems);
  return { model, remoteDir, uploads: [...uploads].sort() };
}
