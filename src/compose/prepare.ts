import type { Log } from '../kube/log.js';
import { cleanDockerEnv } from '../util/process.js';
import { type ComposeModel, type ComposeProject, loadComposeModel } from './model.js';
import { rewriteForDockerHost } from './rewrite.js';
import { pinPorts, type ServicePort } from './urls.js';

/** The compose project as it will run on the docker host: read, rewritten and with its ports pinned. */
export interface PreparedCompose {
  project: ComposeProject;
  /** Interpolated (it may hold secrets): passed to compose on stdin, never written to disk. */
  model: ComposeModel;
  /** The environment's directory in the docker host. */
  remoteDir: string;
  /** Paths relative to the working directory to upload. */
  uploads: string[];
  ports: ServicePort[];
}

/**
 * Runs before anything is applied: a compose file that does not parse, or a bind mount outside the working
 * directory, fails the run while the cluster is untouched, and the published ports are known to the template.
 * `docker compose config` reads files only, so no Docker engine is needed yet.
 */
export async function prepareCompose(
  project: ComposeProject,
  opts: { allowOutside: boolean; log: Log },
): Promise<PreparedCompose> {
  const model = await loadComposeModel(project, cleanDockerEnv(process.env));
  opts.log.info(`Services: ${Object.keys(model.services).join(', ')}`);
  const rewritten = rewriteForDockerHost(model, {
    workingDirectory: project.workingDirectory,
    envId: project.projectName,
    allowOutside: opts.allowOutside,
  });
  const pinned = pinPorts(rewritten.model);
  return {
    project,
    model: pinned.model,
    remoteDir: rewritten.remoteDir,
    uploads: rewritten.uploads,
    ports: pinned.ports,
  };
}
