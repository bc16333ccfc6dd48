import { existsSync } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import type { KubeClient } from '../kube/client.js';
import { copyTarToPod } from '../kube/copy.js';
import { execInPod } from '../kube/exec.js';
import type { Log } from '../kube/log.js';
import { dockerHostPod } from '../kube/pods.js';
import { openTunnel, waitForDocker } from '../kube/tunnel.js';
import { cleanDockerEnv } from '../util/process.js';
import type { ComposeProject } from './model.js';
import type { PreparedCompose } from './prepare.js';
import { composeUp } from './run.js';
import { type Manifest, planUpload, tarStream } from './upload.js';

const MANIFEST = '.preevy-upload-manifest.json';
/** Above this, the upload warns and names the largest directories (node_modules and build output, usually). */
const LARGE_UPLOAD_BYTES = 100 * 1024 * 1024;

export interface DeployComposeArgs {
  namespace: string;
  deploymentName: string;
  prepared: PreparedCompose;
  allowOutside: boolean;
  readyTimeoutMs: number;
  log: Log;
  /** Runs a phase (a log group in the action). */
  phase: <T>(name: string, fn: () => Promise<T>) => Promise<T>;
}

export interface DeployComposeResult {
  uploadedBytes: number;
  uploadedFiles: number;
  skippedFiles: number;
}

/** Compose's own lookup, so "no compose project" can be told apart from a broken one. */
export function hasComposeProject(project: ComposeProject): boolean {
  if (project.files.length > 0) return true;
  return ['compose.yaml', 'compose.yml', 'docker-compose.yaml', 'docker-compose.yml'].some((f) =>
    existsSync(path.join(project.workingDirectory, f)),
  );
}

function collect(): { stream: Writable; text: () => string } {
  const chunks: Buffer[] = [];
  return {
    stream: new Writable({
      write(chunk: Buffer, _enc, cb) {
        chunks.push(chunk);
        cb();
      },
    }),
    text: () => Buffer.concat(chunks).toString('utf8'),
  };
}

/** tunnel → upload → compose build and up, on the environment's docker host. */
export async function deployCompose(
  client: KubeClient,
  args: DeployComposeArgs,
): Promise<DeployComposeResult> {
  const { log, phase, namespace } = args;
  const pod = await dockerHostPod(client, { namespace, deploymentName: args.deploymentName });
  const tunnel = await openTunnel(client, { namespace, pod: pod.name, log });
  try {
    await phase('Connect to Docker', async () => {
      const v = await waitForDocker(tunnel, { timeoutMs: args.readyTimeoutMs, log });
      log.info(`Docker ${v.version ?? ''} in pod ${pod.name}, through ${tunnel.url}`);
    });
    const env = cleanDockerEnv(process.env, tunnel.url);
    const { prepared: rewritten } = args;

    const plan = await phase('Upload the files', async () => {
      const previous = await readManifest(client, namespace, pod, `${rewritten.remoteDir}/${MANIFEST}`);
      const plan = await planUpload({
        workingDirectory: rewritten.project.workingDirectory,
        roots: rewritten.uploads,
        previous,
        allowOutside: args.allowOutside,
      });
      if (plan.totalBytes > LARGE_UPLOAD_BYTES) {
        log.warning(
          `The compose project binds ${(plan.totalBytes / 2 ** 20).toFixed(0)} MiB of files into its services; the largest: ${plan.largest.map((l) => `${l.dir} (${(l.bytes / 2 ** 20).toFixed(1)} MiB)`).join(', ')}.`,
        );
      }
      // A v4-only cluster gets the archive twice (measured, then sent): tar() must give a fresh stream.
      await copyTarToPod(client, {
        namespace,
        pod: pod.name,
        container: pod.container,
        dir: rewritten.remoteDir,
        tar: () => tarStream(plan, MANIFEST),
        log,
      });
      const files = plan.send.filter((e) => e.type === 'file').length;
      log.info(
        `Uploaded ${files} files (${plan.sendBytes} bytes); ${plan.skippedFiles} unchanged files skipped.`,
      );
      return plan;
    });

    await phase('Build and start the services', () =>
      composeUp({ project: rewritten.project, model: rewritten.model, env, log }),
    );
    return {
      uploadedBytes: plan.sendBytes,
      uploadedFiles: plan.send.filter((e) => e.type === 'file').length,
      skippedFiles: plan.skippedFiles,
    };
  } finally {
    await tunnel.close();
  }
}

async function readManifest(
  client: KubeClient,
  namespace: string,
  pod: { name: string; container: string },
  file: string,
): Promise<Manifest | undefined> {
  const out = collect();
  try {
    const r = await execInPod(client, {
      namespace,
      pod: pod.name,
      container: pod.container,
      command: ['cat', file],
      stdout: out.stream,
    });
    return r.exitCode === 0 ? (JSON.parse(out.text()) as Manifest) : undefined;
  } catch {
    // A first deploy has none, and a damaged one only costs a full upload.
    return undefined;
  }
}
