/**
 * After a deploy that built: the build cache above its share of the environment's disk, and the dangling
 * images (the previous builds' images, untagged by this one), are removed through the Docker API, so pushes
 * to a long-lived PR do not fill the disk. The most recently used cache stays: it makes the next push fast.
 *
 * Best-effort: a prune that fails is a warning, never a failed deploy.
 */

import { cacheKeepBytes, type StorageSize } from '../environment/storage.js';
import { errorMessage } from '../errors.js';
import type { Log } from '../util/log.js';
import { formatBytes } from '../util/quantity.js';
import { dockerRequest } from './docker-api.js';

/** A prune walks every cache record; on a full disk of small layers that takes a while. */
const TIMEOUT_MS = 120_000;

export interface PruneResult {
  /** Bytes of build cache removed. */
  cacheBytes: number;
  /** Images removed and the bytes they freed. */
  images: number;
  imageBytes: number;
}

/**
 * The query of `POST /build/prune` that keeps the `keep` most recently used bytes of cache. API < 1.48 (Docker 27
 * and older) reads only `keep-storage`; 1.48+ reads `reserved-space`, or `keep-storage` as its deprecated name,
 * and `max-used-space` (moby's build_routes.go postPrune). BuildKit keeps max(max-used-space, reserved-space)
 * (cache/manager.go calculateKeepBytes): all three are sent, equal, and each version reads the ones it knows.
 */
export function buildPruneQuery(keep: number): string {
  const n = String(keep);
  return new URLSearchParams({ 'keep-storage': n, 'reserved-space': n, 'max-used-space': n }).toString();
}

async function postJson(target: { host: string; port: number }, path: string): Promise<unknown> {
  const res = await dockerRequest(target, 'POST', path, TIMEOUT_MS);
  if (res.status !== 200)
    throw new Error(`POST ${path.split('?')[0]}: HTTP ${res.status}: ${res.body.slice(0, 200)}`);
  return JSON.parse(res.body);
}

/** Removes the build cache above the storage's share and the dangling images; logs what it reclaimed. */
export async function pruneDocker(
  dockerHost: string,
  storage: StorageSize,
  log: Log,
): Promise<PruneResult | undefined> {
  const url = new URL(dockerHost.replace(/^tcp:/, 'http:'));
  const target = { host: url.hostname, port: Number(url.port) };
  const keep = cacheKeepBytes(storage);
  const filters = encodeURIComponent(JSON.stringify({ dangling: ['true'] }));
  // Side by side: each is a round trip through the tunnel, and neither needs the other's result.
  const [cache, images] = await Promise.allSettled([
    postJson(target, `/build/prune?${buildPruneQuery(keep)}`) as Promise<{ SpaceReclaimed?: number }>,
    postJson(target, `/images/prune?filters=${filters}`) as Promise<{
      ImagesDeleted?: Array<{ Deleted?: string }> | null;
      SpaceReclaimed?: number;
    }>,
  ]);
  const result: PruneResult = { cacheBytes: 0, images: 0, imageBytes: 0 };
  const problems: string[] = [];
  if (cache.status === 'fulfilled') result.cacheBytes = cache.value.SpaceReclaimed ?? 0;
  else problems.push(`the build cache: ${errorMessage(cache.reason)}`);
  if (images.status === 'fulfilled') {
    result.images = (images.value.ImagesDeleted ?? []).filter((i) => i.Deleted).length;
    result.imageBytes = images.value.SpaceReclaimed ?? 0;
  } else problems.push(`the dangling images: ${errorMessage(images.reason)}`);
  if (problems.length === 2) {
    log.warning(`Could not prune the environment's Docker: ${problems.join('; ')}`);
    return undefined;
  }
  for (const p of problems) log.warning(`Could not prune ${p}`);
  log.info(
    `Pruned the environment's Docker: ${formatBytes(result.cacheBytes)} of build cache above ${formatBytes(keep)} ` +
      `(${storage.size} storage-size, half kept for the next build), ${result.images} dangling image(s) (${formatBytes(result.imageBytes)}).`,
  );
  return result;
}
