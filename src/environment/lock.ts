/**
 * The environment's lock: a `coordination.k8s.io/v1` Lease `preevy-<envId>` in the namespace, labelled with the
 * env id. Every `up` and `down` holds it from just after connecting until it ends, so two runs of one
 * environment never interleave: without it, two first deploys of a PR would both find no environment and
 * create two instances, and a deploy could race a delete. GitHub's `concurrency` groups would serialize the
 * runs too, but a workflow may not have one, and pending runs are replaced, not queued.
 *
 * Protocol (client-go's leader election, for one critical section):
 * - acquire: create the Lease with this run as holder. On AlreadyExists, read it. Free (no holder) or expired
 *   (its `renewTime` + `leaseDurationSeconds` is past, or we have seen it unchanged for that long, which
 *   copes with a runner whose clock is ahead) → take it with an update carrying the resourceVersion just
 *   read, so of two runs taking over one expired Lease exactly one wins (the other gets 409 and looks again).
 *   Held → wait, polling, up to the bound, and say who holds it.
 * - renew: every third of the duration, an update guarded by the resourceVersion of our last write. A 409
 *   there means another run took the Lease over (this one was stalled past the expiry): a warning, and the run
 *   goes on, because stopping a deploy halfway is worse than finishing it.
 * - release: clear the holder (the Lease stays with the environment; `down` deletes it), or delete the Lease
 *   when no environment is left, so a skipped or rolled-back first deploy leaves nothing behind. Both are
 *   guarded by our resourceVersion: a run never releases a lock it no longer holds.
 *
 * The Lease is bookkeeping, not part of the environment's template: `down`'s delete pass skips it
 * (isLockObject), and `preevy.dev/all-types` never lists it.
 */
import { createHash, randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { ActionError } from '../errors.js';
import { LABELS, LOCK_ANNOTATIONS, LOCK_LABEL, MANAGED_BY } from '../identity.js';
import type { KubeClient } from '../kube/client.js';
import { collectionPath, objectPath, requireResource } from '../kube/discovery.js';
import { httpStatusOf, toKubeError } from '../kube/errors.js';
import { MAX_LABEL_LENGTH } from '../kube/names.js';
import { isRefused, type Refused, readAt, writeAt } from '../kube/objects.js';
import type { KubeObject, TypeRef } from '../kube/types.js';
import { formatDuration } from '../util/duration.js';
import { type Log, noopLog } from '../util/log.js';
import { sleep } from '../util/sleep.js';

export const LEASE: TypeRef = { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease' };

export interface LockTiming {
  /** `leaseDurationSeconds`: how long after its last renewal a holder's Lease may be taken over. */
  durationSeconds: number;
  /** How often the holder renews; a third of the duration leaves two renewals' worth of slack. */
  renewMs: number;
  /** How often a waiting run looks at the Lease again. */
  pollMs: number;
}

export const DEFAULT_LOCK_TIMING: LockTiming = { durationSeconds: 60, renewMs: 20_000, pollMs: 2_000 };

export interface LockHolder {
  /** `holderIdentity`: unique per process, so two jobs of one workflow run never take each other for themselves. */
  identity: string;
  command: 'up' | 'down';
  /** The workflow run, for the log line of a run that waits. */
  runUrl?: string;
}

export interface AcquireOptions {
  namespace: string;
  envId: string;
  holder: LockHolder;
  /** Bound on the wait for a held lock (the `ready-timeout` input). */
  timeoutMs: number;
  timing?: Partial<LockTiming>;
  log?: Log;
  /** Clock, for tests. */
  now?: () => number;
}

export interface EnvLock {
  readonly name: string;
  readonly identity: string;
  /** Another run took the Lease over while this one held it. */
  readonly lost: boolean;
  /**
   * Ends the hold. `remove`: delete the Lease (no environment is left); otherwise clear its holder. Never
   * rejects: a lock that cannot be released expires by itself.
   */
  release(opts: { remove: boolean }): Promise<void>;
}

const MAX_NAME = MAX_LABEL_LENGTH;

/** `preevy-<envId>`, cut to 63 characters with a hash of the env id when longer, so distinct ids stay distinct. */
export function leaseName(envId: string): string {
  const full = `preevy-${envId}`;
  if (full.length <= MAX_NAME) return full;
  const hash = createHash('sha256').update(envId).digest('hex').slice(0, 8);
  const head = `preevy-${envId}`.slice(0, MAX_NAME - hash.length - 1).replace(/[-.]+$/, '');
  return `${head}-${hash}`;
}

/** `<run id>/<attempt>/<pid>/<random>`: the run and process that hold the lock, and a nonce against pid reuse. */
export function holderIdentity(env: NodeJS.ProcessEnv = process.env): string {
  const run = env.GITHUB_RUN_ID || 'local';
  const attempt = env.GITHUB_RUN_ATTEMPT || '1';
  return `${run}/${attempt}/${process.pid}/${randomBytes(3).toString('hex')}`;
}

/** A Lease's times are MicroTime: RFC 3339 with exactly six fraction digits, which the API server requires. */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

export function isLockObject(o: KubeObject): boolean {
  return (
    o.apiVersion === LEASE.apiVersion && o.kind === LEASE.kind && o.metadata.labels?.[LOCK_LABEL] === 'true'
  );
}

interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

function specOf(o: KubeObject): LeaseSpec {
  return (o.spec ?? {}) as LeaseSpec;
}

/** The Lease as read, with another spec, for an update: managedFields are the server's to keep. */
function updated(o: KubeObject, spec: LeaseSpec, annotations?: Record<string, string>): KubeObject {
  const { managedFields: _, ...metadata } = o.metadata;
  return {
    ...o,
    metadata: annotations
      ? { ...metadata, annotations: { ...metadata.annotations, ...annotations } }
      : metadata,
    spec,
  };
}

/** Who holds a Lease, for the log: the command and run from its annotations, the holder, and its times. */
export function describeHolder(o: KubeObject, nowMs: number): string {
  const spec = specOf(o);
  const a = o.metadata.annotations ?? {};
  const who = [
    a[LOCK_ANNOTATIONS.command] ? `the ${a[LOCK_ANNOTATIONS.command]} of` : undefined,
    a[LOCK_ANNOTATIONS.run] || 'a run',
    `(holder ${spec.holderIdentity ?? 'none'}${a[LOCK_ANNOTATIONS.host] ? ` on ${a[LOCK_ANNOTATIONS.host]}` : ''})`,
  ]
    .filter(Boolean)
    .join(' ');
  const renewed = Date.parse(spec.renewTime ?? '');
  const times = [
    spec.acquireTime ? `since ${spec.acquireTime}` : undefined,
    Number.isFinite(renewed) ? `renewed ${formatDuration(Math.max(0, nowMs - renewed))} ago` : undefined,
  ].filter(Boolean);
  return times.length ? `${who}, ${times.join(', ')}` : who;
}

/** Takes the environment's lock, waiting (bounded) while another run holds it. */
export async function acquireLock(client: KubeClient, opts: AcquireOptions): Promise<EnvLock> {
  const log = opts.log ?? noopLog;
  const now = opts.now ?? Date.now;
  const timing: LockTiming = { ...DEFAULT_LOCK_TIMING, ...opts.timing };
  const { namespace, envId, holder } = opts;
  const name = leaseName(envId);
  const ref = `Lease/${name}`;
  const resource = await requireResource(client, LEASE, `lock environment ${envId}`);
  const path = objectPath(LEASE, resource, namespace, name);
  const fail = (err: unknown, what: string) => {
    const e = toKubeError(err, `${what} ${ref} (the lock of environment ${envId})`, {
      server: client.server,
    });
    if (e.code !== 403) return e;
    return new ActionError(e.message, {
      hint: 'The action needs get, create, update and delete on leases (coordination.k8s.io) in the namespace: see examples/rbac/role.yaml.',
      details: e.details,
      cause: e,
    });
  };

  const annotations = {
    [LOCK_ANNOTATIONS.command]: holder.command,
    ...(holder.runUrl ? { [LOCK_ANNOTATIONS.run]: holder.runUrl } : {}),
    [LOCK_ANNOTATIONS.host]: hostname(),
  };
  const heldSpec = (previous: LeaseSpec | undefined, t: number, transition: boolean): LeaseSpec => ({
    holderIdentity: holder.identity,
    leaseDurationSeconds: timing.durationSeconds,
    acquireTime: microTime(t),
    renewTime: microTime(t),
    leaseTransitions: (previous?.leaseTransitions ?? 0) + (transition ? 1 : 0),
  });

  const started = now();
  const deadline = started + opts.timeoutMs;
  /** When we first saw the Lease's current resourceVersion: expiry by our own clock. */
  let observed: { rv: string | undefined; at: number } | undefined;
  let reported: string | undefined;
  let lease: KubeObject | undefined;

  while (!lease) {
    const created = await writeAt(client, 'POST', collectionPath(LEASE, resource, namespace), {
      apiVersion: LEASE.apiVersion,
      kind: LEASE.kind,
      metadata: {
        name,
        namespace,
        labels: { [LABELS.envId]: envId, [LABELS.managedBy]: MANAGED_BY, [LOCK_LABEL]: 'true' },
        annotations,
      },
      spec: heldSpec(undefined, now(), false),
    }).catch((err: unknown) => {
      throw fail(err, 'create');
    });
    if (!isRefused(created)) {
      lease = created;
      break;
    }

    const current = await readAt(client, path).catch((err: unknown) => {
      throw fail(err, 'read');
    });
    if (!current) continue; // released by deletion in between: create it
    if (
      current.metadata.labels?.[LABELS.envId] !== envId ||
      current.metadata.labels?.[LOCK_LABEL] !== 'true'
    ) {
      throw new ActionError(
        `${ref} in namespace ${namespace} exists and is not the lock of environment ${envId} (its ${LABELS.envId} label is "${current.metadata.labels?.[LABELS.envId] ?? ''}"); refusing to take it.`,
        { hint: `Rename or delete that Lease: kubectl delete lease -n ${namespace} ${name}` },
      );
    }
    const spec = specOf(current);
    if (spec.holderIdentity === holder.identity) {
      // Our own create or take-over went through, and its answer was lost to a retried request.
      lease = current;
      break;
    }
    const t = now();
    const rv = current.metadata.resourceVersion;
    if (!observed || observed.rv !== rv) observed = { rv, at: t };
    const durationMs = (spec.leaseDurationSeconds ?? timing.durationSeconds) * 1000;
    const renewed = Date.parse(spec.renewTime ?? spec.acquireTime ?? '');
    const free = !spec.holderIdentity;
    const expired = !Number.isFinite(renewed) || renewed + durationMs < t || t - observed.at >= durationMs;

    if (free || expired) {
      const taken = await writeAt(
        client,
        'PUT',
        path,
        updated(current, heldSpec(spec, t, spec.holderIdentity !== holder.identity), annotations),
      ).catch((err: unknown) => {
        throw fail(err, 'take over');
      });
      if (isRefused(taken)) continue; // another run was quicker, or it was just deleted: look again
      if (!free) {
        log.info(
          `Took over the lock of environment ${envId} from ${describeHolder(current, t)}: it was not renewed for ${spec.leaseDurationSeconds ?? '?'} s (a run that crashed or was cancelled).`,
        );
      }
      lease = taken;
      break;
    }

    if (t >= deadline) {
      throw new ActionError(
        `Timed out after ${formatDuration(t - started)} waiting for the lock of environment ${envId} (${ref} in namespace ${namespace}): it is held by ${describeHolder(current, t)}.`,
        {
          hint: `Another run is deploying or deleting this environment. Raise "ready-timeout", or run one job per PR at a time (a concurrency group). A holder that is gone loses the lock ${spec.leaseDurationSeconds ?? timing.durationSeconds} s after its last renewal.`,
        },
      );
    }
    const holderNow = `${spec.holderIdentity}@${spec.acquireTime}`;
    if (holderNow !== reported) {
      reported = holderNow;
      log.info(
        `Environment ${envId} is locked by ${describeHolder(current, t)}: waiting up to ${formatDuration(deadline - t)} for it.`,
      );
    }
    await sleep(Math.max(0, Math.min(timing.pollMs, deadline - t)));
  }

  if (now() - started >= 1000)
    log.info(`Locked environment ${envId} after ${formatDuration(now() - started)}.`);
  else log.debug(`Locked environment ${envId} (${ref}, holder ${holder.identity}).`);
  return heldLock(client, { path, name, ref, envId, lease, timing, holder, log, now });
}

function heldLock(
  client: KubeClient,
  s: {
    path: string;
    name: string;
    ref: string;
    envId: string;
    lease: KubeObject;
    timing: LockTiming;
    holder: LockHolder;
    log: Log;
    now: () => number;
  },
): EnvLock {
  let lease = s.lease;
  let lost = false;
  let released = false;
  // One request at a time: a renewal and the release must not race each other's resourceVersion.
  let queue: Promise<void> = Promise.resolve();

  const lose = (current: KubeObject | undefined) => {
    lost = true;
    s.log.warning(
      current
        ? `The lock of environment ${s.envId} was taken over by ${describeHolder(current, s.now())}: this run was stalled for longer than the lease (${s.timing.durationSeconds} s), and another run may now change the environment too.`
        : `The lock of environment ${s.envId} (${s.ref}) was deleted while this run held it; another run may now change the environment too.`,
    );
  };

  const renew = async (): Promise<void> => {
    if (released || lost) return;
    let renewed: KubeObject | Refused;
    try {
      renewed = await writeAt(
        client,
        'PUT',
        s.path,
        updated(lease, { ...specOf(lease), renewTime: microTime(s.now()) }),
      );
    } catch (err) {
      // A blip: the next renewal tries again, and the lease has two renewals of slack.
      s.log.debug(toKubeError(err, `renew ${s.ref}`, { server: client.server }).message);
      return;
    }
    if (!isRefused(renewed)) {
      lease = renewed;
      return;
    }
    if (renewed.refused === 404) return lose(undefined);
    let current: KubeObject | undefined;
    try {
      current = await readAt(client, s.path);
    } catch {
      return; // a blip: the next renewal looks again
    }
    if (!current) lose(undefined);
    else if (specOf(current).holderIdentity === s.holder.identity) lease = current;
    else lose(current);
  };

  const timer = setInterval(() => {
    queue = queue.then(renew);
  }, s.timing.renewMs);
  // The lock must not keep the process alive after the run is done.
  timer.unref();

  return {
    name: s.name,
    identity: s.holder.identity,
    get lost() {
      return lost;
    },
    release: async ({ remove }) => {
      if (released) return;
      clearInterval(timer);
      await queue;
      released = true;
      if (lost) return;
      const meta = lease.metadata;
      try {
        if (remove) {
          await client.request({
            method: 'DELETE',
            path: s.path,
            body: {
              kind: 'DeleteOptions',
              apiVersion: 'v1',
              preconditions: { uid: meta.uid, resourceVersion: meta.resourceVersion },
            },
          });
        } else {
          const { holderIdentity: _, ...rest } = specOf(lease);
          const freed = await writeAt(
            client,
            'PUT',
            s.path,
            updated(lease, { ...rest, renewTime: microTime(s.now()) }),
          );
          if (isRefused(freed)) return; // gone, or no longer ours: nothing to release
        }
        s.log.debug(`Released the lock of environment ${s.envId}${remove ? ' (Lease deleted)' : ''}.`);
      } catch (err) {
        const code = httpStatusOf(err);
        if (code === 404 || code === 409) return; // gone, or no longer ours: nothing to release
        s.log.warning(
          `Could not release the lock of environment ${s.envId}: ${toKubeError(err, `release ${s.ref}`, { server: client.server }).message}. It expires by itself ${s.timing.durationSeconds} s after its last renewal.`,
        );
      }
    },
  };
}
