/**
 * The Docker bridge's deploy: tunnel → upload → compose build and up, on the environment's docker host.
 *
 * An `up` that finds nothing changed since the environment's last successful deploy (compose/fingerprint.ts), with its
 * services running, skips the upload, the build and `up`: a re-run, or a push that touched no file of the
 * project, costs a few requests.
 *
 * Faults during it: a Docker connection that the tunnel lost mid-stream fails the compose command that used
 * it, so a compose step that failed while the tunnel counted a dropped connection is run once more (build and
 * up are idempotent). A docker host pod that was replaced, or whose containers restarted, during the deploy
 * took dockerd (and perhaps the uploaded files) with it: the pod is found again once it is ready, and the
 * deploy runs once more from the Docker connection on (bridge/docker-host.ts).
 */
import { deployFingerprint, STAMP } from '../compose/fingerprint.js';
import { composeEnv } from '../compose/model.js';
import type { PreparedCompose } from '../compose/prepare.js';
import { type ComposeRunOptions, type ComposeStepRunner, composeUp } from '../compose/run.js';
import { type Manifest, planUpload, tarStream, type UploadPlan } from '../compose/upload.js';
import { type DockerHostPod, dockerHostPod } from '../environment/pods.js';
import {
  DEFAULT_STORAGE_SIZE,
  diskFullError,
  podEvictedForSize,
  type StorageSize,
  watchDiskFull,
} from '../environment/storage.js';
import { ActionError, errorMessage } from '../errors.js';
import type { KubeClient } from '../kube/client.js';
import { openTunnel, type Tunnel } from '../kube/stream/port-forward.js';
import type { Log } from '../util/log.js';
import { copyTarToPod } from './copy.js';
import { waitForDocker } from './docker-api.js';
import { type PodWatch, readyDockerHost, watchPod } from './docker-host.js';
import { pruneDocker } from './prune.js';
import {
  type ContainerSnapshot,
  composeRecreate,
  leftAsTheyWere,
  servicesBinding,
  trySnapshot,
} from './refresh.js';
import { containersDiffer } from './running.js';
import { MANIFEST, PENDING, readDeployState, recordDeploy } from './state.js';

/** Above this, the upload warns and names the largest directories (node_modules and build output, usually). */
const LARGE_UPLOAD_BYTES = 100 * 1024 * 1024;

export interface DeployComposeArgs {
  namespace: string;
  deploymentName: string;
  prepared: PreparedCompose;
  allowOutside: boolean;
  readyTimeoutMs: number;
  /** The docker data volume's size: what the prune keeps, and what a disk-full error names. */
  storage?: StorageSize;
  log: Log;
  /** Runs a phase (a log group in the action). */
  phase: <T>(name: string, fn: () => Promise<T>) => Promise<T>;
}

export interface DeployComposeResult {
  uploadedBytes: number;
  uploadedFiles: number;
  skippedFiles: number;
  /** Nothing had changed since the last deploy: no upload, build or `up` ran. */
  upToDate: boolean;
}

/** tunnel → upload → compose build and up, on the environment's docker host; once more on a new pod. */
export async function deployCompose(
  client: KubeClient,
  deployArgs: DeployComposeArgs,
): Promise<DeployComposeResult> {
  const disk = watchDiskFull(deployArgs.log);
  const args = { ...deployArgs, log: disk.log };
  const { log, namespace } = args;
  let pod = await dockerHostPod(client, { namespace, deploymentName: args.deploymentName });
  for (let round = 1; ; round++) {
    const watch = await watchPod(client, namespace, pod.name);
    const tunnel = await openTunnel(client, { namespace, pod: pod.name, log });
    let failure: unknown;
    try {
      return await deployRound({ ...args, client, pod, tunnel, watch });
    } catch (err) {
      failure = err;
    } finally {
      await tunnel.close();
    }
    const change = round === 1 ? await watch.changed() : undefined;
    if (!change) throw await diskFullOr(failure, client, args, pod.name, disk.lines());
    log.warning(
      `${change} during the deploy (${errorMessage(failure).split('\n')[0]}); waiting for the docker host again, then deploying once more.`,
    );
    pod = await readyDockerHost(client, args);
  }
}

/** What each step of a round works with: the docker host pod, and the tunnel to its dockerd. */
interface OnHost extends DeployComposeArgs {
  client: KubeClient;
  pod: DockerHostPod;
  tunnel: Tunnel;
  watch: PodWatch;
}

/** One round on one docker host pod, its steps in data-path order. */
async function deployRound(host: OnHost): Promise<DeployComposeResult> {
  await connectDocker(host);
  const upload = await uploadFiles(host);
  if (upload.upToDate) return summary(upload);
  const compose = composeThroughTunnel(host);
  const bound = await boundServices(host, upload.changed);
  await host.phase('Build and start the services', () => composeUp(compose));
  await recreateStale(host, compose, bound);
  await recordDeploy(host.client, host.namespace, host.pod, host.prepared, upload.plan, host.log);
  await pruneDocker(host.tunnel.url, host.storage ?? DEFAULT_STORAGE_SIZE, host.log);
  return summary(upload);
}

function connectDocker(host: OnHost): Promise<void> {
  const { tunnel, log } = host;
  return host.phase('Connect to Docker', async () => {
    const v = await waitForDocker(tunnel, { timeoutMs: host.readyTimeoutMs, log });
    log.info(`Docker ${v.version ?? ''} in pod ${host.pod.name}, through ${tunnel.url}`);
  });
}

/** What the upload leaves for the steps after it. */
interface Upload {
  plan: UploadPlan;
  /** Nothing changed since the last deploy: nothing was sent, and there is nothing more to do. */
  upToDate: boolean;
  /** The files changed since the last successful deploy, those of a deploy that failed after its upload too. */
  changed: string[];
}

/** The project's files, as far as they changed since the last upload, to the pod. */
function uploadFiles(host: OnHost): Promise<Upload> {
  const { client, namespace, pod, prepared, tunnel, log } = host;
  return host.phase('Upload the files', async () => {
    const previous = await readDeployState(client, namespace, pod, prepared.remoteDir, log);
    const plan = await planFiles(host, previous.manifest);
    if (await unchangedSinceLastDeploy(previous.stamp, plan, prepared, tunnel.url, log)) {
      log.info(
        `Nothing changed since the last deploy of this environment (${plan.skippedFiles} files, the compose model and the build contexts are as they were) and its services run.`,
      );
      return { plan, upToDate: true, changed: [] };
    }
    const changed = [...new Set([...(previous.pending ?? []), ...plan.sync.changed])].sort();
    await sendFiles(host, plan, changed);
    return { plan, upToDate: false, changed };
  });
}

async function planFiles(host: OnHost, previous: Manifest | undefined): Promise<UploadPlan> {
  const plan = await planUpload({
    workingDirectory: host.prepared.project.workingDirectory,
    roots: host.prepared.uploads,
    previous,
    allowOutside: host.allowOutside,
  });
  if (plan.totalBytes > LARGE_UPLOAD_BYTES) {
    host.log.warning(
      `The compose project binds ${(plan.totalBytes / 2 ** 20).toFixed(0)} MiB of files into its services; the largest: ${plan.largest.map((l) => `${l.dir} (${(l.bytes / 2 ** 20).toFixed(1)} MiB)`).join(', ')}.`,
    );
  }
  return plan;
}

/**
 * True when this deploy would change nothing: no file to upload, the fingerprint the one the last successful
 * deploy recorded, and the containers as `up` left them (one may have exited or turned unhealthy since).
 */
async function unchangedSinceLastDeploy(
  stamp: string | undefined,
  plan: UploadPlan,
  prepared: PreparedCompose,
  dockerHost: string,
  log: Log,
): Promise<boolean> {
  if (!stamp || plan.send.some((e) => e.type === 'file')) return false;
  if ((await deployFingerprint(prepared.model, plan)) !== stamp) return false;
  const differs = await containersDiffer(dockerHost, prepared.project.projectName, prepared.model).catch(
    (err: unknown) => `the containers could not be listed (${errorMessage(err)})`,
  );
  if (differs) log.info(`Nothing changed since the last deploy, but ${differs}: deploying again.`);
  return differs === undefined;
}

async function sendFiles(host: OnHost, plan: UploadPlan, changed: string[]): Promise<void> {
  const { pod, log } = host;
  // A v4-only cluster gets the archive twice (measured, then sent): tar() must give a fresh stream. The
  // archive empties the stamp of the last deploy: from here on the services may no longer match it.
  await copyTarToPod(host.client, {
    namespace: host.namespace,
    pod: pod.name,
    container: pod.container,
    dir: host.prepared.remoteDir,
    tar: () => tarStream(plan, MANIFEST, [STAMP], { [PENDING]: JSON.stringify(changed) }),
    log,
  });
  const removed = plan.sync.removed.length;
  log.info(
    `Uploaded ${filesIn(plan)} files (${plan.sendBytes} bytes); ${plan.skippedFiles} unchanged files skipped${removed ? `; ${removed} files no longer in the project removed` : ''}.`,
  );
}

function filesIn(plan: UploadPlan): number {
  return plan.send.filter((e) => e.type === 'file').length;
}

function summary({ plan, upToDate }: Upload): DeployComposeResult {
  return {
    uploadedBytes: upToDate ? 0 : plan.sendBytes,
    uploadedFiles: upToDate ? 0 : filesIn(plan),
    skippedFiles: plan.skippedFiles,
    upToDate,
  };
}

/** The compose commands reach dockerd through the tunnel; one that failed on a dropped connection runs again. */
function composeThroughTunnel(host: OnHost): ComposeRunOptions {
  const { prepared, tunnel, log } = host;
  return {
    project: prepared.project,
    model: prepared.model,
    env: composeEnv(process.env, tunnel.url),
    log,
    step: againAfterDrop(tunnel, log, () => host.watch.changed()),
  };
}

/** The services that bind a changed file, and their containers before `up`. */
interface Bound {
  services: string[];
  before?: ContainerSnapshot;
}

async function boundServices(host: OnHost, changed: string[]): Promise<Bound> {
  const { prepared } = host;
  const services = servicesBinding(prepared.model, prepared.remoteDir, changed);
  const before = services.length
    ? await trySnapshot(host.tunnel.url, prepared.project.projectName, host.log)
    : undefined;
  return { services, before };
}

/**
 * Of the services that bind a changed file, those `up` left as they were still read the old files: they are
 * recreated. Those that `up` created or started read their files just now.
 */
async function recreateStale(host: OnHost, compose: ComposeRunOptions, bound: Bound): Promise<void> {
  const { services } = bound;
  const { log } = host;
  if (!services.length) return;
  const after = await trySnapshot(host.tunnel.url, host.prepared.project.projectName, log);
  const stale = after ? leftAsTheyWere(services, bound.before, after) : services;
  if (!stale.length) return;
  await host.phase('Recreate the services whose files changed', async () => {
    log.info(
      `Bind-mounted files of ${stale.join(', ')} changed: recreating ${stale.length > 1 ? 'them' : 'it'}.`,
    );
    await composeRecreate(compose, stale);
  });
}

/** A failure with a full disk behind it says so (the lines Docker logged, the pod's eviction); others as they are. */
async function diskFullOr(
  failure: unknown,
  client: KubeClient,
  args: DeployComposeArgs,
  podName: string,
  logged: string[],
): Promise<unknown> {
  const said = [...logged, ...(await podEvictedForSize(client, args.namespace, podName))];
  return diskFullError(failure, args.storage ?? DEFAULT_STORAGE_SIZE, said) ?? failure;
}

/**
 * A compose step that failed while the tunnel lost a connection is run once more: the failure is most likely
 * the lost connection's. Not when the pod itself changed: the caller starts over on the new one.
 */
export function againAfterDrop(
  tunnel: Pick<Tunnel, 'failures' | 'lastError'>,
  log: Log,
  podChanged: () => Promise<string | undefined> = async () => undefined,
): ComposeStepRunner {
  return async (step, fn) => {
    const before = tunnel.failures();
    try {
      await fn();
    } catch (err) {
      const dropped = tunnel.failures() - before;
      if (dropped === 0 || (await podChanged())) throw err;
      const last = tunnel.lastError();
      const why = last instanceof ActionError ? last.message : last?.message;
      log.info(
        `docker compose ${step} failed while ${dropped} connection(s) of the tunnel to the Docker host failed${why ? ` (last: ${why.split('\n')[0]})` : ''}; running it once more.`,
      );
      await fn();
    }
  };
}
