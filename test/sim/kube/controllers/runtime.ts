/**
 * What every simulated controller shares: the clock, the timers (all cancelled by stop() so a test process can
 * exit), the promises in flight (awaited by stop()), and work queues that coalesce keys the way client-go's
 * workqueue does, so a burst of watch events costs one reconcile.
 */
import type { ObjectKey, SimObject, Store } from '../types.js';
import { isNamespaceTerminating, isNotFound, statusCode } from './util.js';

export interface Clock {
  now(): Date;
}

export type ErrorHandler = (err: unknown, context: string) => void;

/** The store's delete with DeleteOptions, as store.ts implements it (the contract in types.ts has no options). */
export type DeleteWithOptions = (
  key: ObjectKey,
  propagationPolicy?: 'Foreground' | 'Background' | 'Orphan',
  opts?: { gracePeriodSeconds?: number; preconditions?: { uid?: string; resourceVersion?: string } },
) => SimObject | undefined;

export class Runtime {
  stopped = false;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly immediates = new Set<NodeJS.Immediate>();
  private readonly inFlight = new Set<Promise<unknown>>();

  constructor(
    readonly store: Store,
    readonly clock: Clock,
    /** Multiplier for the kubelet's and scheduler's back-off durations. */
    readonly backoffScale: number,
    private readonly onError: ErrorHandler,
  ) {}

  now(): Date {
    return this.clock.now();
  }

  /** Runs fn after ms; returns a cancel function. Errors go to the error handler, never to the event loop. */
  after(ms: number, fn: () => void, context = 'timer'): () => void {
    if (this.stopped) return () => {};
    const t = setTimeout(
      () => {
        this.timers.delete(t);
        if (!this.stopped) this.guard(fn, context);
      },
      Math.max(0, ms),
    );
    this.timers.add(t);
    return () => {
      clearTimeout(t);
      this.timers.delete(t);
    };
  }

  soon(fn: () => void, context = 'immediate'): void {
    if (this.stopped) return;
    const i = setImmediate(() => {
      this.immediates.delete(i);
      if (!this.stopped) this.guard(fn, context);
    });
    this.immediates.add(i);
  }

  /** Keeps a promise for stop() to await; its rejection is reported, never left unhandled. */
  track(p: Promise<unknown>, context: string): void {
    const guarded = p.catch((err) => {
      try {
        this.report(err, context);
      } catch {
        // An onError that throws must not become an unhandled rejection.
      }
    });
    this.inFlight.add(guarded);
    void guarded.finally(() => this.inFlight.delete(guarded));
  }

  guard(fn: () => void, context: string): void {
    try {
      fn();
    } catch (err) {
      this.report(err, context);
    }
  }

  report(err: unknown, context: string): void {
    // An object deleted under our feet, or a namespace on its way out, is the normal life of a controller.
    if (isNotFound(err) || isNamespaceTerminating(err)) return;
    this.onError(err, context);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    for (const i of this.immediates) clearImmediate(i);
    this.timers.clear();
    this.immediates.clear();
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  deleteWithOptions: DeleteWithOptions = (key, policy, opts) =>
    (this.store.delete as DeleteWithOptions).call(this.store, key, policy, opts);
}

/** A keyed queue: adding a key already waiting is a no-op; failures retry with a capped exponential delay. */
export class WorkQueue {
  private dirty = new Set<string>();
  private scheduled = false;
  private readonly failures = new Map<string, number>();

  constructor(
    private readonly rt: Runtime,
    private readonly name: string,
    private readonly handler: (key: string) => void,
  ) {}

  add(key: string): void {
    if (this.rt.stopped) return;
    this.dirty.add(key);
    if (!this.scheduled) {
      this.scheduled = true;
      this.rt.soon(() => this.flush(), `${this.name} queue`);
    }
  }

  addAfter(key: string, ms: number): () => void {
    return this.rt.after(ms, () => this.add(key), `${this.name} requeue`);
  }

  private flush(): void {
    this.scheduled = false;
    const keys = [...this.dirty];
    this.dirty.clear();
    for (const key of keys) {
      if (this.rt.stopped) return;
      try {
        this.handler(key);
        this.failures.delete(key);
      } catch (err) {
        const n = (this.failures.get(key) ?? 0) + 1;
        this.failures.set(key, n);
        // Conflicts are expected when someone else wrote in between: retry quietly, like the real rate limiter.
        if (statusCode(err) !== 409 || n > 5) this.rt.report(err, `${this.name} ${key}`);
        if (isNamespaceTerminating(err)) continue;
        if (n <= 15) this.addAfter(key, Math.min(5 * 2 ** n, 1000));
      }
    }
  }
}

export function nsKey(obj: { metadata: { namespace?: string; name: string } }): string {
  return `${obj.metadata.namespace ?? ''}/${obj.metadata.name}`;
}

export function splitKey(key: string): { namespace: string; name: string } {
  const i = key.indexOf('/');
  return { namespace: key.slice(0, i), name: key.slice(i + 1) };
}
