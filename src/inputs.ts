import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as core from '@actions/core';
import { InputError } from './errors.js';
import { parseDuration } from './util/duration.js';

export type Command = 'up' | 'down' | 'auto';

export interface Inputs {
  /** The kubeconfig YAML (decoded when given as base64). Masked. */
  kubeconfig: string;
  kubeconfigContext?: string;
  allowKubeconfigExec: boolean;
  namespace: string;
  /** Absolute path of the nunjucks template. */
  template: string;
  serverSideApply: boolean;
  envId?: string;
  readyTimeoutMs: number;
  command: Command;
}

/** Reads an input the way the runner passes it (`INPUT_<NAME>`), without @actions/core's trimming surprises. */
export type InputSource = (name: string) => string;

const fromActions: InputSource = (name) => core.getInput(name);

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** The bundled template sits next to dist/ in the action's checkout (and next to src/ in development). */
export function bundledTemplate(name = 'default.yaml.njk'): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  return path.resolve(here, '..', 'templates', name);
}

function bool(source: InputSource, name: string, dflt: boolean): boolean {
  const raw = source(name).trim().toLowerCase();
  if (raw === '') return dflt;
  if (['true', 'yes', '1', 'on'].includes(raw)) return true;
  if (['false', 'no', '0', 'off'].includes(raw)) return false;
  throw new InputError(name, `"${raw}" is not a boolean`, { hint: 'Use true or false.' });
}

/**
 * Accepts the kubeconfig as YAML or as base64 of YAML (what `base64 -w0 ~/.kube/config` gives),
 * so users can paste either into the secret.
 */
export function decodeKubeconfig(raw: string): string {
  const text = raw.trim();
  if (text === '') {
    throw new InputError('kubeconfig', 'is empty', {
      hint: 'Pass the kubeconfig from a secret: `kubeconfig: ${{ secrets.KUBECONFIG }}`. A fork PR gets no secrets; see the README on forks.',
    });
  }
  if (/^[A-Za-z0-9+/=\s]+$/.test(text) && !text.includes(':')) {
    const decoded = Buffer.from(text.replace(/\s+/g, ''), 'base64').toString('utf8');
    if (/^\s*(apiVersion|clusters|contexts|current-context|kind|users)\s*:/m.test(decoded)) return decoded;
    throw new InputError('kubeconfig', 'looks like base64 but does not decode to a kubeconfig', {
      hint: 'Store the kubeconfig YAML itself, or `base64 -w0` of it, in the secret.',
    });
  }
  return text;
}

/** Registers the kubeconfig with the runner's log masking, line by line, since masks match single lines. */
export function maskKubeconfig(raw: string, decoded: string): void {
  core.setSecret(raw.trim());
  for (const line of decoded.split('\n')) {
    const value = line.replace(/^[^:]*:\s*/, '').trim();
    if (value.length >= 8) core.setSecret(value);
  }
}

export function getInputs(source: InputSource = fromActions, workspace = process.env.GITHUB_WORKSPACE ?? process.cwd()): Inputs {
  const rawKubeconfig = source('kubeconfig');
  const kubeconfig = decodeKubeconfig(rawKubeconfig);
  if (source === fromActions) maskKubeconfig(rawKubeconfig, kubeconfig);

  const namespace = source('namespace').trim() || 'default';
  if (namespace.length > 63 || !DNS1123_LABEL.test(namespace)) {
    throw new InputError('namespace', `"${namespace}" is not a valid namespace name`, {
      hint: 'A namespace name is a DNS-1123 label: lowercase letters, digits and "-", at most 63 characters.',
    });
  }

  const templateInput = source('template').trim();
  const template = templateInput ? path.resolve(workspace, templateInput) : bundledTemplate();
  try {
    readFileSync(template, { flag: 'r' });
  } catch (err) {
    throw new InputError('template', `cannot read ${template}: ${(err as NodeJS.ErrnoException).code ?? err}`, {
      hint: 'Give a path relative to the repository root, or leave the input empty for the bundled template.',
    });
  }

  const timeoutText = source('ready-timeout').trim() || '10m';
  const readyTimeoutMs = parseDuration(timeoutText);
  if (readyTimeoutMs === undefined || readyTimeoutMs <= 0) {
    throw new InputError('ready-timeout', `"${timeoutText}" is not a duration`, {
      hint: 'Use a duration such as 90s, 10m or 1h30m.',
    });
  }

  const commandText = (source('command').trim() || 'auto').toLowerCase();
  if (commandText !== 'up' && commandText !== 'down' && commandText !== 'auto') {
    throw new InputError('command', `"${commandText}" is not one of up, down, auto`);
  }

  const context = source('kubeconfig-context').trim();
  const envId = source('env-id').trim();
  return {
    kubeconfig,
    kubeconfigContext: context || undefined,
    allowKubeconfigExec: bool(source, 'allow-kubeconfig-exec', false),
    namespace,
    template,
    serverSideApply: bool(source, 'server-side-apply', true),
    envId: envId || undefined,
    readyTimeoutMs,
    command: commandText,
  };
}
