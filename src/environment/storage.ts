/**
 * The environment's disk: the size of its docker data volume (input `storage-size`), the share of it the
 * build cache may keep after a deploy, and the error a deploy that filled it gives.
 */
import { ActionError, errorMessage } from '../errors.js';
import type { KubeClient } from '../kube/client.js';
import { getObject } from '../kube/objects.js';
import { rec } from '../kube/shapes.js';
import type { KubeObject } from '../kube/types.js';
import type { Log } from '../util/log.js';
import { formatBytes } from '../util/quantity.js';

export interface StorageSize {
  /** As the user wrote it (a Kubernetes quantity): what the template puts in `sizeLimit`. */
  size: string;
  bytes: number;
}

export const DEFAULT_STORAGE_SIZE: StorageSize = { size: '20Gi', bytes: 20 * 2 ** 30 };

/**
 * The build cache kept after a deploy: half the volume. The cache that makes the next push fast is the layers
 * of the last build, about the size of the images it made; the other half holds those images, the base
 * images, the containers' writable layers and their volumes.
 */
export const CACHE_SHARE = 0.5;

export function cacheKeepBytes(storage: StorageSize): number {
  return Math.floor(storage.bytes * CACHE_SHARE);
}

/**
 * The kubelet's messages for a pod evicted above its own limits (pkg/kubelet/eviction/helpers.go:
 * emptyDirMessageFmt, containerEphemeralStorageMessageFmt, podEphemeralStorageMessageFmt). A node that ran
 * low on disk ("The node was low on resource: ephemeral-storage") is not this environment's size.
 */
const EVICTED_FOR_SIZE =
  /Usage of EmptyDir volume .* exceeds the limit|exceeded its local ephemeral storage limit|ephemeral local storage usage exceeds the total limit/;

/** What the kernel (ENOSPC), dockerd, BuildKit and busybox tar say when a write finds the disk full. */
const DISK_FULL = new RegExp(
  `no space left on device|\\bENOSPC\\b|disk quota exceeded|${EVICTED_FOR_SIZE.source}`,
  'i',
);

/**
 * The log, passed through, remembering the first lines that say the disk is full. Compose prints the build's
 * progress, where BuildKit shows a step's own error ("dd: error writing ...: No space left on device"), on
 * stdout: the failed command's error message has only its stderr's "failed to solve" line.
 */
export function watchDiskFull(log: Log): { log: Log; lines: () => string[] } {
  const seen: string[] = [];
  const watch = (line: string) => {
    if (seen.length < 5 && DISK_FULL.test(line)) seen.push(line.trim());
  };
  return {
    log: {
      ...log,
      info: (m) => {
        watch(m);
        log.info(m);
      },
      warning: (m) => {
        watch(m);
        log.warning(m);
      },
    },
    lines: () => [...seen],
  };
}

/**
 * On a cluster the pod is more often evicted than out of space: the kubelet measures the volume and the
 * container against their limits, and evicts the pod (phase Failed, reason Evicted) before the node's disk
 * fills. The pod object stays, with the kubelet's message: what the deploy's broken connections do not say.
 */
export function evictedForSize(pod: KubeObject | undefined): string | undefined {
  const status = rec(pod?.status);
  const message = typeof status?.message === 'string' ? status.message.trim() : '';
  if (status?.reason !== 'Evicted' || !EVICTED_FOR_SIZE.test(message)) return undefined;
  return `The kubelet evicted pod ${pod?.metadata.name}: ${message}`;
}

/** evictedForSize of the pod as the API server has it now; nothing when it cannot be read. */
export async function podEvictedForSize(
  client: KubeClient,
  namespace: string,
  name: string,
): Promise<string[]> {
  try {
    const line = evictedForSize(await getObject(client, { apiVersion: 'v1', kind: 'Pod' }, namespace, name));
    return line ? [line] : [];
  } catch {
    return [];
  }
}

/**
 * An error that says the environment's disk is full, when `err` (a failed build, `up` or upload) was caused
 * by it, by its text or by the lines the deploy printed (`seen`, from watchDiskFull); otherwise undefined.
 * The original message and logs are kept: they say which step hit it.
 */
export function diskFullError(
  err: unknown,
  storage: StorageSize,
  seen: string[] = [],
): ActionError | undefined {
  const message = errorMessage(err);
  const logs = err instanceof ActionError ? err.logs : undefined;
  const line = [...`${message}\n${logs ?? ''}`.split('\n'), ...seen].find((l) => DISK_FULL.test(l))?.trim();
  if (line === undefined) return undefined;
  const keep = formatBytes(cacheKeepBytes(storage));
  const shown = [...seen.filter((l) => !(logs ?? '').includes(l)), logs ?? ''].join('\n').trim();
  return new ActionError(
    `The environment's disk is full (storage-size ${storage.size}): ${line}\n${message}`,
    {
      hint:
        `Raise the storage-size input (now ${storage.size}). After each deploy the action keeps at most ${keep} ` +
        `of build cache (${CACHE_SHARE * 100}% of storage-size) and removes dangling images, so the images, ` +
        'containers and volumes of the project, with one build, must fit in the rest.',
      logs: shown || line,
      details: err instanceof ActionError ? err.details : undefined,
      cause: err,
    },
  );
}
