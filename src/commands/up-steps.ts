/**
 * The steps of `up` (src/commands/up.ts) that take more than a call: each takes its client and what it needs,
 * and returns what the next step reads.
 */

import { deployCompose } from '../bridge/deploy.js';
import { hasComposeProject } from '../compose/model.js';
import { type PreparedCompose, prepareCompose } from '../compose/prepare.js';
import {
  checkDistinctHosts,
  loadBalancerUrls,
  type ServicePort,
  type ServiceUrl,
  serviceUrls,
} from '../compose/urls.js';
import { applyObjects } from '../environment/apply.js';
import { type FoundEnv, findEnvironment } from '../environment/find.js';
import { waitForLoadBalancer } from '../environment/loadbalancer.js';
import { rollbackCreated } from '../environment/rollback.js';
import { DEFAULT_STORAGE_SIZE } from '../environment/storage.js';
import { ActionError } from '../errors.js';
import { envLabels } from '../identity.js';
import type { Inputs } from '../inputs.js';
import type { KubeClient } from '../kube/client.js';
import { scopeResolver } from '../kube/discovery.js';
import type { KubeObject } from '../kube/types.js';
import { type LoadedManifests, loadManifests, type TemplateService } from '../template/index.js';
import { applyOrder, stampManifests } from '../template/stamp.js';
import type { Log } from '../util/log.js';
import { type AfterVerdict, type BeforeVerdict, checkBeforeDeploy, type GuardArgs } from './guard.js';
import type { Phase, RunContext } from './run.js';
import { tearDown } from './teardown.js';

/** The compose project's read, started before its phase, and awaited in it. */
export interface ComposeRead {
  /** The working directory has a compose project. */
  found: boolean;
  /** The read's result; its log lines, held until now, go to `log`. */
  result(log: Log): Promise<PreparedCompose>;
  /** Without a compose project: says so, and gives undefined. */
  none(log: Log): undefined;
  stop(): void;
}

/**
 * Reading the compose project needs no cluster: it starts at once, alongside the connection, the lock and the
 * lookup (its `docker compose config` runs take about half a second); its log lines wait for its phase.
 */
export function startComposeRead(inputs: Inputs, envId: string): ComposeRead {
  const project = {
    workingDirectory: inputs.workingDirectory,
    files: inputs.composeFiles,
    profiles: inputs.composeProfiles,
    envFiles: inputs.composeEnvFiles,
    // The compose project name is the env id: one project per environment, stable across pushes.
    projectName: envId,
  };
  const composeLog = deferredLog();
  const stopReading = new AbortController();
  const reading = hasComposeProject(project)
    ? prepareCompose(project, {
        allowOutside: inputs.allowOutsidePaths,
        policy: inputs.composePolicy,
        log: composeLog,
        signal: stopReading.signal,
      })
    : undefined;
  reading?.catch(() => {});
  return {
    found: reading !== undefined,
    async result(log) {
      try {
        // Only called when found.
        return await (reading as Promise<PreparedCompose>);
      } finally {
        composeLog.replay(log);
      }
    },
    none(log) {
      log.warning(
        `No compose file in ${inputs.workingDirectory}: the environment is provisioned, and no services are deployed. Set "working-directory" or "compose-files".`,
      );
      return undefined;
    },
    stop: () => stopReading.abort(),
  };
}

/** A log that keeps its lines until replay(): work started before its phase prints inside it. */
function deferredLog(): Log & { replay(to: Log): void } {
  const lines: Array<[keyof Log, string]> = [];
  return {
    info: (msg) => lines.push(['info', msg]),
    warning: (msg) => lines.push(['warning', msg]),
    debug: (msg) => lines.push(['debug', msg]),
    replay(to) {
      for (const [level, msg] of lines.splice(0)) to[level](msg);
    },
  };
}

/** The named URLs (from `url-template`) of the published TCP ports, and the services the template renders. */
export function planServices(
  inputs: Inputs,
  envId: string,
  ports: ServicePort[],
): { named: ServiceUrl[]; services: TemplateService[] } {
  const named = inputs.namedUrls
    ? serviceUrls(ports, { template: inputs.urlTemplate, envId, domain: inputs.domain ?? '' })
    : [];
  checkDistinctHosts(named);
  const services = ports
    .filter((p) => p.protocol === 'tcp')
    .map((p) => {
      const u = named.find((n) => n.service === p.service && n.port === p.target);
      return {
        name: p.service,
        port: p.published,
        targetPort: p.target,
        host: u?.host ?? '',
        url: u?.url ?? '',
      };
    });
  return { named, services };
}

export async function renderEnvironment(
  client: KubeClient,
  args: { inputs: Inputs; ctx: RunContext; id: string; services: TemplateService[]; log: Log },
): Promise<LoadedManifests> {
  const { inputs, ctx, id } = args;
  const { namespace } = inputs;
  const pr = ctx.event.pr;
  const m = await loadManifests({
    file: inputs.template,
    namespace,
    context: {
      namespace,
      id,
      envId: ctx.envId,
      labels: envLabels(ctx.envId, id),
      pr: pr && {
        number: pr.number,
        headSha: pr.headSha,
        headRef: pr.headRef,
        baseRef: pr.baseRef,
        repository: pr.repository,
        title: pr.title,
      },
      services: args.services,
      expose: inputs.expose,
      ...(inputs.domain ? { domain: inputs.domain } : {}),
      ...(inputs.ingressClass ? { ingressClass: inputs.ingressClass } : {}),
      ...(inputs.tlsSecret ? { tlsSecret: inputs.tlsSecret } : {}),
      storageSize: (inputs.storage ?? DEFAULT_STORAGE_SIZE).size,
    },
    scopes: (types) => scopeResolver(client, types),
  });
  args.log.info(
    `${inputs.template}: ${m.objects.length} objects, docker host Deployment/${m.dockerHost.metadata.name}`,
  );
  return m;
}

/** The rendered objects with the environment's labels and annotations, in the order they are applied. */
export function stampEnvironment(
  manifests: LoadedManifests,
  args: { ctx: RunContext; id: string; found: FoundEnv | undefined },
): KubeObject[] {
  const { ctx } = args;
  return applyOrder(
    stampManifests(manifests.objects, {
      envId: ctx.envId,
      id: args.id,
      templateHash: manifests.hash,
      createdAt: args.found?.createdAt ?? (ctx.now?.() ?? new Date()).toISOString(),
      deployedBy: ctx.event.runUrl ?? '',
      pr: ctx.event.pr?.number,
    }),
  );
}

/** Failures after the objects exist leave the environment in place, and say so. */
export function keptForInspection(envId: string, id: string, namespace: string): (err: unknown) => never {
  return (err) => {
    throw err instanceof ActionError
      ? new ActionError(
          `${err.message}\nThe environment ${envId} (${id}) stays in namespace ${namespace} for inspection; the next push retries, and "down" removes it.`,
          { hint: err.hint, details: err.details, cause: err, logs: err.logs },
        )
      : err;
  };
}

/**
 * For expose: loadbalancer, each published port is reached at the address of the rendered LoadBalancer
 * Service that carries it (the bundled templates render one; a custom template may render several).
 */
export async function loadBalancerAddresses(
  client: KubeClient,
  objects: KubeObject[],
  ports: ServicePort[],
  opts: { namespace: string; inputs: Inputs; log: Log },
): Promise<ServiceUrl[]> {
  const balancers = objects.filter(
    (o) =>
      o.apiVersion === 'v1' && o.kind === 'Service' && (o.spec as { type?: string })?.type === 'LoadBalancer',
  );
  if (balancers.length === 0) {
    throw new ActionError(
      'expose is loadbalancer, and the template renders no Service of type LoadBalancer',
      {
        hint: 'The bundled templates render one from `services` and `expose`; a custom template must too.',
      },
    );
  }
  const urls: ServiceUrl[] = [];
  for (const svc of balancers) {
    const address = await waitForLoadBalancer(client, {
      namespace: opts.namespace,
      name: svc.metadata.name,
      timeoutMs: opts.inputs.readyTimeoutMs,
      log: opts.log,
    });
    const svcPorts =
      (svc.spec as { ports?: Array<{ port: number; targetPort?: number | string }> }).ports ?? [];
    for (const p of ports) {
      const sp = svcPorts.find((x) => (x.targetPort ?? x.port) === p.published);
      if (sp && !urls.some((u) => u.service === p.service && u.port === p.target)) {
        urls.push(
          ...loadBalancerUrls([{ ...p, published: sp.port }], address).map((u) => ({
            ...u,
            published: p.published,
          })),
        );
      }
    }
  }
  return urls.sort((a, b) => a.service.localeCompare(b.service) || a.port - b.port);
}

export const FIELD_MANAGER = 'preevy-kube-action';

export function guardArgs(inputs: Inputs, ctx: RunContext, log: Log): GuardArgs {
  const { namespace } = inputs;
  return {
    namespace,
    envId: ctx.envId,
    event: ctx.event,
    command: inputs.command,
    pullRequest: ctx.pullRequest,
    log,
  };
}

/** Finds the environment, then asks the guard whether to deploy; `onFound` hears of the environment first. */
export async function findAndCheck(
  client: KubeClient,
  guard: GuardArgs,
  onFound: (env: FoundEnv | undefined) => void,
): Promise<{ found: FoundEnv | undefined; verdict: BeforeVerdict }> {
  const { namespace, envId, log } = guard;
  const found = await findEnvironment(client, { namespace, envId });
  onFound(found);
  const verdict = await checkBeforeDeploy(client, guard);
  if (verdict.go) {
    log.info(
      found
        ? `Environment ${envId} exists as ${found.id} in namespace ${namespace}: updating it in place.`
        : `Environment ${envId} does not exist in namespace ${namespace}: creating it.`,
    );
  }
  return { found, verdict };
}

/** Applies the environment's objects. A first deploy that fails halfway leaves nothing behind; a re-deploy keeps the running environment. */
export async function applyEnvironment(
  client: KubeClient,
  objects: KubeObject[],
  args: { inputs: Inputs; found: FoundEnv | undefined; log: Log },
): ReturnType<typeof applyObjects> {
  try {
    return await applyObjects(client, objects, {
      serverSide: args.inputs.serverSideApply,
      fieldManager: FIELD_MANAGER,
      log: args.log,
    });
  } catch (err) {
    if (!args.found) await rollbackCreated(client, err, args.log);
    throw err;
  }
}

export type UploadSummary = { files: number; bytes: number; skippedFiles: number; upToDate: boolean };

/** The Docker bridge (src/bridge/deploy.ts): tunnel, upload, compose build and up, each in its own phase. */
export async function deployBridge(
  client: KubeClient,
  args: { inputs: Inputs; dockerHost: string; prepared: PreparedCompose; log: Log; phase: Phase },
): Promise<UploadSummary> {
  const { inputs } = args;
  const deployed = await deployCompose(client, {
    namespace: inputs.namespace,
    deploymentName: args.dockerHost,
    prepared: args.prepared,
    allowOutside: inputs.allowOutsidePaths,
    readyTimeoutMs: inputs.readyTimeoutMs,
    storage: inputs.storage ?? DEFAULT_STORAGE_SIZE,
    log: args.log,
    phase: args.phase,
  });
  return {
    files: deployed.uploadedFiles,
    bytes: deployed.uploadedBytes,
    skippedFiles: deployed.skippedFiles,
    upToDate: deployed.upToDate,
  };
}

/** The PR closed while this run deployed: remove the environment again, as the down would. */
export async function removeAgain(
  client: KubeClient,
  args: { inputs: Inputs; ctx: RunContext; after: AfterVerdict & { outcome: 'remove' }; log: Log },
): Promise<void> {
  const { inputs, ctx, after } = args;
  // A tombstone that is there already stays as it is; otherwise this run leaves one.
  await tearDown(client, {
    namespace: inputs.namespace,
    envId: ctx.envId,
    event: ctx.event,
    reason: after.tombstone?.reason ?? 'closed',
    timeoutMs: inputs.readyTimeoutMs,
    log: args.log,
    phase: (_name, fn) => fn(),
    now: ctx.now,
    keepTombstone: after.tombstone,
  });
}
