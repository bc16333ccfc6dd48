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
 * deploy runs once more from the Docker connection on.
 */
import { deployFingerprint, STAMP } from '../compose/fingerprint.js';
import { composeEnv } from '../compose/model.js';
import type { PreparedCompose } from '../compose/prepare.js';
import { type ComposeStepRunner, composeUp } from '../compose/run.js';
import { planUpload, tarStream, type UploadPlan } from '../compose/upload.js';
import { type DockerHostPod, dockerHostPod, PodNotFoundError } from '../environment/pods.js';
import {
  DEFAULT_STORAGE_SIZE,
  diskFullError,
  podEvictedForSize,
  type StorageSize,
  watchDiskFull,
} from '../environment/storage.js';
import { waitForRollout } from '../environment/wait.js';
import { ActionError, errorMessage } from '../errors.js';
import type { KubeClient } from '../kube/client.js';
import { getObject } from '../kube/objects.js';
import { rec } from '../kube/shapes.js';
import { openTunnel, type Tunnel } from '../kube/stream/port-forward.js';
import type { KubeObject } from '../kube/types.js';
import type { Log } from '../util/log.js';
import { sleep } from '../util/sleep.js';
import { copyTarToPod } from './copy.js';
import { waitForDocker } from './docker-api.js';
import { pruneDocker } from './prune.js';
import { composeRecreate, leftAsTheyWere, servicesBinding, trySnapshot } from './refresh.js';
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

/** tunnel → upload → compose build and up, on the environment's docker host. */
export async function deployCompose(
  client: KubeClient,
  deployArgs: DeployComposeArgs,
): Promise<DeployComposeResult> {
  const disk = watchDiskFull(deployArgs.log);
  const args = { ...deployArgs, log: disk.log };
  const { log, namespace } = args;
  let pod = await dockerHostPod(client, { namespace, deploymentName: args.deploymentName });
  for (let round = 1; ; round++) {
    const seen = await podIdentity(client, namespace, pod.name);
    const tunnel = await openTunnel(client, { namespace, pod: pod.name, log });
    let failure: unknown;
    try {
      return await deployTo(client, args, pod, tunnel, () => podChange(client, namespace, pod.name, seen));
    } catch (err) {
      failure = err;
    } finally {
      await tunnel.close();
    }
    const change = round === 1 ? await podChange(client, namespace, pod.name, seen) : undefined;
    if (!change) {
      const said = [...disk.lines(), ...(await podEvictedForSize(client, namespace, pod.name))];
      throw diskFullError(failure, args.storage ?? DEFAULT_STORAGE_SIZE, said) ?? failure;
    }
    log.warning(
      `${change} during the deploy (${errorMessage(failure).split('\n')[0]}); waiting for the docker host again, then deploying once more.`,
    );
    pod = await readyDockerHost(client, args);
  }
}

async function deployTo(
  client: KubeClient,
  args: DeployComposeArgs,
  pod: DockerHostPod,
  tunnel: Tunnel,
  podChanged: () => Promise<string | undefined>,
): Promise<DeployComposeResult> {
  const { log, phase, namespace } = args;
  await phase('Connect to Docker', async () => {
    const v = await waitForDocker(tunnel, { timeoutMs: args.readyTimeoutMs, log });
    log.info(`Docker ${v.version ?? ''} in pod ${pod.name}, through ${tunnel.url}`);
  });
  const env = composeEnv(process.env, tunnel.url);
  const { prepared: rewritten } = args;

  let changed: string[] = [];
  const { plan, upToDate } = await phase('Upload the files', async () => {
    const previous = await readDeployState(client, namespace, pod, rewritten.remoteDir, log);
    const plan = await planUpload({
      workingDirectory: rewritten.project.workingDirectory,
      roots: rewritten.uploads,
      previous: previous.manifest,
      allowOutside: args.allowOutside,
    });
    if (plan.totalBytes > LARGE_UPLOAD_BYTES) {
      log.warning(
        `The compose project binds ${(plan.totalBytes / 2 ** 20).toFixed(0)} MiB of files into its services; the largest: ${plan.largest.map((l) => `${l.dir} (${(l.bytes / 2 ** 20).toFixed(1)} MiB)`).join(', ')}.`,
      );
    }
    if (await unchangedSinceLastDeploy(previous.stamp, plan, rewritten, tunnel.url, log)) {
      log.info(
        `Nothing changed since the last deploy of this environment (${plan.skippedFiles} files, the compose model and the build contexts are as they were) and its services run.`,
      );
      return { plan, upToDate: true };
    }
    changed = [...new Set([...(previous.pending ?? []), ...plan.sync.changed])].sort();
    // A v4-only cluster gets the archive twice (measured, then sent): tar() must give a fresh stream. The
    // archive empties the stamp of the last deploy: from here on the services may no longer match it.
    await copyTarToPod(client, {
      namespace,
      pod: pod.name,
      container: pod.container,
      dir: rewritten.remoteDir,
      tar: () => tarStream(plan, MANIFEST, [STAMP], { [PENDING]: JSON.stringify(changed) }),
      log,
    });
    const files = plan.send.filter((e) => e.type === 'file').length;
    const removed = plan.sync.removed.length;
    log.info(
      `Uploaded ${files} files (${plan.sendBytes} bytes); ${plan.skippedFiles} unchanged files skipped${removed ? `; ${removed} files no longer in the project removed` : ''}.`,
    );
    return { plan, upToDate: false };
  });

  const result = {
    uploadedBytes: upToDate ? 0 : plan.sendBytes,
    uploadedFiles: upToDate ? 0 : plan.send.filter((e) => e.type === 'file').length,
    skippedFiles: plan.skippedFiles,
    upToDate,
  };
  if (upToDate) return result;
  const compose = {
    project: rewritten.project,
    model: rewritten.model,
    env,
    log,
    step: againAfterDrop(tunnel, log, podChanged),
  };
  const bound = servicesBinding(rewritten.model, rewritten.remoteDir, changed);
  const before = bound.length ? await trySnapshot(tunnel.url, rewritten.project.projectName, log) : undefined;
  await phase('Build and start the services', () => composeUp(compose));
  if (bound.length) {
    // Those that `up` created or started read their files just now.
    const after = await trySnapshot(tunnel.url, rewritten.project.projectName, log);
    const stale = after ? leftAsTheyWere(bound, before, after) : bound;
    if (stale.length) {
      await phase('Recreate the services whose files changed', async () => {
        log.info(
          `Bind-mounted files of ${stale.join(', ')} changed: recreating ${stale.length > 1 ? 'them' : 'it'}.`,
        );
        await composeRecreate(compose, stale);
      });
    }
  }
  await recordDeploy(client, namespace, pod, rewritten, plan, log);
  await pruneDocker(tunnel.url, args.storage ?? DEFAULT_STORAGE_SIZE, log);
  return result;
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

/** What tells a replaced or restarted pod: its uid, and its containers' restarts. */
interface PodIdentity {
  uid?: string;
  restarts: number;
}

function restartsOf(p: KubeObject): number {
  const statuses = rec(p.status)?.containerStatuses;
  if (!Array.isArray(statuses)) return 0;
  return statuses.reduce((n: number, c: unknown) => {
    const count = rec(c)?.restartCount;
    return n + (typeof count === 'number' ? count : 0);
  }, 0);
}

async function podIdentity(
  client: KubeClient,
  namespace: string,
  name: string,
): Promise<PodIdentity | undefined> {
  try {
    const p = await getObject(client, { apiVersion: 'v1', kind: 'Pod' }, namespace, name);
    return p && { uid: p.metadata.uid, restarts: restartsOf(p) };
  } catch {
    // Without a reading to compare with, a later change cannot be told: the deploy just goes without it.
    return undefined;
  }
}

/** Why the pod is not the one the deploy started on any more, or undefined when it still is (or cannot tell). */
async function podChange(
  client: KubeClient,
  namespace: string,
  name: string,
  seen: PodIdentity | undefined,
): Promise<string | undefined> {
  if (!seen) return undefined;
  let p: KubeObject | undefined;
  try {
    p = await getObject(client, { apiVersion: 'v1', kind: 'Pod' }, namespace, name);
  } catch {
    return undefined;
  }
  if (!p) return `The docker host pod ${name} was deleted`;
  if (p.metadata.uid !== seen.uid) return `The docker host pod ${name} was replaced`;
  if (p.metadata.deletionTimestamp) return `The docker host pod ${name} is being deleted`;
  const restarts = restartsOf(p);
  if (restarts > seen.restarts)
    return `A container of the docker host pod ${name} restarted (${restarts - seen.restarts} time(s))`;
  return undefined;
}

/** The Deployment rolled out and its pod Ready again, within the ready timeout. */
async function readyDockerHost(client: KubeClient, args: DeployComposeArgs): Promise<DockerHostPod> {
  const deadline = Date.now() + args.readyTimeoutMs;
  for (;;) {
    await waitForRollout(client, {
      namespace: args.namespace,
      name: args.deploymentName,
      timeoutMs: Math.max(1000, deadline - Date.now()),
      log: args.log,
    });
    try {
      return await dockerHostPod(client, { namespace: args.namespace, deploymentName: args.deploymentName });
    } catch (err) {
      // The rollout status can lag behind a pod that just went away.
      if (!(err instanceof PodNotFoundError) || Date.now() >= deadline) throw err;
      await sleep(1000);
    }
  }
}
