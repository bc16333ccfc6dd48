/**
 * How ingress-nginx turns the Ingresses it serves into nginx servers and locations (controller.go
 * createServers/getBackendServers), and which location a request gets.
 *
 * - Ingresses are taken oldest first (creationTimestamp, then namespace/name): the first to claim a host, a
 *   path of a type, or the TLS of a host wins, as in ingress-nginx.
 * - A server per rule host (`_`, the catch-all, for rules without host). Its root location, used when no path
 *   matches, is the `defaultBackend` of the Ingress that created the server, else the controller's default
 *   backend (404). An Ingress with a `defaultBackend` and no rules gives the catch-all its root.
 * - Host: exact, then `*.suffix` for exactly one label (ingress-nginx turns wildcards into a one-label regex),
 *   then the catch-all. Case-insensitive, port and trailing dot ignored.
 * - Path: an Exact location equal to the path first, then the longest matching Prefix (by path elements, `/foo`
 *   matches `/foo` and `/foo/bar`, not `/foobar`). ImplementationSpecific is treated as Prefix here; nginx
 *   would treat it as a plain string prefix.
 */
import { posix } from 'node:path';
import type { SimObject } from '../types.js';

export interface BackendRef {
  namespace: string;
  service: string;
  /** The Service's port: its number or its name. */
  port: number | string;
}

export type PathType = 'Exact' | 'Prefix' | 'ImplementationSpecific';

/** What ingress-nginx reads from an Ingress's annotations that changes how a request is answered. */
export interface LocationSettings {
  sslRedirect: boolean;
  forceSslRedirect: boolean;
  /** proxy-body-size in bytes; 0 is no limit. */
  maxBodyBytes: number;
}

export interface Location {
  path: string;
  type: PathType;
  backend: BackendRef;
  /** namespace/name of the Ingress the location comes from. */
  ingress: string;
  settings: LocationSettings;
}

export interface Server {
  /** The rule host, `*.suffix`, or `_` for the catch-all. */
  hostname: string;
  /** The Ingress defaultBackend used when no location matches; undefined is the default backend (404). */
  root?: BackendRef;
  rootSettings: LocationSettings;
  locations: Location[];
  /** Set when an Ingress with a rule for this host lists the host in `spec.tls`. */
  tls?: { namespace: string; secretName?: string };
}

export interface RouteTable {
  servers: Map<string, Server>;
  catchAll: Server;
}

export interface Route {
  server: Server;
  /** undefined: the controller's default backend, 404. */
  backend?: BackendRef;
  settings: LocationSettings;
}

const ANNOTATION = 'nginx.ingress.kubernetes.io/';
const DEFAULT_SETTINGS: LocationSettings = {
  sslRedirect: true,
  forceSslRedirect: false,
  maxBodyBytes: 1024 * 1024,
};

/** nginx sizes: a number with an optional k/m/g suffix. Anything else keeps the default, as a bad annotation does. */
function parseSize(v: string | undefined, fallback: number): number {
  const m = /^\s*(\d+)\s*([kKmMgG]?)\s*$/.exec(v ?? '');
  if (!m) return fallback;
  const unit = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[(m[2] ?? '').toLowerCase()] ?? 1;
  return Number(m[1]) * unit;
}

function settingsOf(ing: SimObject): LocationSettings {
  const a = ing.metadata.annotations ?? {};
  const bool = (k: string, d: boolean) => {
    const v = a[ANNOTATION + k];
    return v === 'true' ? true : v === 'false' ? false : d;
  };
  return {
    sslRedirect: bool('ssl-redirect', DEFAULT_SETTINGS.sslRedirect),
    forceSslRedirect: bool('force-ssl-redirect', DEFAULT_SETTINGS.forceSslRedirect),
    maxBodyBytes: parseSize(a[`${ANNOTATION}proxy-body-size`], DEFAULT_SETTINGS.maxBodyBytes),
  };
}

interface IngressBackend {
  service?: { name?: string; port?: { number?: number; name?: string } };
}

function backendOf(namespace: string, b: IngressBackend | undefined): BackendRef | undefined {
  const svc = b?.service;
  // A `resource` backend (an object of another kind) is not emulated: it routes nowhere.
  if (!svc?.name) return undefined;
  const port = svc.port?.number ?? svc.port?.name;
  if (port === undefined || port === '') return undefined;
  return { namespace, service: svc.name, port };
}

function byAge(a: SimObject, b: SimObject): number {
  const ta = a.metadata.creationTimestamp ?? '';
  const tb = b.metadata.creationTimestamp ?? '';
  if (ta !== tb) return ta < tb ? -1 : 1;
  const ka = `${a.metadata.namespace}/${a.metadata.name}`;
  const kb = `${b.metadata.namespace}/${b.metadata.name}`;
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

export function normalizeHost(host: string): string {
  let h = host.trim().toLowerCase();
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    return end > 0 ? h.slice(0, end + 1) : h;
  }
  const colon = h.indexOf(':');
  if (colon >= 0) h = h.slice(0, colon);
  return h.endsWith('.') ? h.slice(0, -1) : h;
}

interface Rule {
  host?: string;
  http?: { paths?: Array<{ path?: string; pathType?: PathType; backend?: IngressBackend }> };
}

export function buildRoutes(ingresses: SimObject[]): RouteTable {
  const sorted = [...ingresses].sort(byAge);
  const catchAll: Server = { hostname: '_', rootSettings: DEFAULT_SETTINGS, locations: [] };
  const servers = new Map<string, Server>([['_', catchAll]]);
  const rulesOf = (ing: SimObject) => (ing.spec?.rules ?? []) as Rule[];
  const hostOf = (r: Rule) => normalizeHost(r.host ?? '') || '_';

  for (const ing of sorted) {
    const ns = ing.metadata.namespace ?? 'default';
    const def = backendOf(ns, ing.spec?.defaultBackend);
    const rules = rulesOf(ing);
    if (def && rules.length === 0 && !catchAll.root) {
      catchAll.root = def;
      catchAll.rootSettings = settingsOf(ing);
    }
    for (const rule of rules) {
      const host = hostOf(rule);
      if (servers.has(host)) continue;
      servers.set(host, { hostname: host, root: def, rootSettings: settingsOf(ing), locations: [] });
    }
  }

  for (const ing of sorted) {
    const ns = ing.metadata.namespace ?? 'default';
    const settings = settingsOf(ing);
    for (const rule of rulesOf(ing)) {
      const server = servers.get(hostOf(rule));
      if (!server) continue;
      for (const p of rule.http?.paths ?? []) {
        const backend = backendOf(ns, p.backend);
        if (!backend) continue;
        const type: PathType = p.pathType ?? 'ImplementationSpecific';
        let path = p.path || '/';
        if (type !== 'Exact' && path.length > 1 && path.endsWith('/')) path = path.replace(/\/+$/, '') || '/';
        const sameKind = (l: Location) => l.path === path && (l.type === 'Exact') === (type === 'Exact');
        if (server.locations.some(sameKind)) continue;
        server.locations.push({ path, type, backend, ingress: `${ns}/${ing.metadata.name}`, settings });
      }
    }
  }

  for (const ing of sorted) {
    const tls = (ing.spec?.tls ?? []) as Array<{ hosts?: string[]; secretName?: string }>;
    if (tls.length === 0) continue;
    for (const rule of rulesOf(ing)) {
      const host = hostOf(rule);
      const server = servers.get(host);
      if (!server || server.tls || host === '_') continue;
      const entry = tls.find((t) => (t.hosts ?? []).some((h) => normalizeHost(h) === host));
      if (entry)
        server.tls = { namespace: ing.metadata.namespace ?? 'default', secretName: entry.secretName };
    }
  }
  return { servers, catchAll };
}

/** The server for a Host header or SNI name. */
export function matchServer(table: RouteTable, host: string): Server {
  const h = normalizeHost(host);
  const exact = table.servers.get(h);
  if (exact) return exact;
  const dot = h.indexOf('.');
  if (dot > 0) {
    const wildcard = table.servers.get(`*${h.slice(dot)}`);
    if (wildcard) return wildcard;
  }
  return table.catchAll;
}

/** The request path as nginx matches it: no query, percent-decoded, slashes merged, dot segments resolved. */
export function normalizePath(url: string): string {
  let p = url;
  const q = p.search(/[?#]/);
  if (q >= 0) p = p.slice(0, q);
  try {
    p = decodeURIComponent(p);
  } catch {
    // nginx leaves a malformed escape as it is.
  }
  if (!p.startsWith('/')) p = `/${p}`;
  const trailing = p.endsWith('/');
  p = posix.normalize(p);
  if (trailing && !p.endsWith('/')) p += '/';
  return p;
}

function locationMatches(l: Location, path: string): boolean {
  if (l.type === 'Exact') return path === l.path;
  return l.path === '/' || path === l.path || path.startsWith(`${l.path}/`);
}

export function route(table: RouteTable, host: string, url: string): Route {
  const server = matchServer(table, host);
  const path = normalizePath(url);
  let chosen = server.locations.find((l) => l.type === 'Exact' && l.path === path);
  if (!chosen) {
    for (const l of server.locations) {
      if (l.type !== 'Exact' && locationMatches(l, path) && (!chosen || l.path.length > chosen.path.length))
        chosen = l;
    }
  }
  if (chosen) return { server, backend: chosen.backend, settings: chosen.settings };
  return { server, backend: server.root, settings: server.rootSettings };
}
