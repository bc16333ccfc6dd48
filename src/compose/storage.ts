/**
 * The environment's disk: the size of its docker data volume (input `storage-size`), the share of it the
 * build cache may keep after a deploy, and the error a deploy that filled it gives.
 */
import { ActionError, errorMessage } from '../errors.js';
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

/** What the kernel (ENOSPC), dockerd, BuildKit and busybox tar say when a write finds the disk full. */
const DISK_FULL = /no space left on device|\bENOSPC\b|disk quota exceeded/i;

/**
 * An error that says the environment's disk is full, when `err` (a failed build, `up` or upload) was caused
 * by it; otherwise undefined. The original message and logs are kept: they say which step hit it.
 */
export function diskFullError(err: unknown, storage: StorageSize): ActionError | undefined {
  const message = errorMessage(err);
  const logs = err instanceof ActionError ? err.logs : undefined;
  const line = [message, logs ?? '']
    .join('\n')
    .split('\n')
    .find((l) => DISK_FULL.test(l));
  if (line === undefined) return undefined;
  const keep = formatBytes(cacheKeepBytes(storage));
  return new ActionError(
    `The environment's disk is full (storage-size ${storage.size}): ${line.trim()}\n${message}`,
    {
      hint:
        `Raise the storage-size input (now ${storage.size}). After each deploy the action keeps at most ${keep} ` +
        `of build cache (${CACHE_SHARE * 100}% of storage-size) and removes dangling images, so the images, ` +
        'containers and volumes of the project, with one build, must fit in the rest.',
      logs: logs ?? line.trim(),
      details: err instanceof ActionError ? err.details : undefined,
      cause: err,
    },
  );
}
