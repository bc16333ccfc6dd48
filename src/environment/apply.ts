/**
 * Applying the stamped objects of an environment, in the order given (dependencies first).
 *
 * How objects reach the API server: as the JSON we were given, through `client.request()` (see kube/client.ts).
 * `KubernetesObjectApi.patch(obj, …, PatchStrategy.ServerSideApply)` would serialize built-in kinds
 * through client-node's generated models, which silently drop every field they do not know. A typo such as
 * `strategyy:` would then vanish on the runner and the API server would apply the rest: the user's mistake
 * goes unnoticed. Sending the raw object lets the API server judge it as it judges `kubectl apply`
 * (server-side apply answers 500 "field not declared in schema", a strict POST 400 "unknown field"), and
 * keeps CRD fields (`x-kubernetes-*`, `default`) intact. It also leaves the caller's object untouched
 * (client-node writes the default namespace into it).
 *
 * Server-side apply: `PATCH <object>?fieldManager=…&force=true&fieldValidation=Strict` with
 * `Content-Type: application/apply-patch+yaml` (a JSON body is valid YAML). `force` takes over fields another
 * manager set (kubectl edits, an older client-side apply), which is what a deploy means.
 *
 * Client-side: `POST` (create); on 409 AlreadyExists `GET`, then a strategic-merge patch (built-in kinds) or
 * a JSON merge patch (custom resources, which do not support strategic merge) of the desired object, with
 * the `resourceVersion` just read, so a concurrent writer makes the patch fail with 409 Conflict instead of
 * being overwritten; then read again and retry. Fields removed from the template stay on the object in this
 * mode (there is no last-applied record); server-side apply removes them.
 */
import { KubeApiError } from '../errors.js';
import type { KubeClient } from '../kube/client.js';
import { collectionPath, objectPath, requireResource } from '../kube/discovery.js';
import { httpStatusOf, isNotFound, statusReasonOf, toKubeError } from '../kube/errors.js';
import { isMissingRoleOf, roleOfTemplate, withEscalationHint } from '../kube/rbac.js';
import { followsUncertainAttempt } from '../kube/retry.js';
import { type KubeObject, objectRef, type TypeRef } from '../kube/types.js';
import { type Log, noopLog } from '../util/log.js';

export type ApplyAction = 'created' | 'changed' | 'unchanged';

export interface AppliedObject {
  /** `Kind/name`. */
  ref: string;
  type: TypeRef;
  name: string;
  namespace: string;
  uid?: string;
  generation?: number;
  resourceVersion?: string;
  /** created; changed (resourceVersion moved, or it could not be read before); unchanged. */
  action: ApplyAction;
}

export interface ApplyOptions {
  /** Send every write with `dryRun=All`: the API server validates and admits, and stores nothing. */
  dryRun?: boolean;
  serverSide: boolean;
  fieldManager: string;
  log?: Log;
  signal?: AbortSignal;
}

/** An apply that stopped at one object; `applied` lists what this run applied before it. */
export class ApplyError extends KubeApiError {
  constructor(
    message: string,
    readonly failed: string,
    readonly applied: AppliedObject[],
    code: number | undefined,
    reason: string | undefined,
    options: { hint?: string; details?: string; cause?: unknown } = {},
  ) {
    super(message, code, reason, options);
  }
}

const SSA_CONTENT_TYPE = 'application/apply-patch+yaml';
const SMP_CONTENT_TYPE = 'application/strategic-merge-patch+json';
const MERGE_CONTENT_TYPE = 'application/merge-patch+json';
const MAX_CONFLICT_RETRIES = 3;

/** API groups compiled into kube-apiserver: they support strategic merge patch. CRDs do not. */
const BUILT_IN_GROUPS = new Set([
  '',
  'apps',
  'batch',
  'autoscaling',
  'policy',
  'networking.k8s.io',
  'rbac.authorization.k8s.io',
  'storage.k8s.io',
  'scheduling.k8s.io',
  'coordination.k8s.io',
  'discovery.k8s.io',
  'node.k8s.io',
  'events.k8s.io',
  'certificates.k8s.io',
  'admissionregistration.k8s.io',
  'apiextensions.k8s.io',
  'apiregistration.k8s.io',
  'flowcontrol.apiserver.k8s.io',
  'resource.k8s.io',
  'storagemigration.k8s.io',
]);

function groupOf(apiVersion: string): string {
  const slash = apiVersion.indexOf('/');
  return slash < 0 ? '' : apiVersion.slice(0, slash);
}

function summary(o: KubeObject, type: TypeRef, namespace: string, action: ApplyAction): AppliedObject {
  return {
    ref: objectRef(o),
    type,
    name: o.metadata.name,
    namespace,
    uid: o.metadata.uid,
    generation: o.metadata.generation,
    resourceVersion: o.metadata.resourceVersion,
    action,
  };
}

async function applyOne(client: KubeClient, obj: KubeObject, opts: ApplyOptions): Promise<AppliedObject> {
  const log = opts.log ?? noopLog;
  const type: TypeRef = { apiVersion: obj.apiVersion, kind: obj.kind };
  const ref = objectRef(obj);
  const what = `apply ${ref}`;
  const resource = await requireResource(client, type, what);
  if (!resource.namespaced) {
    throw new KubeApiError(
      `${what}: ${obj.kind} is cluster-scoped; an environment holds namespaced objects only`,
    );
  }
  const namespace = obj.metadata.namespace ?? client.namespace;
  if (namespace !== client.namespace) {
    throw new KubeApiError(`${what}: it is in namespace "${namespace}", not in "${client.namespace}"`);
  }
  const desired = structuredClone(obj);
  desired.metadata.namespace = namespace;
  const path = objectPath(type, resource, namespace, obj.metadata.name);
  const fail = (err: unknown) => withEscalationHint(toKubeError(err, what, { server: client.server }));

  const read = async (): Promise<{ known: boolean; obj?: KubeObject }> => {
    try {
      const { body } = await client.request<KubeObject>({ method: 'GET', path, signal: opts.signal });
      return { known: true, obj: body };
    } catch (err) {
      if (isNotFound(err)) return { known: true };
      if (httpStatusOf(err) === 403) {
        log.debug(`${ref}: cannot read it before applying (403); reporting it as changed`);
        return { known: false };
      }
      throw fail(err);
    }
  };

  const dry = opts.dryRun ? { dryRun: 'All' } : {};
  if (opts.serverSide) {
    const before = opts.dryRun ? { known: false } : await read();
    let rsp: { status: number; body: KubeObject };
    try {
      rsp = await client.request<KubeObject>({
        method: 'PATCH',
        path,
        query: { fieldManager: opts.fieldManager, force: true, fieldValidation: 'Strict', ...dry },
        contentType: SSA_CONTENT_TYPE,
        body: desired,
        signal: opts.signal,
      });
    } catch (err) {
      throw fail(err);
    }
    const after = rsp.body;
    let action: ApplyAction;
    if (rsp.status === 201 || (before.known && !before.obj)) action = 'created';
    else if (before.obj && before.obj.metadata.resourceVersion === after.metadata.resourceVersion)
      action = 'unchanged';
    else action = 'changed';
    return summary(after, type, namespace, action);
  }

  // Client-side: create, or patch what exists.
  let createdByRetry = false;
  try {
    const { body } = await client.request<KubeObject>({
      method: 'POST',
      path: collectionPath(type, resource, namespace),
      query: { fieldManager: opts.fieldManager, fieldValidation: 'Strict', ...dry },
      body: desired,
      signal: opts.signal,
    });
    return summary(body, type, namespace, 'created');
  } catch (err) {
    if (!(httpStatusOf(err) === 409 && statusReasonOf(err) === 'AlreadyExists')) throw fail(err);
    // The create was retried after an attempt whose answer was lost: that attempt may have created it.
    createdByRetry = !opts.dryRun && followsUncertainAttempt(err);
  }

  let patchType = BUILT_IN_GROUPS.has(groupOf(type.apiVersion)) ? SMP_CONTENT_TYPE : MERGE_CONTENT_TYPE;
  if (opts.dryRun) {
    // Without a resourceVersion: the dry run checks the content, the real patch below guards the version.
    try {
      await client.request<KubeObject>({
        method: 'PATCH',
        path,
        query: { fieldManager: opts.fieldManager, fieldValidation: 'Strict', ...dry },
        contentType: patchType,
        body: desired,
        signal: opts.signal,
      });
    } catch (err) {
      if (!(httpStatusOf(err) === 415 && patchType === SMP_CONTENT_TYPE)) throw fail(err);
    }
    return summary(desired, type, namespace, 'unchanged');
  }
  for (let attempt = 1; ; attempt++) {
    const current = await read();
    if (createdByRetry && current.obj) {
      // Ours when it carries exactly the labels and annotations just sent: a first deploy's are new (a fresh
      // instance id, the creation time), so an older object never matches them. Reporting it "created" keeps
      // it in the rollback of a first deploy that fails later.
      createdByRetry = sameStamp(current.obj, desired);
      if (createdByRetry) log.debug(`${ref}: created by an earlier attempt of the retried create`);
    }
    if (!current.obj) {
      // Deleted between our POST and GET (an old environment finishing its deletion): report it.
      throw new KubeApiError(
        `${what}: it exists but cannot be read${current.known ? ' (it is being deleted?)' : ' (403)'}`,
        undefined,
        undefined,
        {
          hint: current.known
            ? 'An older object of the same name is still terminating; re-run the job in a minute.'
            : 'Client-side apply needs the verb "get" on this resource. See the README\'s RBAC section.',
        },
      );
    }
    const patch = structuredClone(desired);
    patch.metadata.resourceVersion = current.obj.metadata.resourceVersion;
    try {
      const { body } = await client.request<KubeObject>({
        method: 'PATCH',
        path,
        query: { fieldManager: opts.fieldManager, fieldValidation: 'Strict' },
        contentType: patchType,
        body: patch,
        signal: opts.signal,
      });
      const action: ApplyAction = createdByRetry
        ? 'created'
        : body.metadata.resourceVersion === current.obj.metadata.resourceVersion
          ? 'unchanged'
          : 'changed';
      return summary(body, type, namespace, action);
    } catch (err) {
      const code = httpStatusOf(err);
      if (code === 415 && patchType === SMP_CONTENT_TYPE) {
        // A kind served by an aggregated API or a CRD in a built-in-looking group: no strategic merge.
        log.debug(`${ref}: strategic merge patch not supported, using a merge patch`);
        patchType = MERGE_CONTENT_TYPE;
        continue;
      }
      if (code === 409 && attempt < MAX_CONFLICT_RETRIES) {
        log.debug(`${ref}: changed while we patched it (409 Conflict), retrying`);
        continue;
      }
      throw fail(err);
    }
  }
}

function sameEntries(a: Record<string, string> | undefined, b: Record<string, string> | undefined): boolean {
  const ea = Object.entries(a ?? {});
  return ea.length === Object.keys(b ?? {}).length && ea.every(([k, v]) => b?.[k] === v);
}

/** Every label and annotation of `desired` is on `current` with the same value, and there are no others. */
function sameStamp(current: KubeObject, desired: KubeObject): boolean {
  return (
    sameEntries(desired.metadata.labels, current.metadata.labels) &&
    Object.entries(desired.metadata.annotations ?? {}).every(
      ([k, v]) => current.metadata.annotations?.[k] === v,
    )
  );
}

function appliedList(applied: AppliedObject[]): string {
  return applied.map((a) => `${a.ref} (${a.action})`).join(', ');
}

/**
 * Apply `objs` in order and report what each one did. Stops at the first failure with an ApplyError that
 * names the object, and lists what this run already applied.
 */
export async function applyObjects(
  client: KubeClient,
  objs: readonly KubeObject[],
  opts: ApplyOptions,
): Promise<AppliedObject[]> {
  const log = opts.log ?? noopLog;
  await checkAll(client, objs, opts);
  const applied: AppliedObject[] = [];
  for (const obj of objs) {
    const ref = objectRef(obj);
    let result: AppliedObject;
    try {
      result = await applyOne(client, obj, opts);
    } catch (err) {
      const k = toKubeError(err, `apply ${ref}`, { server: client.server });
      const progress =
        applied.length === 0
          ? 'Nothing was applied before it.'
          : `Already applied in this run: ${appliedList(applied)}. The environment is partly updated: fix the cause and push again to complete it, or run down to remove it.`;
      throw new ApplyError(k.message, ref, applied, k.code, k.reason, {
        hint: k.hint ? `${k.hint}\n${progress}` : progress,
        details: k.details,
        cause: err,
      });
    }
    applied.push(result);
    log.info(`${result.ref} ${result.action}`);
  }
  return applied;
}

/**
 * A server-side dry run of every object before the first real write: the API server's validation, schemas,
 * admission and RBAC refuse a bad template while nothing exists yet, and every refusal is reported at once.
 *
 * Except a RoleBinding to a Role of the same template that does not exist yet: the API server checks a new
 * binding against its Role (unless the caller may `bind` it) and answers 404 for a missing one, dry runs
 * included (fixtures kube-real-2/040-043). It is left to the real apply, which writes the Role first (applyOrder).
 * The Role's own dry run has passed the same escalation check over the same rules for the same identity, so
 * the binding passes it too, unless the identity holds `escalate` on roles without `bind`: then a refused
 * binding stops the real apply, and a first deploy removes what it created.
 */
async function checkAll(client: KubeClient, objs: readonly KubeObject[], opts: ApplyOptions): Promise<void> {
  const log = opts.log ?? noopLog;
  const failures: Array<{ ref: string; error: KubeApiError }> = [];
  for (const obj of objs) {
    const ref = objectRef(obj);
    try {
      await applyOne(client, obj, { ...opts, dryRun: true });
    } catch (err) {
      const error = toKubeError(err, `apply ${ref}`, { server: client.server });
      const role = roleOfTemplate(obj, objs);
      if (role && isMissingRoleOf(error, role)) {
        log.info(
          `${ref}: checked when applied, after ${objectRef(role)} exists (a dry run cannot check a binding to a Role that does not exist yet)`,
        );
        continue;
      }
      failures.push({ ref, error });
    }
  }
  const first = failures[0];
  if (!first) return;
  const message =
    failures.length === 1
      ? first.error.message
      : `The API server refused ${failures.length} objects:\n${failures.map((f) => `  - ${f.error.message.replace(/\n/g, '\n    ')}`).join('\n')}`;
  const hints = [...new Set(failures.map((f) => f.error.hint).filter((h): h is string => Boolean(h)))];
  throw new ApplyError(message, first.ref, [], first.error.code, first.error.reason, {
    hint: [...hints, 'Nothing was applied: every object was checked with a server-side dry run first.'].join(
      '\n',
    ),
    details: failures
      .map((f) => f.error.details)
      .filter(Boolean)
      .join('\n'),
    cause: first.error,
  });
}
