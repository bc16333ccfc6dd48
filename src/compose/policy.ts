import path from 'node:path';
import { ActionError } from '../errors.js';
import type { ComposeModel } from './model.js';
import { HOST_SOCKETS } from './rewrite.js';

/** Input `compose-policy`. */
export type ComposePolicy = 'permissive' | 'strict';
export const COMPOSE_POLICIES: readonly ComposePolicy[] = ['permissive', 'strict'];

export interface PolicyViolation {
  service: string;
  key: string;
  value: string;
}

const HOST_NAMESPACES = ['network_mode', 'pid', 'ipc', 'userns_mode', 'uts', 'cgroup'] as const;

/**
 * The docker host runs privileged (in the bundled default template), so a service that asks for the host's
 * devices, namespaces or Docker socket reaches the docker host's pod and, through it, the node. With `strict`,
 * such a PR is refused; with `permissive` (the default) the services may do what compose allows.
 */
export function policyViolations(model: ComposeModel): PolicyViolation[] {
  const out: PolicyViolation[] = [];
  for (const [service, s] of Object.entries(model.services).sort(([a], [b]) => a.localeCompare(b))) {
    const add = (key: string, value: unknown) =>
      out.push({ service, key, value: typeof value === 'string' ? value : JSON.stringify(value) });
    if (s.privileged === true) add('privileged', true);
    for (const key of HOST_NAMESPACES) if (s[key] === 'host') add(key, 'host');
    const devices = s.devices;
    if (Array.isArray(devices) && devices.length > 0) {
      for (const d of devices) add('devices', typeof d === 'object' && d !== null ? deviceText(d) : d);
    }
    if (Array.isArray(s.device_cgroup_rules) && s.device_cgroup_rules.length > 0) {
      for (const r of s.device_cgroup_rules) add('device_cgroup_rules', r);
    }
    if (Array.isArray(s.cap_add)) for (const cap of s.cap_add) add('cap_add', cap);
    if (Array.isArray(s.security_opt)) {
      for (const opt of s.security_opt)
        if (typeof opt === 'string' && isUnconfined(opt)) add('security_opt', opt);
    }
    for (const v of s.volumes ?? []) {
      if (v.type === 'bind' && v.source && HOST_SOCKETS.has(path.posix.normalize(v.source))) {
        add('volumes', `${v.source}:${v.target}`);
      }
      // A named volume of the local driver with bind options is a bind of the docker host's own path.
      const device = v.type === 'volume' && v.source ? hostDevice(model.volumes?.[v.source]) : undefined;
      if (device) add('volumes', `${v.source}:${v.target} (driver_opts device ${device})`);
    }
    const build = s.build;
    if (build) {
      if (build.privileged === true) add('build.privileged', true);
      if (build.network === 'host') add('build.network', 'host');
      if (Array.isArray(build.entitlements)) for (const e of build.entitlements) add('build.entitlements', e);
    }
  }
  return out;
}

function hostDevice(volume: unknown): string | undefined {
  const opts = (volume as { driver_opts?: Record<string, unknown> } | undefined)?.driver_opts;
  if (!opts) return undefined;
  const o = typeof opts.o === 'string' ? opts.o : '';
  const bind = o.split(',').some((x) => ['bind', 'rbind'].includes(x.trim()));
  return bind || opts.type === 'none' ? String(opts.device ?? '(none)') : undefined;
}

/** `seccomp=unconfined`, `apparmor=unconfined`, `seccomp:unconfined`, `label=disable`, `systempaths=unconfined`. */
function isUnconfined(opt: string): boolean {
  const [key = '', value = ''] = opt.split(/[=:]/, 2).map((x) => x.trim().toLowerCase());
  if (key === 'label') return value === 'disable';
  return value === 'unconfined';
}

function deviceText(d: object): string {
  const { source, target, permissions } = d as { source?: string; target?: string; permissions?: string };
  return [source, target, permissions].filter(Boolean).join(':') || JSON.stringify(d);
}

/** Throws, listing every violation, when the policy is strict and the model breaks it. */
export function checkComposePolicy(model: ComposeModel, policy: ComposePolicy): void {
  if (policy !== 'strict') return;
  const violations = policyViolations(model);
  if (violations.length === 0) return;
  const lines = violations.map((v) => `service "${v.service}": ${v.key}: ${v.value}`);
  throw new ActionError(
    `compose-policy is strict, and the compose project asks for access to the Docker host:\n  - ${lines.join('\n  - ')}`,
    {
      hint:
        'Remove these settings from the compose file (e.g. in a compose override used for previews, with compose-files), ' +
        'or set `compose-policy: permissive` if this repository trusts its PRs: the services then run with what they ask for, on a privileged Docker host.',
    },
  );
}
