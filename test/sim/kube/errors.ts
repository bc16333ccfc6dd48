/**
 * Status errors exactly as kube-apiserver words them (see test/fixtures/kube-api, section 4).
 * Anything in the simulator throws a StatusError; the HTTP layer turns it into the response.
 */
import type { Attributes } from './rbac.js';

export interface StatusCause {
  reason?: string;
  message: string;
  field?: string;
}

export interface StatusBody {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Failure';
  message: string;
  reason?: string;
  details?: { name?: string; group?: string; kind?: string; uid?: string; causes?: StatusCause[] };
  code: number;
}

export class StatusError extends Error {
  constructor(
    readonly code: number,
    readonly body: StatusBody | string,
    /** Content-Type for non-Status bodies (text/plain 404 of an unknown group, empty 403 of a port-forward). */
    readonly contentType?: string,
  ) {
    super(typeof body === 'string' ? body : body.message);
  }
}

function status(
  code: number,
  message: string,
  reason: string | undefined,
  details?: StatusBody['details'],
): StatusError {
  const body: StatusBody = {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
  } as StatusBody;
  if (reason !== undefined) body.reason = reason;
  if (details !== undefined) body.details = details;
  body.code = code;
  return new StatusError(code, body);
}

/** `deployments.apps` for grouped resources, `configmaps` for core ones. */
export function qualifiedResource(group: string, resource: string): string {
  return group ? `${resource}.${group}` : resource;
}

function groupDetails(group: string, resource: string, name?: string): StatusBody['details'] {
  const d: NonNullable<StatusBody['details']> = {};
  if (name !== undefined) d.name = name;
  if (group) d.group = group;
  d.kind = resource;
  return d;
}

/** An error about one object, worded around its `deployments.apps "web"`. */
function objectError(
  code: number,
  reason: string,
  o: { group: string; resource: string; name: string },
  says: (object: string) => string,
): StatusError {
  const object = `${qualifiedResource(o.group, o.resource)} "${o.name}"`;
  return status(code, says(object), reason, groupDetails(o.group, o.resource, o.name));
}

export const errors = {
  notFound(group: string, resource: string, name: string): StatusError {
    return objectError(404, 'NotFound', { group, resource, name }, (o) => `${o} not found`);
  },
  /** Unknown resource or version in a known group. */
  resourceNotFound(): StatusError {
    return status(404, 'the server could not find the requested resource', 'NotFound', {});
  },
  /** Unknown API group: the real server answers from its mux with plain text. */
  pageNotFound(): StatusError {
    return new StatusError(404, '404 page not found\n', 'text/plain; charset=utf-8');
  },
  alreadyExists(group: string, resource: string, name: string): StatusError {
    return objectError(409, 'AlreadyExists', { group, resource, name }, (o) => `${o} already exists`);
  },
  conflict(group: string, resource: string, name: string): StatusError {
    return objectError(
      409,
      'Conflict',
      { group, resource, name },
      (o) =>
        `Operation cannot be fulfilled on ${o}: the object has been modified; please apply your changes to the latest version and try again`,
    );
  },
  /** Server-side apply conflicts: fields are `.spec.replicas` style paths. */
  applyConflict(conflicts: Array<{ manager: string; field: string }>): StatusError {
    const n = conflicts.length;
    const lines = conflicts.map((c) => `conflict with "${c.manager}": ${c.field}`);
    const message =
      n === 1
        ? `Apply failed with 1 conflict: ${lines[0]}`
        : `Apply failed with ${n} conflicts: ${lines.join('\n')}`;
    return status(409, message, 'Conflict', {
      causes: conflicts.map((c) => ({
        reason: 'FieldManagerConflict',
        message: `conflict with "${c.manager}"`,
        field: c.field,
      })),
    });
  },
  /** 422: `Deployment.apps "x" is invalid: <field>: <message>` (causes joined with ", ", in brackets when several). */
  invalid(
    kind: string,
    group: string,
    name: string,
    causes: Array<Required<Pick<StatusCause, 'field' | 'message'>> & { reason: string }>,
  ): StatusError {
    const qualifiedKind = group ? `${kind}.${group}` : kind;
    const parts = causes.map((c) => `${c.field}: ${c.message}`);
    const joined = parts.length === 1 ? parts[0] : `[${parts.join(', ')}]`;
    const details: NonNullable<StatusBody['details']> = { name };
    if (group) details.group = group;
    details.kind = kind;
    details.causes = causes.map((c) => ({ reason: c.reason, message: c.message, field: c.field }));
    return status(422, `${qualifiedKind} "${name}" is invalid: ${joined}`, 'Invalid', details);
  },
  /** The json-patch `test` failure and similar: generic 422 with empty details. */
  invalidGeneric(): StatusError {
    return status(422, 'the server rejected our request due to an error in our request', 'Invalid', {});
  },
  badRequest(message: string): StatusError {
    return status(400, message, 'BadRequest');
  },
  unauthorized(): StatusError {
    return status(401, 'Unauthorized', 'Unauthorized');
  },
  forbidden(opts: Attributes & { user: string }): StatusError {
    const res = opts.subresource ? `${opts.resource}/${opts.subresource}` : opts.resource;
    const subject = opts.name
      ? `${qualifiedResource(opts.group, opts.resource)} "${opts.name}"`
      : qualifiedResource(opts.group, opts.resource);
    const scope = opts.namespace ? ` in the namespace "${opts.namespace}"` : ' at the cluster scope';
    return status(
      403,
      `${subject} is forbidden: User "${opts.user}" cannot ${opts.verb} resource "${res}" in API group "${opts.group}"${scope}`,
      'Forbidden',
      groupDetails(opts.group, opts.resource, opts.name),
    );
  },
  /** A 403 from a registry rather than the authorizer: `<resource>.<group> "<name>" is forbidden: <why>`. */
  forbiddenBecause(group: string, resource: string, name: string, why: string): StatusError {
    return status(
      403,
      `${qualifiedResource(group, resource)} "${name}" is forbidden: ${why}`,
      'Forbidden',
      groupDetails(group, resource, name),
    );
  },
  methodNotAllowed(): StatusError {
    return status(
      405,
      'the server does not allow this method on the requested resource',
      'MethodNotAllowed',
      {},
    );
  },
  unsupportedMediaType(): StatusError {
    return status(415, '415: Unsupported Media Type', 'UnsupportedMediaType', {});
  },
  /** 500 with no reason, as the SSA typed-patch failure is reported. */
  internalNoReason(message: string): StatusError {
    return status(500, message, undefined);
  },
  internal(message: string): StatusError {
    return status(500, `Internal error occurred: ${message}`, 'InternalError', { causes: [{ message }] });
  },
  tooManyRequests(retryAfterSeconds: number): StatusError {
    return status(429, 'Too many requests, please try again later.', 'TooManyRequests', {
      retryAfterSeconds,
    } as StatusBody['details']);
  },
  serviceUnavailable(message = 'the server is currently unable to handle the request'): StatusError {
    return status(503, message, 'ServiceUnavailable');
  },
  /** 422 for SSA without fieldManager (fixture 063): PatchOptions has no name, so details carry none. */
  fieldManagerRequired(): StatusError {
    const message = 'Required value: is required for apply patch';
    return status(422, `PatchOptions.meta.k8s.io "" is invalid: fieldManager: ${message}`, 'Invalid', {
      group: 'meta.k8s.io',
      kind: 'PatchOptions',
      causes: [{ reason: 'FieldValueRequired', message, field: 'fieldManager' }],
    });
  },
  /** DeleteOptions/update preconditions that do not hold. */
  preconditionFailed(message: string): StatusError {
    return status(409, message, 'Conflict', {});
  },
  /** The NamespaceLifecycle admission plugin's answer to a create in a terminating namespace. */
  namespaceTerminating(group: string, resource: string, name: string, namespace: string): StatusError {
    const d = groupDetails(group, resource, name) ?? {};
    d.causes = [
      {
        reason: 'NamespaceTerminating',
        message: `namespace ${namespace} is being terminated`,
        field: 'metadata.namespace',
      },
    ];
    return status(
      403,
      `${qualifiedResource(group, resource)} "${name}" is forbidden: unable to create new content in namespace ${namespace} because it is being terminated`,
      'Forbidden',
      d,
    );
  },
  /** A watch from a resourceVersion older than the retained history (sent as an ERROR watch event). */
  expired(requested: string, oldest: string): StatusError {
    return status(410, `too old resource version: ${requested} (${oldest})`, 'Expired');
  },
};
