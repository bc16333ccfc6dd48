/**
 * Plain-JSON reads of any kind: get one object, list a collection (all pages). Errors come out as
 * KubeApiError (see errors.ts); a missing object is `undefined`, not an error.
 *
 * The guarded writes (create; replace at the resourceVersion read) by path, for callers that loop on a 409:
 * the refusals they loop on come back as values, and other errors as thrown, for the caller to name.
 */
import type { KubeClient } from './client.js';
import { collectionPath, objectPath, requireResource } from './discovery.js';
import { httpStatusOf, isNotFound, toKubeError } from './errors.js';
import type { KubeObject, TypeRef } from './types.js';

export interface ListOptions {
  labelSelector?: string;
  fieldSelector?: string;
  /** Page size; all pages are read. */
  limit?: number;
  signal?: AbortSignal;
}

interface ObjectList {
  metadata?: { continue?: string };
  items?: KubeObject[];
}

/** GET one object; undefined when it does not exist. */
export async function getObject(
  client: KubeClient,
  type: TypeRef,
  namespace: string | undefined,
  name: string,
  signal?: AbortSignal,
): Promise<KubeObject | undefined> {
  const what = `get ${type.kind}/${name}`;
  const resource = await requireResource(client, type, what);
  try {
    const { body } = await client.request<KubeObject>({
      method: 'GET',
      path: objectPath(type, resource, namespace, name),
      signal,
    });
    return body;
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw toKubeError(err, what, { server: client.server });
  }
}

/**
 * List a kind in a namespace (all pages). Items of a list carry no kind/apiVersion on the wire; they are
 * filled in here so every returned object is a complete KubeObject.
 */
export async function listObjects(
  client: KubeClient,
  type: TypeRef,
  namespace: string | undefined,
  opts: ListOptions = {},
): Promise<KubeObject[]> {
  const what = `list ${type.kind}${opts.labelSelector ? ` (${opts.labelSelector})` : ''}`;
  const resource = await requireResource(client, type, what);
  const path = collectionPath(type, resource, namespace);
  const out: KubeObject[] = [];
  let token: string | undefined;
  do {
    let body: ObjectList;
    try {
      ({ body } = await client.request<ObjectList>({
        method: 'GET',
        path,
        query: {
          labelSelector: opts.labelSelector,
          fieldSelector: opts.fieldSelector,
          limit: opts.limit ?? 500,
          continue: token,
        },
        signal: opts.signal,
      }));
    } catch (err) {
      throw toKubeError(err, what, { server: client.server });
    }
    for (const item of body.items ?? []) {
      out.push({ ...item, apiVersion: item.apiVersion ?? type.apiVersion, kind: item.kind ?? type.kind });
    }
    token = body.metadata?.continue || undefined;
  } while (token);
  return out;
}

/**
 * What a guarded write met instead of its object: 409 (the name is taken, on create; the object changed since
 * it was read, on replace) or 404 (it was deleted, on replace). The caller decides: look again, or give up
 * with its own message from `error`.
 */
export interface Refused {
  refused: 404 | 409;
  error: unknown;
}

export function isRefused(r: KubeObject | Refused): r is Refused {
  return 'refused' in r;
}

/** GET the object at `path`; undefined when it does not exist. Other errors as the client threw them. */
export async function readAt(client: KubeClient, path: string): Promise<KubeObject | undefined> {
  try {
    return (await client.request<KubeObject>({ method: 'GET', path })).body;
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

/**
 * POST (create) or PUT (replace, guarded by its metadata.resourceVersion) `body` at `path`. Refused with 409
 * when the name is taken (create) or the object changed since it was read (replace); with 404 when it was
 * deleted (replace).
 */
export async function writeAt(
  client: KubeClient,
  method: 'POST' | 'PUT',
  path: string,
  body: KubeObject,
): Promise<KubeObject | Refused> {
  try {
    return (await client.request<KubeObject>({ method, path, body })).body;
  } catch (err) {
    const code = httpStatusOf(err);
    if (code === 409 || (code === 404 && method === 'PUT')) return { refused: code, error: err };
    throw err;
  }
}
