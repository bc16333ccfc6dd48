/**
 * A push that changes files a service bind-mounts reaches its running containers (the upload writes changed
 * files in place), but what the service read at start (its configuration) stays as it was, and `up` leaves
 * a container whose model did not change alone. So the services that bind-mount a changed, added or removed
 * path, and that `up` left as they were, are recreated; only those.
 */
import path from 'node:path';
import type { ComposeModel } from '../compose/model.js';
import { baseArgs, type ComposeRunOptions, hasHealthchecks } from '../compose/run.js';
import { ActionError, errorMessage } from '../errors.js';
import type { Log } from '../util/log.js';
import { runProcess } from '../util/process.js';
import { dockerJson } from './running.js';

/**
 * The services whose bind-mount sources, file secrets or file configs (compose binds those too) hold one of
 * `changed` (names relative to `remoteDir`, the environment's directory in the docker host), sorted.
 */
export function servicesBinding(
  model: ComposeModel,
  remoteDir: string,
  changed: readonly string[],
): string[] {
  if (changed.length === 0) return [];
  const paths = changed.map((n) => path.posix.join(remoteDir, n));
  const holds = (source: string | undefined) =>
    source !== undefined && paths.some((p) => p === source || p.startsWith(`${source.replace(/\/$/, '')}/`));
  const out: string[] = [];
  for (const [name, s] of Object.entries(model.services)) {
    const binds = (s.volumes ?? []).filter((v) => v.type === 'bind').map((v) => v.source);
    const files = [
      ...(s.secrets ?? []).map((r) => model.secrets?.[r.source]?.file),
      ...(s.configs ?? []).map((r) => model.configs?.[r.source]?.file),
    ];
    if ([...binds, ...files].some(holds)) out.push(name);
  }
  return out.sort();
}

/** Each service's containers (id and state), as the Docker API lists the project's. */
export type ContainerSnapshot = Map<string, Array<{ id: string; state: string }>>;

export async function snapshotContainers(
  dockerHost: string,
  projectName: string,
): Promise<ContainerSnapshot> {
  const filters = JSON.stringify({ label: [`com.docker.compose.project=${projectName}`] });
  const list = await dockerJson(dockerHost, `/containers/json?all=1&filters=${encodeURIComponent(filters)}`);
  const out: ContainerSnapshot = new Map();
  for (const c of Array.isArray(list) ? list : []) {
    const labels = (c?.Labels ?? {}) as Record<string, string>;
    if (labels['com.docker.compose.oneoff'] === 'True') continue;
    const service = labels['com.docker.compose.service'] ?? '';
    out.set(service, [...(out.get(service) ?? []), { id: String(c?.Id), state: String(c?.State) }]);
  }
  return out;
}

/**
 * Of `services`, those whose containers `up` neither created nor started: the same ones, running before and
 * after. Without a reading from before (`before` undefined), all of them.
 */
export function leftAsTheyWere(
  services: readonly string[],
  before: ContainerSnapshot | undefined,
  after: ContainerSnapshot,
): string[] {
  if (!before) return [...services];
  return services.filter((s) => {
    const was = before.get(s) ?? [];
    const now = after.get(s) ?? [];
    const ids = (l: typeof was) =>
      l
        .map((c) => c.id)
        .sort()
        .join(',');
    return was.length > 0 && was.every((c) => c.state === 'running') && ids(was) === ids(now);
  });
}

/** `up --force-recreate` of the named services only: their dependencies are up already. */
export async function composeRecreate(opts: ComposeRunOptions, services: readonly string[]): Promise<void> {
  const run = opts.run ?? runProcess;
  const step = opts.step ?? ((_step, fn) => fn());
  const args = [
    ...baseArgs(opts.project),
    'up',
    '--detach',
    '--no-build',
    '--no-deps',
    '--force-recreate',
    ...(hasHealthchecks(opts.model) ? ['--wait'] : []),
    '--',
    ...services,
  ];
  await step('up --force-recreate', async () => {
    const r = await run('docker', args, {
      cwd: opts.project.workingDirectory,
      env: opts.env,
      input: JSON.stringify(opts.model),
      signal: opts.signal,
      onLine: (line: string) => opts.log.info(line),
    });
    if (r.code !== 0) {
      throw new ActionError(
        `docker compose could not recreate ${services.join(', ')}, whose bind-mounted files changed:\n${r.stderrTail.join('\n')}`,
        {
          hint: 'The new files are in place; the lines above show why the services did not start again with them.',
          logs: r.stderrTail.join('\n'),
        },
      );
    }
  });
}

/** The snapshot, or undefined (then every affected service is recreated) when the Docker API did not answer. */
export async function trySnapshot(
  dockerHost: string,
  projectName: string,
  log: Log,
): Promise<ContainerSnapshot | undefined> {
  try {
    return await snapshotContainers(dockerHost, projectName);
  } catch (err) {
    log.debug(`listing the project's containers: ${errorMessage(err)}`);
    return undefined;
  }
}
