/**
 * Finding an environment again: its docker host Deployment, by labels (scheme in src/identity.ts).
 * Two live docker hosts for one env id is an error that names both: picking one silently is how the
 * reference driver ended up with empty URL tables.
 */
import { ActionError, IdentityError } from '../errors.js';
import { ANNOTATIONS, dockerHostSelector, isValidLabelValue, LABELS } from '../identity.js';
import type { KubeClient } from '../kube/client.js';
import { listObjects } from '../kube/objects.js';
import { type KubeObject, parseTypeKey, type TypeRef, typeKey } from '../kube/types.js';

export interface FoundEnv {
  /** The instance id (`preevy.dev/instance`), e.g. `shop-pr-7-k3x9a`. */
  id: string;
  dockerHost: KubeObject;
  /** Every kind the environment was made of (`preevy.dev/all-types`), the docker host's own included. */
  types: TypeRef[];
  /** `preevy.dev/created-at`, else the Deployment's creationTimestamp. */
  createdAt: string;
  /** The docker host is being deleted. */
  terminating: boolean;
}

const DEPLOYMENT: TypeRef = { apiVersion: 'apps/v1', kind: 'Deployment' };

/** Parse `preevy.dev/all-types`: comma- or space-separated `apiVersion/Kind` keys (a JSON array also works). */
export function parseAllTypes(value: string | undefined): TypeRef[] {
  if (!value) return [];
  let keys: unknown[] = [];
  const trimmed = value.trim();
  if (trimmed.startsWith('[')) {
    try {
      const parsed: unknown = JSON.parse(trimmed);
      if (Array.isArray(parsed)) keys = parsed;
    } catch {
      keys = [];
    }
  } else keys = trimmed.split(/[\s,]+/);
  const out = new Map<string, TypeRef>();
  for (const k of keys) {
    const t = typeof k === 'string' ? parseTypeKey(k) : undefined;
    if (t) out.set(typeKey(t), t);
  }
  return [...out.values()];
}

export function assertEnvId(envId: string): void {
  if (envId === '' || !isValidLabelValue(envId)) {
    throw new ActionError(
      `Environment id "${envId}" is not a valid label value; refusing to select objects by it.`,
    );
  }
}

function toFound(d: KubeObject): FoundEnv {
  const types = parseAllTypes(d.metadata.annotations?.[ANNOTATIONS.allTypes]);
  if (!types.some((t) => typeKey(t) === typeKey(DEPLOYMENT))) types.unshift(DEPLOYMENT);
  return {
    id: d.metadata.labels?.[LABELS.instance] ?? d.metadata.name,
    dockerHost: d,
    types,
    createdAt: d.metadata.annotations?.[ANNOTATIONS.createdAt] ?? d.metadata.creationTimestamp ?? '',
    terminating: Boolean(d.metadata.deletionTimestamp),
  };
}

/** Every docker host Deployment of the env in the namespace, terminating ones included (flagged). */
export async function listDockerHosts(
  client: KubeClient,
  args: { namespace: string; envId: string; signal?: AbortSignal },
): Promise<FoundEnv[]> {
  assertEnvId(args.envId);
  const deployments = await listObjects(client, DEPLOYMENT, args.namespace, {
    labelSelector: dockerHostSelector(args.envId),
    signal: args.signal,
  });
  // Defence in depth: a selector is only as good as the server that applies it.
  return deployments.filter((d) => d.metadata.labels?.[LABELS.envId] === args.envId).map(toFound);
}

function describe(f: FoundEnv): string {
  return `Deployment/${f.dockerHost.metadata.name} (id ${f.id}, created ${f.createdAt || 'at an unknown time'})`;
}

/**
 * The live environment with this env id, or undefined. Throws IdentityError when there are two
 * (two instances, or two docker hosts in one instance).
 */
export async function findEnvironment(
  client: KubeClient,
  args: { namespace: string; envId: string; signal?: AbortSignal },
): Promise<FoundEnv | undefined> {
  const live = (await listDockerHosts(client, args)).filter((f) => !f.terminating);
  if (live.length <= 1) return live[0];
  const sorted = live.slice().sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  const ids = new Set(sorted.map((f) => f.id));
  const what =
    ids.size > 1
      ? `Environment ${args.envId} exists ${ids.size} times in namespace ${args.namespace}`
      : `Environment ${args.envId} (id ${sorted[0]?.id}) has ${sorted.length} docker host Deployments in namespace ${args.namespace}`;
  throw new IdentityError(`${what}: ${sorted.map(describe).join(', ')}.`, {
    hint:
      `Run the action with the down command for this environment (it removes all of them), or delete the one you do not want: ` +
      `kubectl delete deployment -n ${args.namespace} ${sorted[sorted.length - 1]?.dockerHost.metadata.name ?? '<name>'}`,
  });
}
