/**
 * Reading and checking the kubeconfig input before any request is made.
 *
 * client-node's `KubeConfig.loadFromString` checks little: it does not check that `current-context` exists,
 * resolves no relative paths (it would read them from the runner's working directory, which is the PR's
 * checkout), reads `token-file` eagerly, and runs `exec` plugins on first use. So the raw YAML is read first
 * (with `yaml`), checked, and only then handed to client-node.
 *
 * Nothing here may echo the kubeconfig's content into a message: it holds credentials.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { parseDocument } from 'yaml';
import { InputError } from '../errors.js';
import { clientNode } from './client-node.js';

export interface LoadedKubeconfig {
  kc: KubeConfig;
  contextName: string;
  clusterName: string;
  userName?: string;
  /** API server URL without a trailing slash. */
  server: string;
  /** Things worth a warning in the log (TLS verification off, no credentials). */
  warnings: string[];
}

export interface LoadKubeconfigOptions {
  /** The `context` input; defaults to the kubeconfig's current-context. */
  context?: string;
  /** The `allow-kubeconfig-exec` input: allow exec credential plugins and auth providers. */
  allowExec?: boolean;
}

type Raw = Record<string, unknown>;

function isMap(v: unknown): v is Raw {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/**
 * Kubeconfigs are often stored base64-encoded in secrets. If the whole input is base64 and decodes to
 * something that looks like a kubeconfig, use the decoded text.
 */
export function decodeKubeconfigText(text: string): { text: string; wasBase64: boolean } {
  const compact = text.replace(/\s+/g, '');
  if (compact.length >= 16 && /^[A-Za-z0-9+/]+={0,2}$/.test(compact)) {
    const decoded = Buffer.from(compact, 'base64').toString('utf8');
    if (/(^|\n)\s*(apiVersion|clusters|contexts|users|current-context)\s*:/.test(decoded)) {
      return { text: decoded, wasBase64: true };
    }
  }
  return { text, wasBase64: false };
}

/** A YAML error message without any piece of the document (the parser quotes source text in some). */
function safeYamlMessage(message: string): string {
  const cut = message.split(/:\s/)[0] ?? message;
  return cut.replace(/"[^"]*"/g, '"…"').slice(0, 120);
}

function lineColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, Math.max(0, offset));
  const line = before.split('\n').length;
  const column = offset - before.lastIndexOf('\n');
  return { line, column };
}

function parseRaw(text: string): Raw {
  const doc = parseDocument(text, { prettyErrors: false });
  const first = doc.errors[0];
  if (first) {
    const { line, column } = lineColumn(text, first.pos[0]);
    throw new InputError(
      'kubeconfig',
      `is not valid YAML: ${safeYamlMessage(first.message)} (line ${line}, column ${column})`,
      {
        hint: 'Paste the whole kubeconfig file (for example the output of `kubectl config view --raw --minify`).',
      },
    );
  }
  const value: unknown = doc.toJS();
  if (!isMap(value)) {
    throw new InputError(
      'kubeconfig',
      'is not a kubeconfig: expected a YAML mapping with clusters, contexts and users',
      {
        hint: 'Paste the whole kubeconfig file (for example the output of `kubectl config view --raw --minify`).',
      },
    );
  }
  return value;
}

function namedEntries(
  raw: Raw,
  key: 'clusters' | 'contexts' | 'users',
  inner: string,
): Array<{ name: string; body: Raw }> {
  const list = raw[key];
  if (!Array.isArray(list)) return [];
  const out: Array<{ name: string; body: Raw }> = [];
  for (const e of list) {
    if (!isMap(e)) continue;
    const name = str(e.name);
    const body = e[inner];
    if (name !== undefined) out.push({ name, body: isMap(body) ? body : {} });
  }
  return out;
}

function checkFileField(owner: string, field: string, value: unknown): void {
  const file = str(value);
  if (file === undefined) return;
  const dataField = field === 'token-file' ? 'token' : `${field}-data`;
  if (!path.isAbsolute(file)) {
    throw new InputError(
      'kubeconfig',
      `${owner} names its ${field} by the relative path "${file}", which would be read from the runner's working directory`,
      {
        hint: `Embed the content instead: ${dataField}${field === 'token-file' ? '' : ' (base64 of the file)'}.`,
      },
    );
  }
  if (!fs.existsSync(file)) {
    throw new InputError(
      'kubeconfig',
      `${owner} names its ${field} "${file}", which does not exist on the runner`,
      {
        hint: `Embed the content instead: ${dataField}.`,
      },
    );
  }
}

function list(names: string[]): string {
  return names.length > 0 ? names.map((n) => `"${n}"`).join(', ') : '(none)';
}

/**
 * Parse and check a kubeconfig (YAML text, or base64 of it) and select the context.
 * Throws InputError naming the problem; never echoes the content.
 */
export async function loadKubeconfig(
  input: string,
  opts: LoadKubeconfigOptions = {},
): Promise<LoadedKubeconfig> {
  if (input.trim() === '') throw new InputError('kubeconfig', 'is empty');
  const { text } = decodeKubeconfigText(input);
  const raw = parseRaw(text);
  const warnings: string[] = [];

  // Fields client-node reads from disk. token-file is read by loadFromString itself, for every user.
  for (const u of namedEntries(raw, 'users', 'user'))
    checkFileField(`user "${u.name}"`, 'token-file', u.body['token-file']);

  const kc = new (await clientNode()).KubeConfig();
  try {
    kc.loadFromString(text);
  } catch (err) {
    // js-yaml errors carry a snippet of the document in `.message`; use only `.reason` and the position.
    const e = err as { reason?: unknown; mark?: { line?: number; column?: number }; message?: unknown };
    const what =
      typeof e.reason === 'string'
        ? `is not valid YAML: ${e.reason}${e.mark?.line !== undefined ? ` (line ${e.mark.line + 1})` : ''}`
        : `is not a valid kubeconfig: ${typeof e.message === 'string' ? safeYamlMessage(e.message) : 'unreadable'}`;
    throw new InputError('kubeconfig', what);
  }

  const contexts = kc.getContexts();
  const contextNames = contexts.map((c) => c.name);
  if (contexts.length === 0) {
    throw new InputError('kubeconfig', 'has no contexts', {
      hint: 'A kubeconfig needs clusters, users and at least one context tying them together.',
    });
  }

  let contextName: string;
  if (opts.context) {
    if (!contextNames.includes(opts.context)) {
      throw new InputError(
        'kubeconfig-context',
        `"${opts.context}" is not a context of the kubeconfig; available: ${list(contextNames)}`,
      );
    }
    contextName = opts.context;
  } else {
    const current = kc.getCurrentContext();
    if (current) {
      if (!contextNames.includes(current)) {
        throw new InputError(
          'kubeconfig',
          `its current-context "${current}" is not among its contexts; available: ${list(contextNames)}`,
          { hint: 'Fix current-context, or choose one with the context input.' },
        );
      }
      contextName = current;
    } else if (contexts.length === 1 && contexts[0]) {
      contextName = contexts[0].name;
    } else {
      throw new InputError(
        'kubeconfig',
        `sets no current-context; available contexts: ${list(contextNames)}`,
        {
          hint: 'Set current-context in the kubeconfig, or choose one with the context input.',
        },
      );
    }
  }
  kc.setCurrentContext(contextName);
  const ctx = kc.getContextObject(contextName);
  if (!ctx) throw new InputError('kubeconfig', `context "${contextName}" cannot be read`);

  const cluster = kc.getCluster(ctx.cluster);
  if (!cluster) {
    throw new InputError(
      'kubeconfig',
      `context "${contextName}" refers to cluster "${ctx.cluster}", which is not defined; clusters: ${list(kc.getClusters().map((c) => c.name))}`,
    );
  }

  let url: URL;
  try {
    url = new URL(cluster.server);
  } catch {
    throw new InputError('kubeconfig', `cluster "${cluster.name}" has a server that is not a URL`, {
      hint: 'It should look like https://api.example.com:6443.',
    });
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new InputError(
      'kubeconfig',
      `cluster "${cluster.name}" has a server URL with scheme ${url.protocol}; use https://`,
    );
  }
  if (url.protocol === 'http:' && !cluster.skipTLSVerify) {
    throw new InputError(
      'kubeconfig',
      `cluster "${cluster.name}" uses plain http:// without insecure-skip-tls-verify: true`,
      {
        hint: 'Use the https:// address of the API server, or (only for a local test cluster) set insecure-skip-tls-verify: true.',
      },
    );
  }
  if (url.protocol === 'https:' && cluster.skipTLSVerify) {
    warnings.push(
      `cluster "${cluster.name}" sets insecure-skip-tls-verify: the API server's identity is not checked. Prefer certificate-authority-data.`,
    );
  }
  const rawCluster =
    namedEntries(raw, 'clusters', 'cluster').find((c) => c.name === cluster.name)?.body ?? {};
  checkFileField(`cluster "${cluster.name}"`, 'certificate-authority', rawCluster['certificate-authority']);

  let userName: string | undefined;
  if (ctx.user) {
    const user = kc.getUser(ctx.user);
    if (!user) {
      throw new InputError(
        'kubeconfig',
        `context "${contextName}" refers to user "${ctx.user}", which is not defined; users: ${list(kc.getUsers().map((u) => u.name))}`,
      );
    }
    userName = user.name;
    const rawUser = namedEntries(raw, 'users', 'user').find((u) => u.name === user.name)?.body ?? {};
    checkFileField(`user "${user.name}"`, 'client-certificate', rawUser['client-certificate']);
    checkFileField(`user "${user.name}"`, 'client-key', rawUser['client-key']);

    if (user.exec && !opts.allowExec) {
      const command = isMap(user.exec) ? str(user.exec.command) : undefined;
      throw new InputError(
        'kubeconfig',
        `user "${user.name}" gets its credentials from an exec plugin${command ? ` ("${path.basename(command)}")` : ''}, which runs a program on the runner; this needs the input allow-kubeconfig-exec: true`,
        {
          hint: 'Set allow-kubeconfig-exec: true if the program and its credentials are set up in an earlier step (e.g. a cloud login action), or use a ServiceAccount token instead.',
        },
      );
    }
    if (user.authProvider && !opts.allowExec) {
      const name = isMap(user.authProvider) ? str(user.authProvider.name) : undefined;
      throw new InputError(
        'kubeconfig',
        `user "${user.name}" uses the auth-provider${name ? ` "${name}"` : ''}, which can run programs and refresh tokens on the runner; this needs the input allow-kubeconfig-exec: true`,
        { hint: 'Set allow-kubeconfig-exec: true, or use a ServiceAccount token instead.' },
      );
    }
    const hasCredentials =
      user.token || user.certData || user.certFile || user.username || user.exec || user.authProvider;
    if (!hasCredentials) warnings.push(`user "${user.name}" has no credentials: requests will be anonymous.`);
  } else {
    warnings.push(`context "${contextName}" names no user: requests will be anonymous.`);
  }

  return {
    kc,
    contextName,
    clusterName: cluster.name,
    userName,
    server: cluster.server.replace(/\/+$/, ''),
    warnings,
  };
}

const AUTH_PROVIDER_SECRET_KEYS = [
  'id-token',
  'refresh-token',
  'access-token',
  'client-secret',
  'client-key',
];
/** Shorter exec env values ("1", "aws") would mask harmless text all over the log. */
const MIN_ENV_SECRET_LENGTH = 4;

/**
 * Every credential in a kubeconfig, for the caller to mask in the log: tokens, passwords, client keys and
 * certificates, auth-provider tokens and exec env values; and the input itself when it was base64.
 * Works on any input, also unparsable: then it returns what it can.
 */
export function secretsOf(kubeconfigText: string): string[] {
  const out = new Set<string>();
  const { text, wasBase64 } = decodeKubeconfigText(kubeconfigText);
  if (wasBase64) {
    out.add(kubeconfigText.trim());
    for (const line of kubeconfigText.split(/\r?\n/)) if (line.trim()) out.add(line.trim());
  }
  let raw: unknown;
  try {
    raw = parseDocument(text, { prettyErrors: false }).toJS();
  } catch {
    return [...out];
  }
  if (!isMap(raw)) return [...out];
  const add = (v: unknown, minLength = 1) => {
    if (typeof v === 'string' && v.trim().length >= minLength) out.add(v.trim());
  };
  for (const { body: user } of namedEntries(raw, 'users', 'user')) {
    add(user.token);
    add(user.password);
    add(user['client-key-data']);
    add(user['client-certificate-data']);
    const exec = user.exec;
    if (isMap(exec) && Array.isArray(exec.env)) {
      for (const e of exec.env) if (isMap(e)) add(e.value, MIN_ENV_SECRET_LENGTH);
    }
    const provider = user['auth-provider'];
    if (isMap(provider) && isMap(provider.config)) {
      for (const key of AUTH_PROVIDER_SECRET_KEYS) add(provider.config[key]);
    }
  }
  return [...out];
}
