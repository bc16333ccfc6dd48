import path from 'node:path';
import { ActionError } from '../errors.js';
import type { ComposeModel } from './model.js';

/** Where the project's files live inside the docker host's pod (an emptyDir in the bundled templates). */
export const REMOTE_ROOT = '/var/lib/preevy/projects';

/** The Docker host's own socket: a bind of it keeps pointing at the host, it is never uploaded. */
const HOST_SOCKETS = new Set(['/var/run/docker.sock', '/run/docker.sock']);

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

/**
 * Compose runs on the runner and talks to the docker host through the tunnel, so everything compose resolves
 * locally (build contexts, env files) just works; only bind sources and file secrets/configs are read by the
 * Docker engine itself, from its own filesystem, and so must be uploaded and pointed at there.
 */
export function rewriteForDockerHost(input: ComposeModel, opts: RewriteOptions): RewriteResult {
  const model = structuredClone(input);
  const remoteDir = path.posix.join(REMOTE_ROOT, opts.envId);
  const uploads = new Set<string>();
  const problems: string[] = [];

  const relativeOf = (abs: string, where: string): string | undefined => {
    const rel = path.relative(opts.workingDirectory, abs);
    if (rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel))) return rel;
    if (opts.allowOutside) return undefined;
    problems.push(`${where}: ${abs} is outside the working directory ${opts.workingDirectory}`);
    return undefined;
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
    if (service.build?.context && !/^[a-z]+:\/\//.test(service.build.context)) {
      relativeOf(service.build.context, `service "${name}" build.context`);
    }
    for (const v of service.volumes ?? []) {
      if (v.type !== 'bind' || !v.source) continue;
      if (HOST_SOCKETS.has(v.source)) continue;
      v.source = remoteFor(v.source, `service "${name}" volume ${v.target}`);
    }
  }
  for (const kind of ['secrets', 'configs'] as const) {
    for (const [name, def] of Object.entries(model[kind] ?? {})) {
      if (def.file) def.file = remoteFor(def.file, `${kind.slice(0, -1)} "${name}"`);
    }
  }
  if (problems.length > 0) {
    throw new ActionError(
      `The compose project reads files outside its working directory:\n  - ${problems.join('\n  - ')}`,
      {
        hint: 'Move them into the working directory, or set `allow-outside-paths: true` if this repository trusts its PRs.',
      },
    );
  }
  return { model, remoteDir, uploads: [...uploads].sort() };
}
