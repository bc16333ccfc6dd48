import { randomInt } from 'node:crypto';
import { ActionError, InputError } from './errors.js';
import { MAX_LABEL_LENGTH } from './kube/names.js';
import type { KubeObject } from './kube/types.js';

export { isDns1123Label, MAX_LABEL_LENGTH } from './kube/names.js';
/**
 * The instance id is at most 53 chars so templates can append up to 10 chars (`-dind`, `-svc-80`)
 * and still produce valid names and label values, as Preevy's kube driver promised its templates.
 */
export const MAX_INSTANCE_ID_LENGTH = 53;
export const INSTANCE_SUFFIX_LENGTH = 5;

export const MANAGED_BY = 'preevy-kube-action';
export const DOCKER_HOST_COMPONENT = 'docker-host';

/** Every `preevy.dev/*` key the action writes is defined here. */
export const LABELS = {
  envId: 'preevy.dev/env-id',
  instance: 'preevy.dev/instance',
  managedBy: 'app.kubernetes.io/managed-by',
  appInstance: 'app.kubernetes.io/instance',
  component: 'app.kubernetes.io/component',
} as const;

export const ANNOTATIONS = {
  createdAt: 'preevy.dev/created-at',
  templateHash: 'preevy.dev/template-hash',
  deployedBy: 'preevy.dev/deployed-by',
  allTypes: 'preevy.dev/all-types',
  pr: 'preevy.dev/pr',
} as const;

/** Marks the Lease as the action's lock, so the delete pass can tell it from a template's own Leases. */
export const LOCK_LABEL = 'preevy.dev/lock';

export const LOCK_ANNOTATIONS = {
  command: 'preevy.dev/lock-command',
  run: 'preevy.dev/lock-run',
  host: 'preevy.dev/lock-host',
} as const;

/** Marks the ConfigMap a `down` leaves behind (environment/tombstone.ts). */
export const TOMBSTONE_LABEL = 'preevy.dev/tombstone';

export const TOMBSTONE_ANNOTATIONS = {
  at: 'preevy.dev/tombstoned-at',
  reason: 'preevy.dev/tombstone-reason',
  headSha: 'preevy.dev/head-sha',
  pr: ANNOTATIONS.pr,
  deletedBy: 'preevy.dev/deleted-by',
} as const;

const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

export function isValidLabelValue(s: string): boolean {
  return s.length <= MAX_LABEL_LENGTH && LABEL_VALUE.test(s);
}

/**
 * Lowercase, accents folded (`café` → `cafe`), every run of other characters → `-`.
 * A leading digit gets an `env-` prefix: Service names must be DNS-1035 labels (start with a letter),
 * and templates build Service names from the id.
 */
function slug(raw: string): string {
  const s = raw
    .normalize('NFKD')
    .replace(/\p{M}/gu, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
  return /^[0-9]/.test(s) ? `env-${s}` : s;
}

function truncate(s: string, max: number): string {
  return s.slice(0, max).replace(/-+$/, '');
}

/**
 * `<repo name>-pr-<number>`: stable for the life of the PR (branch renames and force-pushes keep it),
 * and unique per repository. The owner is left out; the namespace already belongs to one team.
 */
export function envIdFromPr(repo: string, prNumber: number): string {
  if (!Number.isSafeInteger(prNumber) || prNumber <= 0) {
    throw new ActionError(
      `Cannot derive an environment id: PR number ${prNumber} is not a positive integer.`,
    );
  }
  const name = repo.slice(repo.indexOf('/') + 1);
  const suffix = `pr-${prNumber}`;
  const base = slug(name);
  if (base === '') return suffix;
  const prefix = truncate(base, MAX_LABEL_LENGTH - suffix.length - 1);
  return prefix === '' ? suffix : `${prefix}-${suffix}`;
}

/** For a user-supplied env id: normalized like a derived one, so it is always a label value and a DNS label. */
export function normalizeEnvId(raw: string, inputName = 'env-id'): string {
  const id = truncate(slug(raw), MAX_LABEL_LENGTH);
  if (id === '') {
    throw new InputError(inputName, `"${raw}" has no letters or digits to build an environment id from.`, {
      hint: 'Use lowercase letters, digits and dashes, e.g. "my-app-pr-12".',
    });
  }
  return id;
}

export type RandomSource = (length: number) => string;

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';

export const defaultRandom: RandomSource = (length) => {
  let s = '';
  for (let i = 0; i < length; i++) s += ALPHABET[randomInt(ALPHABET.length)];
  return s;
};

/**
 * A fresh id per created environment, so objects of a deleted environment that are still terminating
 * never collide with the new ones.
 */
export function newInstanceId(envId: string, random: RandomSource = defaultRandom): string {
  const suffix = random(INSTANCE_SUFFIX_LENGTH);
  if (!/^[a-z0-9]+$/.test(suffix) || suffix.length !== INSTANCE_SUFFIX_LENGTH) {
    throw new ActionError(
      `Random source returned "${suffix}", expected ${INSTANCE_SUFFIX_LENGTH} of [a-z0-9].`,
    );
  }
  const prefix = truncate(slug(envId), MAX_INSTANCE_ID_LENGTH - INSTANCE_SUFFIX_LENGTH - 1);
  if (prefix === '') {
    throw new ActionError(`Cannot derive an instance id from environment id "${envId}".`);
  }
  return `${prefix}-${suffix}`;
}

export function envLabels(envId: string, id: string): Record<string, string> {
  return {
    [LABELS.envId]: envId,
    [LABELS.instance]: id,
    [LABELS.managedBy]: MANAGED_BY,
    [LABELS.appInstance]: id,
  };
}

export interface EnvAnnotationArgs {
  createdAt: Date | string;
  templateHash: string;
  deployedBy: string;
  pr?: number;
}

/** `createdAt` may be a string so a re-deploy can keep the environment's original creation time. */
export function envAnnotations(a: EnvAnnotationArgs): Record<string, string> {
  return {
    [ANNOTATIONS.createdAt]: typeof a.createdAt === 'string' ? a.createdAt : a.createdAt.toISOString(),
    [ANNOTATIONS.templateHash]: a.templateHash,
    [ANNOTATIONS.deployedBy]: a.deployedBy,
    ...(a.pr === undefined ? {} : { [ANNOTATIONS.pr]: String(a.pr) }),
  };
}

/** Every object of the environment, whichever instance created it. */
export function envSelector(envId: string): string {
  return `${LABELS.envId}=${envId},${LABELS.managedBy}=${MANAGED_BY}`;
}

export function dockerHostSelector(envId: string): string {
  return `${envSelector(envId)},${LABELS.component}=${DOCKER_HOST_COMPONENT}`;
}

export function instanceSelector(id: string): string {
  return `${LABELS.instance}=${id},${LABELS.managedBy}=${MANAGED_BY}`;
}

export function isDockerHost(o: KubeObject): boolean {
  return (
    o.apiVersion === 'apps/v1' &&
    o.kind === 'Deployment' &&
    o.metadata.labels?.[LABELS.component] === DOCKER_HOST_COMPONENT
  );
}
