/**
 * What the docker host keeps of past deploys, next to the uploaded files: the manifest of the last upload, the
 * fingerprint of the last successful deploy (compose/fingerprint.ts) and the changes uploaded since (compose/sync.ts).
 */
import type { Writable } from 'node:stream';
import { deployFingerprint, STAMP } from '../compose/fingerprint.js';
import type { PreparedCompose } from '../compose/prepare.js';
import type { Manifest, UploadPlan } from '../compose/upload.js';
import type { DockerHostPod } from '../environment/pods.js';
import { errorMessage } from '../errors.js';
import type { KubeClient } from '../kube/client.js';
import { retryOpening } from '../kube/retry.js';
import { type ExecResult, execInPod } from '../kube/stream/exec.js';
import type { Log } from '../util/log.js';
import { textSink } from '../util/sink.js';

export const MANIFEST = '.preevy-upload-manifest.json';
/**
 * The files changed by uploads since the last successful deploy (JSON, relative names): a deploy that failed
 * after its upload leaves them for the next one, whose services bound to them must still be recreated.
 */
export const PENDING = '.preevy-changed.json';

/** The fingerprint of a successful deploy, for the next `up` to compare with. Best-effort. */
export async function recordDeploy(
  client: KubeClient,
  namespace: string,
  pod: DockerHostPod,
  prepared: PreparedCompose,
  plan: UploadPlan,
  log: Log,
): Promise<void> {
  try {
    const fingerprint = await deployFingerprint(prepared.model, plan);
    if (!fingerprint) return;
    // The pending changes go first: a stamp must never stand beside changes it did not deploy.
    const r = await shInPod(client, namespace, pod, {
      script: 'rm -f "$3" && printf %s "$1" > "$2"',
      args: [fingerprint, `${prepared.remoteDir}/${STAMP}`, `${prepared.remoteDir}/${PENDING}`],
    });
    if (r.exitCode !== 0)
      log.debug(`recording the deploy's fingerprint: exit ${r.exitCode}: ${r.stderrTail}`);
  } catch (err) {
    log.debug(`recording the deploy's fingerprint: ${errorMessage(err)}`);
  }
}

/** Between the two files in readDeployState's output: neither JSON nor a hex fingerprint holds it. */
const SEPARATOR = '\n--preevy--\n';

/**
 * The manifest of the last upload, the fingerprint of the last successful deploy and the changes not deployed
 * yet, in one exec.
 */
export async function readDeployState(
  client: KubeClient,
  namespace: string,
  pod: { name: string; container: string },
  dir: string,
  log: Log,
): Promise<{ manifest?: Manifest; stamp?: string; pending?: string[] }> {
  let out = textSink();
  try {
    await retryOpening(
      `read ${dir}/${MANIFEST} in pod ${pod.name}`,
      () => {
        out = textSink();
        return shInPod(client, namespace, pod, {
          script:
            'cat "$1/$2" 2>/dev/null; printf "$4"; cat "$1/$3" 2>/dev/null; printf "$4"; cat "$1/$5" 2>/dev/null; exit 0',
          args: [dir, MANIFEST, STAMP, SEPARATOR.replaceAll('\n', '\\n'), PENDING],
          stdout: out.stream,
        });
      },
      { log },
    );
  } catch {
    // A damaged state only costs a full upload and deploy.
    return {};
  }
  const parts = out.text().split(SEPARATOR);
  if (parts.length !== 3) return {};
  const [manifestText = '', stampText = '', pendingText = ''] = parts;
  const json = (t: string): unknown => {
    try {
      return t ? JSON.parse(t) : undefined;
    } catch {
      return undefined;
    }
  };
  const manifest = json(manifestText) as Manifest | undefined;
  const pending = json(pendingText);
  const stamp = stampText.trim();
  return {
    manifest,
    stamp: /^[0-9a-f]{64}$/.test(stamp) ? stamp : undefined,
    pending: Array.isArray(pending) ? pending.filter((n): n is string => typeof n === 'string') : undefined,
  };
}

/** A shell script in the docker host's container, its arguments passed as `$1`… rather than spliced into it. */
function shInPod(
  client: KubeClient,
  namespace: string,
  pod: { name: string; container: string },
  run: { script: string; args: string[]; stdout?: Writable },
): Promise<ExecResult> {
  return execInPod(client, {
    namespace,
    pod: pod.name,
    container: pod.container,
    command: ['sh', '-c', run.script, 'sh', ...run.args],
    ...(run.stdout ? { stdout: run.stdout } : {}),
  });
}
