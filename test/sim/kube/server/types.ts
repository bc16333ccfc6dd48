/** The types the API server's parts share: the request context, a reply, the parsed resource path. */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { WebSocket, WebSocketServer } from 'ws';
import type { FirstFrames, WireMode } from '../../kubelet/wire.js';
import type { Codecs } from '../codecs.js';
import type { AuditEntry, CutAction, Faults } from '../faults.js';
import type { Authenticator, Authorizer, Identity } from '../rbac.js';
import type { Discovery } from '../resources.js';
import type { MemoryStore } from '../store.js';
import type { SimObject } from '../types.js';
import type { WatchRegistry } from '../watch.js';

export type UpgradeKind = 'exec' | 'portforward' | 'attach';

export interface UpgradeContext {
  req: IncomingMessage;
  socket: Duplex;
  head: Buffer;
  pod: SimObject;
  /** Parsed query; repeated parameters (exec `command`) via getAll. */
  query: URLSearchParams;
  user: string;
  /**
   * Completes the WebSocket handshake (ws, noServer), answering with `protocol` (or none). `firstFrames` says
   * whether the frames the handler sends at once share the 101's write on this endpoint of a real cluster.
   */
  accept(protocol: string | undefined, firstFrames: FirstFrames): Promise<WebSocket>;
  /**
   * Refuses the upgrade with a plain HTTP answer: an object is sent as JSON, a string as text/plain unless
   * `contentType` says otherwise ('' sends no Content-Type, as the kubelet's empty 403 of fixture 107).
   */
  reject(status: number, body?: unknown, contentType?: string): void;
}

export type UpgradeHandler = (ctx: UpgradeContext) => void | Promise<void>;

export interface ServerDeps {
  store: MemoryStore;
  discovery: Discovery;
  authn: Authenticator;
  authz: Authorizer;
  faults: Faults;
  audit: AuditEntry[];
  codecs: Codecs;
  upgradeHandlers: Map<UpgradeKind, UpgradeHandler>;
  wire: { mode: WireMode; rand: () => number };
  /** `pods/log`: what the kubelet would stream (logs.ts); without it the subresource is NotFound. */
  podLog?: (pod: SimObject, query: URLSearchParams) => string;
}

export interface Reply {
  status: number;
  body: unknown;
  contentType?: string;
  headers?: Record<string, string | string[]>;
}

/** A resource request as the RequestInfoFactory sees it. */
export interface ResourcePath {
  group: string;
  version: string;
  namespace?: string;
  resource: string;
  name?: string;
  subresource?: string;
  watch: boolean;
}

export interface Ctx {
  req: IncomingMessage;
  method: string;
  url: URL;
  body: Buffer;
  id: Identity;
  upgrade?: { socket: Duplex; head: Buffer };
  warnings: string[];
  entry: AuditEntry;
  /** A `cut` fault: the answer, or the upgraded connection, is cut mid-stream. */
  cut?: CutAction;
}

export const JSON_TYPE = 'application/json';
export const AGGREGATED_TYPE = 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList';
export const MAX_BODY = 64 * 1024 * 1024;

export function queryObject(q: URLSearchParams): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const k of new Set(q.keys())) {
    const all = q.getAll(k);
    out[k] = all.length === 1 ? (all[0] as string) : all;
  }
  return out;
}

export function boolParam(v: string | null): boolean {
  return v === 'true' || v === '1';
}

/** `Warning: 299 - "text"`, quoting as net/http's warning writer does. */
export function warningHeader(text: string): string {
  return `299 - "${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** What every handler reaches the server through: its dependencies, the open watches and the upgrade socket server. */
export interface Api {
  deps: ServerDeps;
  watches: WatchRegistry;
  upgrades: {
    wss: WebSocketServer;
    /** The subprotocol an upgrade handler chose for a request; ws answers with it. */
    chosenProtocol: WeakMap<IncomingMessage, string>;
  };
}
