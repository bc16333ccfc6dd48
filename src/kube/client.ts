/**
 * The connection to the cluster: kubeconfig checks, one shared HTTP configuration, raw JSON requests,
 * discovery, and the first contact (`/version`, namespace).
 *
 * Why raw JSON requests next to client-node's typed APIs: the generated APIs (and `KubernetesObjectApi`
 * for built-in kinds) pass every object through the generated models. On the way out that silently drops
 * fields the model does not know (so a typo in a template is never seen by the API server, which would
 * reject it) and strips CRD schema fields; on the way in it turns timestamps into `Date`s and drops unknown
 * fields. The rest of the action works on plain JSON (`KubeObject`), the same JSON the API server sends and
 * the fixtures record. So `request()` sends and returns JSON as is, and uses client-node for what it does
 * well: kubeconfig authentication (tokens, client certificates, exec plugins, proxies) via
 * `KubeConfig.applySecurityAuthentication`, its undici-based HTTP library, discovery
 * (`KubernetesObjectApi.resource`), `/version` (`VersionApi`), and its `ApiException` for errors.
 */
import type { Configuration, KubeConfig, RequestContext, ResponseContext } from '@kubernetes/client-node';
import { InputError } from '../errors.js';
import { type KubeLog, noopLog } from '../util/log.js';
import { ApiException, type ClientNodeModule, clientNode } from './client-node.js';
import { scopeOf } from './discovery.js';
import { httpStatusOf, isNotFound, toKubeError } from './errors.js';
import { loadKubeconfig } from './kubeconfig.js';
import { isDns1123Label } from './names.js';
import { DEFAULT_RETRY_POLICY, type RetryPolicy, withRetry } from './retry.js';
import { type ApiResource, type Scope, type TypeRef, typeKey } from './types.js';

export { secretsOf } from './kubeconfig.js';
// Defined beside TypeRef so that discovery.ts needs nothing from this file (it is imported by it).
export type { ApiResource } from './types.js';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface KubeRequest {
  method: HttpMethod;
  /** API path, e.g. `/apis/apps/v1/namespaces/ns/deployments/name`. */
  path: string;
  query?: Record<string, string | number | boolean | undefined>;
  /** Sent as JSON (JSON is also valid YAML, so this serves `application/apply-patch+yaml` too). */
  body?: unknown;
  /** Default `application/json` when there is a body. */
  contentType?: string;
  /** Per-request timeout; default: the client's (30 s). */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface KubeResponse<T> {
  status: number;
  body: T;
}

export interface KubeClient {
  /** API server URL, no trailing slash. Safe to print. */
  readonly server: string;
  /** The namespace every object of the environment lives in. */
  readonly namespace: string;
  /** For modules that need client-node's own machinery (exec, port-forward). */
  readonly kubeConfig: KubeConfig;
  /**
   * A JSON request. Resolves for 2xx with the parsed body; rejects with client-node's `ApiException`
   * (`.code`, `.body` = response text) for other statuses, and with the fetch error for network failures.
   * Callers turn both into KubeApiError with `toKubeError`.
   *
   * Transient failures (429, 5xx, dropped connections) are retried within the client's retry policy (see
   * retry.ts), for every method: GET, PATCH (server-side apply) and DELETE are idempotent, and a POST that
   * fails after an attempt whose outcome is unknown rejects with an error marked `followsUncertainAttempt`.
   * One exception to "2xx only": a DELETE answered 404 after such an attempt resolves with status 404, since
   * the object is gone, which is what the caller asked for.
   */
  request<T = unknown>(req: KubeRequest): Promise<KubeResponse<T>>;
  /** Discovery, cached per client: the resource serving `type`, or undefined if the cluster does not serve it. */
  resource(type: TypeRef): Promise<ApiResource | undefined>;
  /** `Namespaced`, `Cluster`, or undefined when the cluster does not serve the kind (discovery, cached). */
  scopeOf(type: TypeRef): Promise<Scope | undefined>;
  /**
   * A watch (`GET <path>?watch=true`) through client-node's `Watch`: `onEvent` gets each event's type, until
   * the server ends the watch, `signal` aborts it, or 30 s pass without data. Resolves when it ends that way;
   * rejects with what ended it otherwise (`statusCode` is set when the server refused it). Not retried.
   */
  watch?(
    path: string,
    query: Record<string, string>,
    onEvent: (type: string) => void,
    signal: AbortSignal,
  ): Promise<void>;
  /** Release pooled connections. Never rejects. */
  close(): Promise<void>;
}

export interface ConnectArgs {
  /** Kubeconfig YAML text (or base64 of it). */
  kubeconfig: string;
  /** The `context` input. */
  context?: string;
  namespace: string;
  /** The `allow-kubeconfig-exec` input. */
  allowExec?: boolean;
  log?: KubeLog;
  /** Per-request timeout, default 30 s. */
  requestTimeoutMs?: number;
  /** How transient failures are retried; default DEFAULT_RETRY_POLICY (60 s, 8 attempts per call). */
  retry?: Partial<RetryPolicy>;
}

const USER_AGENT = 'preevy-kube-action';
const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

type Dispatcher = ReturnType<RequestContext['getDispatcher']>;

/** Each client's configuration (its middleware and shared connection), for the typed APIs used here. */
const configurations = new WeakMap<KubeClient, Configuration>();

/** `KubernetesObjectApi.resource()` is protected; a subclass is the only way to reuse its discovery. */
function discoveryApi(k8s: ClientNodeModule, configuration: Configuration) {
  return new (class DiscoveryApi extends k8s.KubernetesObjectApi {
    lookup(apiVersion: string, kind: string) {
      return this.resource(apiVersion, kind);
    }
  })(configuration);
}

/**
 * A client for an already checked kubeconfig (no network traffic yet).
 * `connect()` is the normal entry point; this one is for tests and callers that did their own checks.
 */
export async function createKubeClient(
  kc: KubeConfig,
  opts: {
    server: string;
    namespace: string;
    requestTimeoutMs?: number;
    log?: KubeLog;
    retry?: Partial<RetryPolicy>;
  },
): Promise<KubeClient> {
  const k8s = await clientNode();
  const log = opts.log ?? noopLog;
  const server = opts.server.replace(/\/+$/, '');
  const timeoutMs = opts.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  const policy: RetryPolicy = { ...DEFAULT_RETRY_POLICY, ...opts.retry };
  // Until the server has answered once, a refused connection means a wrong address more often than a restart.
  let reached = false;
  const retrying = <T>(
    what: string,
    fn: (remainingMs: number, uncertain: boolean) => Promise<T>,
    signal?: AbortSignal,
  ) =>
    withRetry(
      async ({ remainingMs, uncertain }) => {
        try {
          return await fn(remainingMs, uncertain);
        } catch (err) {
          if (httpStatusOf(err) !== undefined) reached = true;
          throw err;
        }
      },
      { what, policy, log, signal, reachedServer: () => reached },
    );

  // client-node builds a new undici Agent (a new connection pool, a new TLS handshake) for every request.
  // Keep the first one and reuse it: the TLS material of a kubeconfig does not change during a run.
  let shared: Dispatcher | undefined;
  let haveShared = false;
  const prepare = (ctx: RequestContext, requestTimeoutMs: number, signal?: AbortSignal): RequestContext => {
    if (haveShared) {
      if (shared) ctx.setDispatcher(shared);
    } else {
      shared = ctx.getDispatcher();
      haveShared = true;
    }
    ctx.setHeaderParam('User-Agent', USER_AGENT);
    const signals = [AbortSignal.timeout(requestTimeoutMs)];
    const existing = ctx.getSignal();
    if (existing) signals.push(existing);
    if (signal) signals.push(signal);
    ctx.setSignal(AbortSignal.any(signals));
    return ctx;
  };

  const configuration: Configuration = k8s.createConfiguration({
    baseServer: new k8s.ServerConfiguration(server, {}),
    authMethods: { default: kc },
    promiseMiddleware: [
      {
        pre: async (ctx: RequestContext) => prepare(ctx, timeoutMs),
        post: async (rsp: ResponseContext) => rsp,
      },
    ],
  });
  const discovery = discoveryApi(k8s, configuration);
  const discovered = new Map<string, Promise<ApiResource | undefined>>();

  const attempt = async <T>(
    req: KubeRequest,
    remainingMs: number,
    uncertain: boolean,
  ): Promise<KubeResponse<T>> => {
    const ctx = configuration.baseServer.makeRequestContext(req.path, req.method);
    for (const [k, v] of Object.entries(req.query ?? {}))
      if (v !== undefined) ctx.setQueryParam(k, String(v));
    ctx.setHeaderParam('Accept', 'application/json');
    if (req.body !== undefined) {
      ctx.setHeaderParam('Content-Type', req.contentType ?? 'application/json');
      ctx.setBody(typeof req.body === 'string' ? req.body : JSON.stringify(req.body));
    }
    await kc.applySecurityAuthentication(ctx);
    // The budget bounds the call, so the last attempt gets only what is left of it (and at least a second).
    prepare(ctx, Math.max(1000, Math.min(req.timeoutMs ?? timeoutMs, remainingMs)), req.signal);
    const rsp = await configuration.httpApi.send(ctx).toPromise();
    reached = true;
    const text = await rsp.body.text();
    if (rsp.httpStatusCode === 404 && req.method === 'DELETE' && uncertain) {
      log.debug(`${req.method} ${req.path}: 404 after an attempt whose answer was lost: deleted by it`);
      return { status: 404, body: undefined as T };
    }
    if (rsp.httpStatusCode < 200 || rsp.httpStatusCode > 299) {
      const headers: Record<string, string> = {};
      for (const name of ['content-type', 'retry-after']) {
        const v = rsp.headers[name];
        if (v) headers[name] = v;
      }
      throw new ApiException<string>(rsp.httpStatusCode, `${req.method} ${req.path}`, text, headers);
    }
    let body: unknown = text;
    // A log (text/plain) may well start with `{`: only JSON answers are parsed.
    const plain = (rsp.headers['content-type'] ?? '').startsWith('text/plain');
    if (!plain && (text.trim().startsWith('{') || text.trim().startsWith('['))) body = JSON.parse(text);
    else if (text === '') body = undefined;
    return { status: rsp.httpStatusCode, body: body as T };
  };

  const request = <T>(req: KubeRequest): Promise<KubeResponse<T>> =>
    retrying(
      `${req.method} ${req.path}`,
      (remainingMs, uncertain) => attempt<T>(req, remainingMs, uncertain),
      req.signal,
    );

  const lookup = async (type: TypeRef): Promise<ApiResource | undefined> => {
    try {
      const r = await retrying(`discover ${typeKey(type)}`, async () => {
        const found = await discovery.lookup(type.apiVersion, type.kind);
        reached = true;
        return found;
      });
      if (!r) return undefined;
      return { name: r.name, kind: r.kind, namespaced: r.namespaced, verbs: r.verbs ?? [] };
    } catch (err) {
      // An unknown group answers `404 page not found`, an unknown version of a known group a 404 Status.
      if (isNotFound(err)) return undefined;
      throw toKubeError(err, `discover ${typeKey(type)}`, { server });
    }
  };

  const client: KubeClient = {
    server,
    namespace: opts.namespace,
    kubeConfig: kc,
    request,
    scopeOf: (type: TypeRef) => scopeOf(client, type),
    resource(type: TypeRef) {
      const key = typeKey(type);
      let p = discovered.get(key);
      if (!p) {
        p = lookup(type);
        // Do not remember failures (a network hiccup), only answers.
        p.catch(() => discovered.delete(key));
        discovered.set(key, p);
        log.debug(`discovery: ${key}`);
      }
      return p;
    },
    watch(path, query, onEvent, signal) {
      return new Promise<void>((resolve, reject) => {
        let controller: AbortController | undefined;
        const onAbort = () => controller?.abort();
        signal.addEventListener('abort', onAbort, { once: true });
        const end = (err: unknown) => {
          signal.removeEventListener('abort', onAbort);
          if (err && !signal.aborted) reject(err);
          else resolve();
        };
        new k8s.Watch(kc)
          .watch(path, query, (type: string) => onEvent(type), end)
          .then((c) => {
            controller = c;
            if (signal.aborted) c.abort();
          }, end);
      });
    },
    async close() {
      const d = shared as { close?: () => Promise<void> } | undefined;
      haveShared = false;
      shared = undefined;
      try {
        if (d && typeof d.close === 'function') await d.close();
      } catch (err) {
        log.debug(`closing the connection pool: ${err instanceof Error ? err.message : String(err)}`);
      }
    },
  };
  configurations.set(client, configuration);
  return client;
}

/**
 * `/version` through client-node's VersionApi: the cheapest request that proves address, TLS and credentials.
 * It goes through the client's own configuration, so its connection (and TLS handshake) is the one every later
 * request reuses.
 */
async function serverVersion(client: KubeClient): Promise<string> {
  const k8s = await clientNode();
  const configuration = configurations.get(client);
  if (!configuration) throw new Error('serverVersion: not a client of createKubeClient');
  const info = await new k8s.VersionApi(configuration).getCode();
  return info.gitVersion;
}

/**
 * Check the kubeconfig, connect, and check that the namespace exists.
 * Throws InputError for a bad kubeconfig/context/namespace, KubeApiError when the cluster cannot be used.
 */
export async function connect(args: ConnectArgs): Promise<KubeClient> {
  const log = args.log ?? noopLog;
  if (!isDns1123Label(args.namespace)) {
    throw new InputError('namespace', `"${args.namespace}" is not a valid namespace name`, {
      hint: 'Lower-case letters, digits and "-", at most 63 characters.',
    });
  }
  const loaded = await loadKubeconfig(args.kubeconfig, { context: args.context, allowExec: args.allowExec });
  for (const w of loaded.warnings) log.warning(w);
  const client = await createKubeClient(loaded.kc, {
    server: loaded.server,
    namespace: args.namespace,
    requestTimeoutMs: args.requestTimeoutMs,
    log,
    retry: args.retry,
  });

  let version: string;
  try {
    let answered = false;
    version = await withRetry(
      () =>
        serverVersion(client).catch((err: unknown) => {
          if (httpStatusOf(err) !== undefined) answered = true;
          throw err;
        }),
      {
        what: 'GET /version',
        policy: { ...DEFAULT_RETRY_POLICY, ...args.retry },
        log,
        reachedServer: () => answered,
      },
    );
  } catch (err) {
    await client.close();
    throw toKubeError(err, `Connecting to ${loaded.server} (context "${loaded.contextName}")`, {
      server: loaded.server,
    });
  }
  log.info(`Connected to ${loaded.server} (Kubernetes ${version}), context "${loaded.contextName}".`);

  try {
    await client.request({ method: 'GET', path: `/api/v1/namespaces/${args.namespace}` });
  } catch (err) {
    const k = toKubeError(err, `check namespace "${args.namespace}"`, { server: loaded.server });
    if (k.code === 403) {
      // A namespace-scoped ServiceAccount may not read Namespace objects: we cannot tell, go on.
      log.debug(`Cannot read namespace "${args.namespace}" (403); assuming it exists.`);
    } else if (k.code === 404) {
      await client.close();
      throw new InputError('namespace', `"${args.namespace}" does not exist on ${loaded.server}`, {
        hint: 'Create it (kubectl create namespace ...) or fix the namespace input.',
      });
    } else {
      await client.close();
      throw k;
    }
  }
  return client;
}
