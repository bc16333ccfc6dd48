/**
 * Turning whatever the Kubernetes client throws into one readable KubeApiError.
 *
 * Two families reach us:
 * - `ApiException` (client-node 2.x, also thrown by our own raw requests in client.ts): `.code` is the HTTP
 *   status, `.body` the response text, which is a `Status` JSON document for almost every API error and
 *   plain text for a few (`404 page not found` for an unknown API group).
 * - network failures from undici's fetch: `TypeError: fetch failed` whose `cause` (sometimes an
 *   AggregateError) carries a Node error code (ECONNREFUSED, ENOTFOUND, UND_ERR_CONNECT_TIMEOUT, TLS codes).
 *
 * Never put request headers or the `ApiException` message into the result: the library's message embeds
 * response headers, and request headers hold the bearer token.
 */
import { STATUS_CODES } from 'node:http';
import { ActionError, KubeApiError } from '../errors.js';
import { ApiException } from './client-node.js';

/** The `Status` kind the API server answers errors with. */
export interface KubeStatus {
  kind?: string;
  apiVersion?: string;
  status?: string;
  message?: string;
  reason?: string;
  code?: number;
  details?: {
    name?: string;
    group?: string;
    kind?: string;
    uid?: string;
    causes?: Array<{ reason?: string; message?: string; field?: string }>;
    retryAfterSeconds?: number;
  };
}

const RBAC_HINT = "Grant it in the Role bound to the action's credentials (see the README's RBAC section).";

/** An HTTP error answer, from client-node's ApiException or anything shaped like it. */
interface HttpErrorLike {
  code: number;
  body: unknown;
}

function isHttpError(err: unknown): err is HttpErrorLike {
  if (err instanceof ApiException) return true;
  return (
    typeof err === 'object' &&
    err !== null &&
    'code' in err &&
    typeof (err as { code: unknown }).code === 'number' &&
    'body' in err
  );
}

/** The body of an HTTP error as a Status, or as text when it is not one. */
export function parseErrorBody(body: unknown): { status?: KubeStatus; text?: string } {
  let value: unknown = body;
  if (value instanceof Uint8Array) value = Buffer.from(value).toString('utf8');
  if (typeof value === 'string') {
    const trimmed = value.trim();
    if (trimmed.startsWith('{')) {
      try {
        value = JSON.parse(trimmed);
      } catch {
        return { text: trimmed };
      }
    } else {
      return trimmed ? { text: trimmed } : {};
    }
  }
  if (typeof value === 'object' && value !== null) {
    const o = value as KubeStatus;
    if (o.kind === 'Status' || typeof o.message === 'string' || typeof o.reason === 'string')
      return { status: o };
  }
  return {};
}

/** HTTP status of an error (ApiException or KubeApiError), if it has one. */
export function httpStatusOf(err: unknown): number | undefined {
  if (err instanceof KubeApiError) return err.code;
  if (isHttpError(err)) return err.code;
  return undefined;
}

export function isNotFound(err: unknown): boolean {
  return httpStatusOf(err) === 404;
}

/** `reason` of the Status in an ApiException body (AlreadyExists, Conflict, ...). */
export function statusReasonOf(err: unknown): string | undefined {
  if (err instanceof KubeApiError) return err.reason;
  if (isHttpError(err)) return parseErrorBody(err.body).status?.reason;
  return undefined;
}

// ---------------------------------------------------------------------------------------------------------
// Network errors

export type NetworkFailure = 'unreachable' | 'dns' | 'timeout' | 'reset' | 'tls' | 'other';

const UNREACHABLE = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN', 'EADDRNOTAVAIL']);
const DNS = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL', 'EAI_NONAME']);
const TIMEOUT = new Set([
  'ETIMEDOUT',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'TimeoutError',
]);
const RESET = new Set([
  'ECONNRESET',
  'EPIPE',
  'ECONNABORTED',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH',
  'UND_ERR_RES_CONTENT_LENGTH_MISMATCH',
]);
const TLS_PATTERN = /CERT|SSL|TLS|UNABLE_TO_|SELF_SIGNED|^EPROTO$|HOSTNAME_MISMATCH/;

/**
 * The Node/undici error code found in an error or its `cause` chain (and AggregateError members),
 * e.g. `ECONNREFUSED`. `AbortSignal.timeout()` aborts surface as `TimeoutError`.
 */
export function networkErrorCode(err: unknown): string | undefined {
  const seen = new Set<unknown>();
  const queue: unknown[] = [err];
  while (queue.length > 0) {
    const e = queue.shift();
    if (typeof e !== 'object' || e === null || seen.has(e)) continue;
    seen.add(e);
    const { code, name, cause, errors } = e as {
      code?: unknown;
      name?: unknown;
      cause?: unknown;
      errors?: unknown;
    };
    if (typeof code === 'string' && code.length > 0) return code;
    if (name === 'TimeoutError') return 'TimeoutError';
    if (cause !== undefined) queue.push(cause);
    if (Array.isArray(errors)) queue.push(...errors);
  }
  return undefined;
}

export function classifyNetworkCode(code: string): NetworkFailure {
  if (UNREACHABLE.has(code)) return 'unreachable';
  if (DNS.has(code)) return 'dns';
  if (TIMEOUT.has(code)) return 'timeout';
  if (RESET.has(code)) return 'reset';
  if (TLS_PATTERN.test(code)) return 'tls';
  return 'other';
}

function isAbort(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { name?: unknown }).name === 'AbortError';
}

function networkHint(kind: NetworkFailure, code: string, server: string | undefined): string {
  const where = server ? ` (${server})` : '';
  const check =
    'Check the cluster address in the kubeconfig and that the runner can reach it: a private cluster needs a ' +
    'self-hosted runner or a network path from GitHub-hosted runners.';
  switch (kind) {
    case 'unreachable':
      return `Nothing accepted the connection to the API server${where}. ${check}`;
    case 'dns':
      return `The API server's host name${where} does not resolve. ${check}`;
    case 'timeout':
      return `The API server${where} did not answer in time. ${check}`;
    case 'reset':
      return `The connection to the API server${where} was dropped. This is usually transient; re-run the job if it persists.`;
    case 'tls':
      if (code === 'ERR_TLS_CERT_ALTNAME_INVALID' || code === 'HOSTNAME_MISMATCH')
        return (
          `The API server's certificate is not valid for the host name in the server URL${where}. ` +
          "Use the name the certificate was issued for, or set the cluster's tls-server-name."
        );
      if (code === 'CERT_HAS_EXPIRED')
        return `The API server's certificate${where} has expired (or the runner's clock is wrong).`;
      if (code === 'EPROTO' || code.startsWith('ERR_SSL'))
        return `The TLS handshake with${where || ' the API server'} failed: is the port right, and does it serve HTTPS?`;
      return (
        `The API server's certificate${where} is not signed by the kubeconfig's certificate-authority-data ` +
        '(CA mismatch; without one, by no CA the runner trusts). Take certificate-authority-data from the same ' +
        'cluster as the server URL.'
      );
    default:
      return check;
  }
}

// ---------------------------------------------------------------------------------------------------------
// API errors

const FORBIDDEN_RE =
  /User "([^"]+)" cannot (\S+) resource "([^"]+)"(?: in API group "([^"]*)")?(?: in the namespace "([^"]+)"| at the cluster scope)?/;

function forbiddenHint(message: string): string {
  const m = FORBIDDEN_RE.exec(message);
  if (!m) {
    if (/admission webhook|denied the request|violates PodSecurity|exceeded quota/i.test(message))
      return 'An admission policy of the cluster refused the request; adjust the template or ask the cluster admins.';
    return `The credentials lack a permission. ${RBAC_HINT}`;
  }
  const [, user, verb, resource, group, namespace] = m;
  const apiGroup = group ? `"${group}"` : '"" (core)';
  const scope = namespace ? `in namespace "${namespace}"` : 'at cluster scope';
  return `The RBAC Role of ${user} lacks verb "${verb}" on resource "${resource}" (apiGroup ${apiGroup}) ${scope}. ${RBAC_HINT}`;
}

function causesText(status: KubeStatus): string {
  const causes = status.details?.causes ?? [];
  return causes
    .map((c) => `  - ${c.field ? `${c.field}: ` : ''}${c.message ?? c.reason ?? ''}`)
    .filter((line) => line.trim() !== '-')
    .join('\n');
}

/** A server-side apply with fields the schema does not know: kube-apiserver answers 500 without a reason. */
function isUnknownFieldMessage(message: string): boolean {
  return /field not declared in schema|unknown field/.test(message);
}

function apiHint(code: number, status: KubeStatus | undefined, text: string | undefined): string | undefined {
  const reason = status?.reason;
  const message = status?.message ?? text ?? '';
  if (isUnknownFieldMessage(message))
    return 'The object has a field the API does not know (a typo, or a field from another API version). Fix the template.';
  if (code === 401 || reason === 'Unauthorized')
    return 'The API server rejected the credentials: the token expired or was revoked, or the kubeconfig belongs to another cluster. Update the kubeconfig secret.';
  if (code === 403 || reason === 'Forbidden') return forbiddenHint(message);
  if (code === 422 || reason === 'Invalid') {
    const causes = status ? causesText(status) : '';
    return causes ? `Invalid fields:\n${causes}\nFix the template.` : 'Fix the template.';
  }
  if (reason === 'AlreadyExists') return 'An object with this name already exists.';
  if (code === 409 || reason === 'Conflict') {
    if (/^Apply failed/.test(message)) {
      const causes = status ? causesText(status) : '';
      return `Another field manager owns these fields${causes ? `:\n${causes}` : '.'}`;
    }
    return 'The object changed while it was being updated; re-running the job usually resolves it.';
  }
  if (code === 404) {
    if (
      text !== undefined ||
      (status && !status.details?.name && /could not find the requested resource/.test(message))
    )
      return 'The cluster does not serve this API group, version or kind (is the CRD installed? is the apiVersion right?).';
    return undefined;
  }
  if (code === 410 || reason === 'Expired' || reason === 'Gone')
    return 'The request referred to stale data; retry.';
  if (code === 429 || code >= 500)
    return 'The API server had a temporary problem (overloaded or restarting); re-running the job usually helps.';
  if (code === 400 && /decoding|strict/.test(message))
    return 'The object does not match the API schema. Fix the template.';
  return undefined;
}

/** True for failures that are worth retrying: 429, 5xx (except schema errors), dropped or refused connections. */
export function isTransientError(err: unknown): boolean {
  if (isAbort(err)) return false;
  const k = err instanceof KubeApiError ? err : toKubeError(err, '');
  if (k.code !== undefined) {
    if (k.code === 429) return true;
    if (k.code >= 500) return !isUnknownFieldMessage(k.message);
    return false;
  }
  if (k.reason === undefined) return false;
  const kind = classifyNetworkCode(k.reason);
  return kind === 'unreachable' || kind === 'timeout' || kind === 'reset' || kind === 'dns';
}

/** `fetch failed: <cause>`: undici's outer message alone says nothing. */
function describeError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = err.cause;
  if (cause instanceof Error && cause.message && !err.message.includes(cause.message))
    return `${err.message}: ${cause.message}`;
  return err.message;
}

/**
 * Translate any error from a Kubernetes request into a KubeApiError whose message is
 * `"<what>: <Status.message> (<reason>, HTTP <code>)"` and whose hint says what to do.
 * For network failures `reason` holds the network code (ECONNREFUSED, ...) and `code` is undefined.
 */
export function toKubeError(err: unknown, what: string, ctx: { server?: string } = {}): KubeApiError {
  if (err instanceof KubeApiError) return err;
  const prefix = what ? `${what}: ` : '';

  if (isHttpError(err)) {
    const { status, text } = parseErrorBody(err.body);
    const code = err.code;
    const reason = status?.reason;
    const detail =
      status?.message ?? (text ? text.slice(0, 300) : (STATUS_CODES[code] ?? 'no details in the answer'));
    const tag = reason ? `${reason}, HTTP ${code}` : `HTTP ${code}`;
    return new KubeApiError(`${prefix}${detail} (${tag})`, code, reason, {
      hint: apiHint(code, status, text),
      details: status ? JSON.stringify(status) : text,
    });
  }

  if (err instanceof ActionError) {
    return new KubeApiError(`${prefix}${err.message}`, undefined, undefined, {
      hint: err.hint,
      details: err.details,
      cause: err,
    });
  }

  const code = networkErrorCode(err);
  if (code && !isAbort(err)) {
    if (code === 'ENOENT' || code === 'EACCES') {
      const msg = err instanceof Error ? err.message : String(err);
      return new KubeApiError(
        `${prefix}cannot read a file named in the kubeconfig: ${msg}`,
        undefined,
        code,
        {
          hint: 'Embed certificates and keys as *-data fields instead of file paths.',
        },
      );
    }
    const kind = classifyNetworkCode(code);
    const server = ctx.server && !what.includes(ctx.server) ? ` at ${ctx.server}` : '';
    const summary =
      kind === 'tls'
        ? `TLS connection to the Kubernetes API server${server} failed`
        : `cannot reach the Kubernetes API server${server}`;
    return new KubeApiError(`${prefix}${summary} (${code})`, undefined, code, {
      hint: networkHint(kind, code, ctx.server),
      details: err instanceof Error ? `${err.name}: ${err.message}` : undefined,
    });
  }

  if (isAbort(err)) return new KubeApiError(`${prefix}aborted`, undefined, 'Aborted');

  return new KubeApiError(`${prefix}${describeError(err)}`, undefined, undefined, { cause: err });
}
