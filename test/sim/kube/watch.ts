/**
 * `?watch=true`: one JSON object per line, `Content-Type: application/json` (fixtures 017, 019).
 * Without a resourceVersion (or with "0") the stream starts with synthetic ADDED events for what exists;
 * with one it replays the history after it. Like the watch cache, an object that stops matching the
 * selector is sent as DELETED and one that starts matching as ADDED.
 */
import type { ServerResponse } from 'node:http';
import { errors, type StatusError } from './errors.js';
import type { Selector } from './selectors.js';
import type { MemoryStore } from './store.js';
import type { ResourceType, SimObject, WatchEvent } from './types.js';

export interface WatchRequest {
  type: ResourceType;
  namespace?: string;
  selector: Selector;
  resourceVersion?: string;
  timeoutSeconds?: number;
  sendInitialEvents?: boolean;
  allowWatchBookmarks?: boolean;
}

type Frame = { type: WatchEvent['type'] | 'ERROR' | 'BOOKMARK'; object: unknown };

export class WatchRegistry {
  private readonly open = new Set<() => void>();

  get size(): number {
    return this.open.size;
  }

  /** Ends every open watch cleanly (the client sees the end of the chunked body). */
  closeAll(): void {
    for (const end of [...this.open]) end();
  }

  serve(store: MemoryStore, res: ServerResponse, w: WatchRequest, headers: Record<string, string>): void {
    const t = w.type;
    res.writeHead(200, { ...headers, 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
    res.flushHeaders();

    const matching = new Set<string>();
    let lastRv = 0;
    let ended = false;
    const inScope = (o: SimObject) => w.namespace === undefined || o.metadata.namespace === w.namespace;
    const write = (f: Frame) => {
      if (!ended) res.write(`${JSON.stringify(f)}\n`);
    };

    const deliver = (ev: WatchEvent) => {
      const o = ev.object;
      const rv = Number(o.metadata.resourceVersion);
      if (rv <= lastRv || !inScope(o)) return;
      lastRv = rv;
      const uid = o.metadata.uid;
      const now = ev.type !== 'DELETED' && w.selector.matches(o);
      const before = matching.has(uid);
      if (ev.type === 'DELETED') {
        if (before || w.selector.matches(o)) write({ type: 'DELETED', object: o });
        matching.delete(uid);
        return;
      }
      if (now) {
        matching.add(uid);
        write({ type: before ? 'MODIFIED' : 'ADDED', object: o });
      } else if (before) {
        matching.delete(uid);
        write({ type: 'DELETED', object: o });
      }
    };

    // Subscribe first and buffer, so nothing written while the initial state is sent is lost.
    const buffered: WatchEvent[] = [];
    let live = false;
    const unsubscribe = store.subscribe(t.group, t.resource, (ev) => {
      if (live) deliver(ev);
      else buffered.push(ev);
    });

    let timer: NodeJS.Timeout | undefined;
    const end = () => {
      if (ended) return;
      ended = true;
      unsubscribe();
      if (timer) clearTimeout(timer);
      this.open.delete(end);
      res.end();
    };
    this.open.add(end);
    res.on('close', end);
    if (w.timeoutSeconds !== undefined && w.timeoutSeconds > 0)
      timer = setTimeout(end, w.timeoutSeconds * 1000);

    const rv = w.resourceVersion;
    if (rv === undefined || rv === '' || rv === '0' || w.sendInitialEvents) {
      const current = store.list(t.group, t.resource, { namespace: w.namespace });
      for (const o of current) {
        if (!w.selector.matches(o)) continue;
        matching.add(o.metadata.uid);
        write({ type: 'ADDED', object: o });
      }
      lastRv = Number(store.resourceVersion());
      if (w.sendInitialEvents && w.allowWatchBookmarks) {
        write({
          type: 'BOOKMARK',
          object: {
            kind: t.kind,
            apiVersion: t.group ? `${t.group}/${t.version}` : t.version,
            metadata: {
              resourceVersion: String(lastRv),
              annotations: { 'k8s.io/initial-events-end': 'true' },
            },
          },
        });
      }
    } else {
      const from = Number(rv);
      const events = Number.isFinite(from) ? store.eventsSince(t.group, t.resource, from) : undefined;
      if (!events) {
        const e: StatusError = Number.isFinite(from)
          ? errors.expired(rv, store.oldestResourceVersion())
          : errors.badRequest(`invalid resource version: ${rv}`);
        write({ type: 'ERROR', object: e.body });
        end();
        return;
      }
      // What matched at `from` is not recorded: an object that existed then (not ADDED since) is taken to
      // have matched if its first later version matches.
      const seen = new Set<string>();
      for (const e of events) {
        const uid = e.object.metadata.uid;
        if (seen.has(uid)) continue;
        seen.add(uid);
        if (e.type !== 'ADDED' && w.selector.matches(e.object)) matching.add(uid);
      }
      for (const o of store.list(t.group, t.resource, { namespace: w.namespace })) {
        if (Number(o.metadata.resourceVersion) <= from && w.selector.matches(o)) matching.add(o.metadata.uid);
      }
      lastRv = from;
      for (const ev of events) deliver(ev);
    }
    live = true;
    for (const ev of buffered.splice(0)) deliver(ev);
  }
}
