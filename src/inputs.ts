import { readFileSync, realpathSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as core from '@actions/core';
import { COMPOSE_POLICIES, type ComposePolicy } from './compose/policy.js';
import { DEFAULT_STORAGE_SIZE, type StorageSize } from './environment/storage.js';
import { InputError } from './errors.js';
import { findJobKubeconfig } from './kube/job-kubeconfig.js';
import { decodeKubeconfigText, secretsOf } from './kube/kubeconfig.js';
import { DNS1123_SUBDOMAIN, isDns1123Label } from './kube/names.js';
import { parseDuration } from './util/duration.js';
import { parseByteQuantity } from './util/quantity.js';

export type Command = 'up' | 'down' | 'auto';

export interface Inputs {
  /** The kubeconfig YAML (decoded when given as base64). Masked. */
  kubeconfig: string;
  /**
   * The files of the job's own kubeconfig ($KUBECONFIG or ~/.kube/config) when the input is empty: then `kubeconfig`
   * is their merge, and its exec plugins may run (the job put them there). Absent: the input's.
   */
  kubeconfigFiles?: string[];
  kubeconfigContext?: string;
  allowKubeconfigExec: boolean;
  namespace: string;
  /** Absolute path of the nunjucks template: read by `up` only (requireUpFiles), so `down` needs no checkout. */
  template: string;
  serverSideApply: boolean;
  envId?: string;
  readyTimeoutMs: number;
  /** The docker data volume's size (input `storage-size`). Absent: DEFAULT_STORAGE_SIZE. */
  storage?: StorageSize;
  command: Command;
  /** The compose project: its directory (absolute), files, profiles and env files. */
  workingDirectory: string;
  composeFiles: string[];
  composeProfiles: string[];
  composeEnvFiles: string[];
  allowOutsidePaths: boolean;
  /**
   * `strict` refuses services that reach the Docker host (privileged, host namespaces, devices, its socket).
   * Absent: permissive.
   */
  composePolicy?: ComposePolicy;
  /** Exposure of the services' published ports. */
  expose: Expose;
  /** The DNS zone under which Ingress hosts are made (input `domain`). */
  domain?: string;
  urlTemplate: string;
  /** URLs have host names (from `url-template`): true when a domain is set or the template needs none. */
  namedUrls: boolean;
  ingressClass?: string;
  tlsSecret?: string;
  /** GitHub: the token for comments and deployments (absent: nothing is posted). Masked. */
  githubToken?: string;
  comment: boolean;
  /** Absolute path of a nunjucks comment template; read where a comment is written. */
  commentTemplate?: string;
  /** The GitHub environment name; `pr-<number>` unless set; absent: no deployments. */
  githubEnvironment?: string;
  primaryService?: string;
  requiredLabel?: string;
  allowPullRequestTarget: boolean;
  /** For events other than pull_request: the PR the environment belongs to. */
  prNumber?: number;
}

export type Expose = 'ingress' | 'loadbalancer' | 'none';
export const DEFAULT_URL_TEMPLATE = 'https://{service}-{port}-{envId}.{domain}';

/** A list input: one item per line or comma-separated. */
function list(source: InputSource, name: string): string[] {
  return source(name)
    .split(/[\n,]/)
    .map((s) => s.trim())
    .filter(Boolean);
}

/** Reads an input the way the runner passes it (`INPUT_<NAME>`), without @actions/core's trimming surprises. */
export type InputSource = (name: string) => string;

const fromActions: InputSource = (name) => core.getInput(name);

/** The bundled template sits next to dist/ in the action's checkout (and next to src/ in development). */
export function bundledTemplate(name = 'default.yaml.njk'): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  return path.resolve(here, '..', 'templates', name);
}

function isInside(dir: string, p: string): boolean {
  const rel = path.relative(dir, p);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

function realOrSelf(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return p;
  }
}

function bool(source: InputSource, name: string, dflt: boolean): boolean {
  const raw = source(name).trim().toLowerCase();
  if (raw === '') return dflt;
  if (['true', 'yes', '1', 'on'].includes(raw)) return true;
  if (['false', 'no', '0', 'off'].includes(raw)) return false;
  throw new InputError(name, `"${raw}" is not a boolean`, { hint: 'Use true or false.' });
}

/**
 * The input's kubeconfig; when it is empty, the one the job wrote itself (a cloud login step before the action).
 * Neither: the usual symptom of a missing secret (fork and Dependabot PRs get none).
 */
function resolveKubeconfig(raw: string, jobEnv: NodeJS.ProcessEnv): { text: string; files?: string[] } {
  // YAML or base64 of YAML (what `base64 -w0 ~/.kube/config` gives): users paste either into the secret.
  if (raw.trim() !== '') return { text: decodeKubeconfigText(raw.trim()).text };
  const job = findJobKubeconfig(jobEnv);
  if (job.text !== undefined) return { text: job.text, files: job.files };
  throw new InputError(
    'kubeconfig',
    `is empty, and the job has no kubeconfig of its own: looked at ${job.looked}`,
    {
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a workflow expression, shown to the user as is
      hint: 'Pass the kubeconfig from a secret: `kubeconfig: ${{ secrets.KUBECONFIG }}`, or log in to the cluster in an earlier step (aws eks update-kubeconfig, google-github-actions/get-gke-credentials, azure/aks-set-context). A fork or Dependabot PR gets no secrets; see the README on forks.',
    },
  );
}

/** A file input must be readable where it is used; the error names the input, as getInputs' errors do. */
function requireReadable(input: string, file: string, hint: string): void {
  try {
    readFileSync(file, { flag: 'r' });
  } catch (err) {
    throw new InputError(input, `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? err}`, {
      hint,
    });
  }
}

/**
 * What `up` reads from the checkout besides the compose project: the template and the comment template. Checked
 * when an up starts, before anything is created; `down` reads neither, so it runs without a checkout.
 */
export function requireUpFiles(inputs: Pick<Inputs, 'template' | 'commentTemplate'>): void {
  requireReadable(
    'template',
    inputs.template,
    'Give a path relative to the repository root, or leave the input empty for the bundled template.',
  );
  if (inputs.commentTemplate) {
    requireReadable(
      'comment-template',
      inputs.commentTemplate,
      'Give a path relative to the repository root, or leave the input empty for the bundled comment.',
    );
  }
}

/** Registers every credential in the kubeconfig with the runner's log masking. */
function maskKubeconfig(raw: string): void {
  core.setSecret(raw.trim());
  for (const secret of secretsOf(raw)) {
    // The runner masks line by line: a multi-line value (a PEM) is registered per line too.
    for (const line of secret.split('\n')) if (line.trim().length >= 8) core.setSecret(line.trim());
  }
}

export function getInputs(
  source: InputSource = fromActions,
  workspace = process.env.GITHUB_WORKSPACE ?? process.cwd(),
  jobEnv: NodeJS.ProcessEnv = process.env,
): Inputs {
  const rawKubeconfig = source('kubeconfig');
  if (source === fromActions) maskKubeconfig(rawKubeconfig);
  const { text: kubeconfig, files: kubeconfigFiles } = resolveKubeconfig(rawKubeconfig, jobEnv);
  // The job's own file holds credentials too: masked like the input's.
  if (kubeconfigFiles && source === fromActions) maskKubeconfig(kubeconfig);

  const namespace = source('namespace').trim() || 'default';
  if (!isDns1123Label(namespace)) {
    throw new InputError('namespace', `"${namespace}" is not a valid namespace name`, {
      hint: 'A namespace name is a DNS-1123 label: lowercase letters, digits and "-", at most 63 characters.',
    });
  }

  const templateInput = source('template').trim();
  const template = templateInput ? path.resolve(workspace, templateInput) : bundledTemplate();

  const timeoutText = source('ready-timeout').trim() || '10m';
  const readyTimeoutMs = parseDuration(timeoutText);
  if (readyTimeoutMs === undefined || readyTimeoutMs <= 0) {
    throw new InputError('ready-timeout', `"${timeoutText}" is not a duration`, {
      hint: 'Use a duration such as 90s, 10m or 1h30m.',
    });
  }

  const storage = storageInput(source);

  const commandText = (source('command').trim() || 'auto').toLowerCase();
  if (commandText !== 'up' && commandText !== 'down' && commandText !== 'auto') {
    throw new InputError('command', `"${commandText}" is not one of up, down, auto`);
  }

  const workingDirectory = path.resolve(workspace, source('working-directory').trim() || '.');
  if (!isInside(workspace, workingDirectory)) {
    throw new InputError('working-directory', `${workingDirectory} is outside the workspace ${workspace}`);
  }
  // The PR's checkout may make the directory a symlink: every path check is relative to it, so it must stay in.
  const realWorkingDirectory = realOrSelf(workingDirectory);
  if (!isInside(realOrSelf(workspace), realWorkingDirectory)) {
    throw new InputError(
      'working-directory',
      `${workingDirectory} leads through a symlink to ${realWorkingDirectory}, outside the workspace`,
    );
  }
  const policyText = (source('compose-policy').trim() || 'permissive').toLowerCase();
  if (!(COMPOSE_POLICIES as readonly string[]).includes(policyText)) {
    throw new InputError('compose-policy', `"${policyText}" is not one of ${COMPOSE_POLICIES.join(', ')}`, {
      hint: 'strict refuses services that reach the Docker host; permissive (the default) runs what compose allows.',
    });
  }
  const context = source('kubeconfig-context').trim();
  const envId = source('env-id').trim();
  return {
    ...exposureInputs(source),
    ...githubInputs(source, workspace),
    kubeconfig,
    ...(kubeconfigFiles ? { kubeconfigFiles } : {}),
    kubeconfigContext: context || undefined,
    allowKubeconfigExec: bool(source, 'allow-kubeconfig-exec', false),
    namespace,
    template,
    serverSideApply: bool(source, 'server-side-apply', true),
    envId: envId || undefined,
    readyTimeoutMs,
    storage,
    command: commandText,
    workingDirectory,
    composeFiles: list(source, 'compose-files'),
    composeProfiles: list(source, 'compose-profiles'),
    composeEnvFiles: list(source, 'compose-env-files'),
    allowOutsidePaths: bool(source, 'allow-outside-paths', false),
    composePolicy: policyText as ComposePolicy,
  };
}

function storageInput(source: InputSource): StorageSize {
  const size = source('storage-size').trim();
  if (size === '') return DEFAULT_STORAGE_SIZE;
  const bytes = parseByteQuantity(size);
  if (bytes === undefined) {
    throw new InputError('storage-size', `"${size}" is not a Kubernetes quantity of bytes`, {
      hint: 'Use a size such as 20Gi, 50Gi or 100G (Gi = 2^30 bytes, G = 10^9 bytes; not "20GB").',
    });
  }
  return { size, bytes };
}

function exposureInputs(
  source: InputSource,
): Pick<Inputs, 'expose' | 'domain' | 'urlTemplate' | 'namedUrls' | 'ingressClass' | 'tlsSecret'> {
  const domain = source('domain').trim().toLowerCase().replace(/\.$/, '');
  if (domain && !DNS1123_SUBDOMAIN.test(domain)) {
    throw new InputError('domain', `"${domain}" is not a DNS name`, {
      hint: 'Give the zone under which preview hosts are made, e.g. preview.example.com (a wildcard DNS record *.preview.example.com should point at your ingress controller).',
    });
  }
  const urlTemplateInput = source('url-template').trim();
  const urlTemplate = urlTemplateInput || DEFAULT_URL_TEMPLATE;
  // Host names can be made when the template has its domain; a template may name the zone itself.
  const named = urlTemplate.includes('{domain}') ? domain !== '' : true;
  const exposeText = (source('expose').trim() || (named ? 'ingress' : 'none')).toLowerCase();
  if (exposeText !== 'ingress' && exposeText !== 'loadbalancer' && exposeText !== 'none') {
    throw new InputError('expose', `"${exposeText}" is not one of ingress, loadbalancer, none`);
  }
  if (exposeText === 'ingress' && !named) {
    throw new InputError('domain', 'is required with expose: ingress', {
      hint: 'Set "domain" to the zone whose wildcard DNS record points at your ingress controller, or use expose: loadbalancer or none.',
    });
  }
  if (named) checkUrlTemplate(urlTemplate, urlTemplateInput ? 'url-template' : 'domain');
  const ingressClass = source('ingress-class').trim();
  if (ingressClass && !DNS1123_SUBDOMAIN.test(ingressClass)) {
    throw new InputError('ingress-class', `"${ingressClass}" is not a valid IngressClass name`);
  }
  const tlsSecret = source('tls-secret').trim();
  if (tlsSecret && !DNS1123_SUBDOMAIN.test(tlsSecret)) {
    throw new InputError('tls-secret', `"${tlsSecret}" is not a valid Secret name`);
  }
  return {
    expose: exposeText,
    domain: domain || undefined,
    urlTemplate,
    namedUrls: named,
    ingressClass: ingressClass || undefined,
    tlsSecret: tlsSecret || undefined,
  };
}

/** Every URL must be a distinct host: without {service} and {port}, two published ports would share one. */
function checkUrlTemplate(template: string, input: string): void {
  const hint =
    'The default is https://{service}-{port}-{envId}.{domain}; the placeholders are {service}, {port}, {envId} and {domain}.';
  for (const p of ['{service}', '{port}', '{envId}']) {
    if (!template.includes(p)) throw new InputError(input, `"${template}" has no ${p}`, { hint });
  }
  const unknown = template.match(/\{(?!service\}|port\}|envId\}|domain\})[^}]*\}/);
  if (unknown)
    throw new InputError(input, `"${template}" has an unknown placeholder ${unknown[0]}`, { hint });
  // Markers that survive URL parsing (lowercase letters), to see where each placeholder lands.
  const marked = template
    .replaceAll('{service}', 'qservicez')
    .replaceAll('{port}', 'qportz')
    .replaceAll('{envId}', 'qenvidz')
    .replaceAll('{domain}', 'example.com');
  let url: URL;
  try {
    url = new URL(marked);
  } catch {
    throw new InputError(input, `"${template}" is not a URL`, { hint });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new InputError(input, `"${template}" is not an http or https URL`, { hint });
  }
  // The Ingress routes by host name alone.
  if (!['qservicez', 'qportz', 'qenvidz'].every((m) => url.hostname.includes(m)) || url.port) {
    throw new InputError(
      'url-template',
      `"${template}": {service}, {port} and {envId} must be in the host name, and the URL has no port`,
      { hint },
    );
  }
}

function githubInputs(
  source: InputSource,
  workspace: string,
): Pick<
  Inputs,
  | 'githubToken'
  | 'comment'
  | 'commentTemplate'
  | 'githubEnvironment'
  | 'primaryService'
  | 'requiredLabel'
  | 'allowPullRequestTarget'
  | 'prNumber'
> {
  const githubToken = source('github-token').trim();
  if (githubToken && source === fromActions) core.setSecret(githubToken);
  const templateInput = source('comment-template').trim();
  const commentTemplate = templateInput ? path.resolve(workspace, templateInput) : undefined;
  const environment = source('github-environment').trim();
  if (environment.length > 255) throw new InputError('github-environment', 'is longer than 255 characters');
  const prText = source('pr-number').trim();
  const prNumber = prText ? Number(prText) : undefined;
  if (prNumber !== undefined && !(Number.isInteger(prNumber) && prNumber > 0)) {
    throw new InputError('pr-number', `"${prText}" is not a pull request number`);
  }
  return {
    githubToken: githubToken || undefined,
    comment: bool(source, 'comment', true),
    commentTemplate,
    // "false" turns deployments off; empty means the default, pr-<number>, decided once the PR is known.
    githubEnvironment: ['false', 'none', 'off'].includes(environment.toLowerCase())
      ? undefined
      : environment || 'pr-{number}',
    primaryService: source('primary-service').trim() || undefined,
    requiredLabel: source('required-label').trim() || undefined,
    allowPullRequestTarget: bool(source, 'allow-pull-request-target', false),
    prNumber,
  };
}
