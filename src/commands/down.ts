import type { EnvLock } from '../environment/lock.js';
import type { Inputs } from '../inputs.js';
import { connectWith, lockEnvironment, type RunContext, runTools } from './run.js';
import { downReason, tearDown } from './teardown.js';

export interface DownResult {
  envId: string;
  namespace: string;
  deleted: string[];
  /**
   * The tombstone ConfigMap left behind (src/environment/tombstone.ts); absent when the environment had no objects:
   * then nothing was changed.
   */
  tombstone?: string;
}

/**
 * inputs → identity → lock → find → tombstone → delete → unlock. Deleting an environment that is not there
 * succeeds, and changes nothing: no tombstone (a PR that never had an environment leaves no trace), and the lock's
 * Lease is removed again.
 */
export async function down(inputs: Inputs, ctx: RunContext): Promise<DownResult> {
  const { log, phase } = runTools(ctx);
  const { namespace } = inputs;
  const client = await phase('Connect to the cluster', () => connectWith(inputs, log));
  let lock: EnvLock | undefined;
  try {
    lock = await phase('Lock the environment', () => lockEnvironment(client, inputs, ctx, 'down', log));
    const result = await tearDown(client, {
      namespace,
      envId: ctx.envId,
      event: ctx.event,
      reason: downReason(ctx.event),
      timeoutMs: inputs.readyTimeoutMs,
      log,
      phase,
      now: ctx.now,
      onlyIfPresent: true,
    });
    return { envId: ctx.envId, namespace, deleted: result.deleted, tombstone: result.tombstone?.name };
  } finally {
    // The Lease belongs to the environment, which is gone: delete it rather than leave it free.
    await lock?.release({ remove: true });
    client.close();
  }
}
