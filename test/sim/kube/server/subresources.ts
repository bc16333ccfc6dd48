/** Subresources (status, pods/log, serviceaccounts/token, the non-upgrade exec answer) and the create-only reviews. */
import { errors } from '../errors.js';
import type { Attributes, Identity } from '../rbac.js';
import { apiVersionOf } from '../resources.js';
import { rfc3339 } from '../store.js';
import type { ResourceType, SimObject } from '../types.js';
import { now } from './checks.js';
import {
  applyConfiguration,
  applyPatch,
  decode,
  decodeObject,
  fieldManagerFor,
  patchKind,
  recordUpdate,
} from './content.js';
import { mustGet } from './reads.js';
import { type Api, type Ctx, isObject, type Reply, type ResourcePath } from './types.js';

export function subresource(api: Api, ctx: Ctx, t: ResourceType, p: ResourcePath): Reply {
  const sub = p.subresource as string;
  if (p.name === undefined) throw errors.resourceNotFound();
  if (sub === 'status') return statusSubresource(api, ctx, t, p);
  if (t.group === '' && t.resource === 'pods' && ['exec', 'attach', 'portforward'].includes(sub)) {
    if (ctx.method !== 'GET' && ctx.method !== 'POST') throw errors.methodNotAllowed();
    mustGet(api, t, p);
    throw errors.badRequest('Upgrade request required');
  }
  if (t.group === '' && t.resource === 'pods' && sub === 'log' && api.deps.podLog) {
    if (ctx.method !== 'GET') throw errors.methodNotAllowed();
    const pod = mustGet(api, t, p);
    return { status: 200, body: api.deps.podLog(pod, ctx.url.searchParams), contentType: 'text/plain' };
  }
  if (t.group === '' && t.resource === 'serviceaccounts' && sub === 'token') {
    if (ctx.method !== 'POST') throw errors.methodNotAllowed();
    return tokenRequest(api, ctx, t, p);
  }
  throw errors.resourceNotFound();
}

export function statusSubresource(api: Api, ctx: Ctx, t: ResourceType, p: ResourcePath): Reply {
  const existing = mustGet(api, t, p);
  const { store } = api.deps;
  const record = (updated: SimObject) => recordUpdate(api, ctx, t, updated, existing, 'status');
  switch (ctx.method) {
    case 'GET':
      return { status: 200, body: existing };
    case 'PUT': {
      const obj = decodeObject(api, t, p, decode(ctx, true));
      if (obj.metadata.name !== p.name) {
        throw errors.badRequest(
          `the name of the object (${obj.metadata.name ?? ''}) does not match the name on the URL (${p.name})`,
        );
      }
      return { status: 200, body: store.updateStatus(record(obj)) };
    }
    case 'PATCH': {
      const kind = patchKind(ctx);
      if (kind === 'apply') {
        const manager = ctx.url.searchParams.get('fieldManager');
        if (!manager) throw errors.fieldManagerRequired();
        const applied = decodeObject(api, t, p, decode(ctx, true));
        return {
          status: 200,
          body: store.updateStatus(applyConfiguration(api, ctx, t, p, existing, applied, manager)),
        };
      }
      const obj = applyPatch(api, ctx, t, kind, existing);
      return { status: 200, body: store.updateStatus(record(obj)) };
    }
    default:
      throw errors.methodNotAllowed();
  }
}

export function tokenRequest(api: Api, ctx: Ctx, t: ResourceType, p: ResourcePath): Reply {
  const sa = mustGet(api, t, p);
  const raw = ctx.body.length ? decode(ctx, true) : {};
  const spec = (isObject(raw) && isObject(raw.spec) ? raw.spec : {}) as {
    expirationSeconds?: number;
    audiences?: string[];
    boundObjectRef?: unknown;
  };
  const expirationSeconds = spec.expirationSeconds ?? 3600;
  if (expirationSeconds < 600) {
    throw errors.invalid('TokenRequest', 'authentication.k8s.io', '', [
      {
        reason: 'FieldValueInvalid',
        field: 'spec.expirationSeconds',
        message: 'Invalid value: "": may not specify a duration less than 10 minutes',
      },
    ]);
  }
  const audiences = spec.audiences?.length
    ? spec.audiences
    : ['https://kubernetes.default.svc.cluster.local'];
  const { token, expirationTimestamp } = api.deps.authn.issueServiceAccountToken(
    sa,
    expirationSeconds,
    audiences,
  );
  const issued = now(api);
  return {
    status: 201,
    body: {
      kind: 'TokenRequest',
      apiVersion: 'authentication.k8s.io/v1',
      metadata: {
        name: sa.metadata.name,
        namespace: sa.metadata.namespace,
        creationTimestamp: issued,
        managedFields: [
          {
            manager: fieldManagerFor(ctx.req, ctx.url.searchParams),
            operation: 'Update',
            apiVersion: 'authentication.k8s.io/v1',
            time: issued,
            fieldsType: 'FieldsV1',
            fieldsV1: { 'f:spec': { 'f:expirationSeconds': {} } },
            subresource: 'token',
          },
        ],
      },
      spec: { audiences, expirationSeconds, boundObjectRef: spec.boundObjectRef ?? null },
      status: { token, expirationTimestamp: rfc3339(expirationTimestamp) },
    },
  };
}

/** Create-only review resources: answered, never stored. */
export function virtualCreate(api: Api, ctx: Ctx, t: ResourceType, p: ResourcePath): Reply | undefined {
  if (t.verbs.includes('get')) return undefined;
  if (ctx.method !== 'POST' || p.name !== undefined) throw errors.methodNotAllowed();
  const body = decodeObject(api, t, p, decode(ctx, true));
  const out = (status: unknown): Reply => ({
    status: 201,
    body: {
      kind: t.kind,
      apiVersion: apiVersionOf(t),
      metadata: { creationTimestamp: null },
      spec: body.spec,
      status,
    },
  });
  const user = ctx.id.user;
  switch (`${t.group}/${t.resource}`) {
    case 'authentication.k8s.io/selfsubjectreviews':
      return {
        status: 201,
        body: {
          kind: t.kind,
          apiVersion: apiVersionOf(t),
          metadata: { creationTimestamp: null },
          status: {
            userInfo: { username: user.name, ...(user.uid ? { uid: user.uid } : {}), groups: user.groups },
          },
        },
      };
    case 'authorization.k8s.io/selfsubjectaccessreviews':
    case 'authorization.k8s.io/localsubjectaccessreviews':
    case 'authorization.k8s.io/subjectaccessreviews': {
      const ra = (
        isObject(body.spec) && isObject(body.spec.resourceAttributes)
          ? body.spec.resourceAttributes
          : undefined
      ) as
        | {
            namespace?: string;
            verb?: string;
            group?: string;
            resource?: string;
            subresource?: string;
            name?: string;
          }
        | undefined;
      if (!ra)
        return out({ allowed: true, reason: 'non-resource URLs are readable by every authenticated user' });
      let subject: Identity = ctx.id;
      if (t.resource !== 'selfsubjectaccessreviews' && isObject(body.spec)) {
        const s = body.spec as { user?: string; groups?: string[] };
        subject = { user: { name: s.user ?? '', groups: s.groups ?? [] } };
      }
      const a: Attributes = { verb: ra.verb ?? '', group: ra.group ?? '', resource: ra.resource ?? '' };
      if (ra.subresource) a.subresource = ra.subresource;
      if (ra.namespace ?? p.namespace) a.namespace = (ra.namespace ?? p.namespace) as string;
      if (ra.name) a.name = ra.name;
      const d = api.deps.authz.authorize(subject, a);
      return out(d.reason ? { allowed: d.allowed, reason: d.reason } : { allowed: d.allowed });
    }
    default:
      throw errors.methodNotAllowed();
  }
}
