import type { Log } from '../util/log.js';
import { runProcess } from '../util/process.js';
import { composeDockerConfig } from './docker-config.js';
import {
  type ComposeModel,
  type ComposeProject,
  composeEnv,
  composeFilePaths,
  filesReadByCompose,
  loadComposeModel,
  projectFiles,
} from './model.js';
import { type ComposePolicy, checkComposePolicy } from './policy.js';
import { composeFileReferences } from './references.js';
import { checkRunnerReads, rewriteForDockerHost } from './rewrite.js';
import { checkUploadRoots } from './upload.js';
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
 * Runs before anything is applied: a compose file that does not parse, a path outside the working directory or
 * a service the compose policy refuses fails the run while the cluster is untouched, and the published ports are
 * known to the template. `docker compose config` reads files only, so no Docker engine is needed yet.
 */
export async function prepareCompose(
  project: ComposeProject,
  opts: { allowOutside: boolean; log: Log; policy?: ComposePolicy; signal?: AbortSignal },
): Promise<PreparedCompose> {
  // The job's Docker config may name a current context (or builder) that compose would load even to read files.
  const config = await composeDockerConfig(composeEnv(process.env), { log: opts.log, logins: false });
  try {
    return await prepareWith(project, config.env, opts);
  } finally {
    await config.remove();
  }
}

async function prepareWith(
  project: ComposeProject,
  env: NodeJS.ProcessEnv,
  opts: { allowOutside: boolean; log: Log; policy?: ComposePolicy; signal?: AbortSignal },
): Promise<PreparedCompose> {
  const rewriteOpts = {
    workingDirectory: project.workingDirectory,
    envId: project.projectName,
    allowOutside: opts.allowOutside,
  };
  // Before compose reads them: the project's own files, then the env files that reading the model would read.
  checkRunnerReads(projectFiles(project), rewriteOpts);
  // The other compose files these name (include, extends), and theirs in turn.
  checkRunnerReads(composeFileReferences(composeFilePaths(project), project.workingDirectory), rewriteOpts);
  // The model is read alongside the check of the env files it reads (each `docker compose config` takes about
  // 0.3 s): what it read is only looked at once the check has passed, and it is stopped when the check fails.
  const reading = new AbortController();
  const signal = opts.signal ? AbortSignal.any([opts.signal, reading.signal]) : reading.signal;
  const modelRead = loadComposeModel(project, env, runProcess, signal);
  modelRead.catch(() => {});
  try {
    checkRunnerReads(await filesReadByCompose(project, env, runProcess, opts.signal), rewriteOpts);
  } catch (err) {
    reading.abort();
    await modelRead.catch(() => {});
    throw err;
  }
  const model = await modelRead;
  opts.log.info(`Services: ${Object.keys(model.services).join(', ')}`);
  checkComposePolicy(model, opts.policy ?? 'permissive');
  const rewritten = rewriteForDockerHost(model, rewriteOpts);
  await checkUploadRoots({
    workingDirectory: project.workingDirectory,
    roots: rewritten.uploads,
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
