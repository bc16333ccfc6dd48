import * as core from '@actions/core';
import { type DeployComposeResult, deployCompose } from '../bridge/deploy.js';
import { hasComposeProject } from '../compose/model.js';
import { type PreparedCompose, prepareCompose } from '../compose/prepare.js';
import {
  checkDistinctHosts,
  loadBalancerUrls,
  type ServicePort,
  type ServiceUrl,
  serviceUrls,
} from '../compose/urls.js';
import { applyObjects, rollbackCreated } from '../environment/apply.js';
import { findEnvironment } from '../environment/find.js';
import { waitForLoadBalancer } from '../environment/loadbalancer.js';
import { acquireLock, type EnvLock, holderIdentity, type LockTiming } from '../environment/lock.js';
import { DEFAULT_STORAGE_SIZE } from '../environment/storage.js';
import { waitForRollout } from '../environment/wait.js';
import { ActionError } from '../errors.js';
import type { EventInfo } from '../github/event.js';
import type { PrState } from '../github/pulls.js';
import { envLabels, newInstanceId } from '../identity.js';
import { type Inputs, requireUpFiles } from '../inputs.js';
import { connect, type KubeClient } from '../kube/client.js';
import { scopeResolver } from '../kube/discovery.js';
import type { KubeObject } from '../kube/types.js';
import { actionsLog } from '../log.js';
import { loadManifests } from '../template/index.js';
import { applyOrder, stampManifests } from '../template/stamp.js';
import type { Log } from '../util/log.js';
import { checkAfterDeploy, checkBeforeDeploy, type GuardArgs } from './guard.js';
import { tearDown } from './teardown.js';

export const FIELD_MANAGER = 'preevy-kube-action';

export interface RunContext {
  envId: string;
  event: EventInfo;
  log?: Log;
  /** Runs a phase; the action wraps each in a log group. Tests pass a plain call. */
  phase?: <T>(name: string, fn: () => Promise<T>) => Promise<T>;
  now?: () => Date;
  /**
   * Called once, when the lock is held and the checks of src/commands/guard.ts let the deploy go on, before
   * the first write. main.ts posts the "deploying" comment here: a run that waits for another, or stops,
   * posts nothing, so two runs at once cannot create two comments.
   */
  onDeploying?: () => Promise<void>;
  /** The PR as GitHub sees it now (absent without a token). May reject: the guard then goes on without it. */
  pullRequest?: () => Promise<PrState>;
  /** The lock's holderIdentity; default: run id/attempt/pid/nonce. */
  lockHolder?: string;
  /** The lock's timing (tests shorten it). */
  lockTiming?: Partial<LockTiming>;
  /** Called once the environment's instance id is known, before the first write: main.ts sets the `id` output. */
  onId?: (id: string) => void;
}

/**
 * - `ready`: deployed, and the PR is still open at that commit;
 * - `superseded`: deployed, but the PR's head moved on meanwhile: the newer commit's run updates it;
 * - `stopped`: nothing done (the PR is closed, its head moved on, or a tombstone);
 * - `removed`: deployed, then removed again because the PR closed meanwhile.
 */
export type UpOutcome = 'ready' | 'superseded' | 'stopped' | 'removed';

export interface UpResult {
  envId: string;
  id: string;
  namespace: string;
  created: boolean;
  /** The compose services' published ports on the docker host. */
  ports: ServicePort[];
  /** One per exposed TCP port, sorted by service and port; empty when nothing is exposed. */
  urls: ServiceUrl[];
  /** What the upload sent (absent without a compose project). */
  /** `upToDate`: nothing had changed since the last deploy, so no upload, build or `up` ran. */
  upload?: { files: number; bytes: number; skippedFiles: number; upToDate: boolean };
  objects: Array<{ ref: string; action: string }>;
  dockerHost: string;
  outcome: UpOutcome;
  /** What happened, for a notice: every outcome but `ready`. */
  notice?: string;
  /** `superseded`: the PR's head commit now. */
  headSha?: string;
}

export function connectWith(inputs: Inputs, log: Log): Promise<KubeClient> {
  if (inputs.kubeconfigFiles) {
    log.info(
      `The kubeconfig input is empty: using the job's kubeconfig (${inputs.kubeconfigFiles.join(', ')}).`,
    );
  }
  return connect({
    kubeconfig: inputs.kubeconfig,
    context: inputs.kubeconfigContext,
    namespace: inputs.namespace,
    // The job's own kubeconfig runs the exec plugin its cloud login step put there; the input's needs consent.
    allowExec: inputs.allowKubeconfigExec || inputs.kubeconfigFiles !== undefined,
    log,
  });
}

/**
 * inputs → identity → lock → checks → render → apply → wait → checks → unlock. The compose steps of the Docker
 * bridge follow the wait. The checks before and after are the concurrency rule of src/commands/guard.ts.
 */
export async function up(inputs: Inputs, ctx: RunContext): Promise<UpResult> {
  const log = ctx.log ?? actionsLog;
  const phase = ctx.phase ?? ((name, fn) => core.group(name, fn));
  const { namespace } = inputs;
  requireUpFiles(inputs);

  const project = {
    workingDirectory: inputs.workingDirectory,
    files: inputs.composeFiles,
    profiles: inputs.composeProfiles,
    envFiles: inputs.composeEnvFiles,
    // The compose project name is the env id: one project per environment, stable across pushes.
    projectName: ctx.envId,
  };
  // Reading the compose project needs no cluster: it starts now, alongside the connection, the lock and the
  // lookup (its `docker compose config` runs take about half a second), and is awaited in its own phase.
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

  let client: KubeClient;
  try {
    client = await phase('Connect to the cluster', () => connectWith(inputs, log));
  } catch (err) {
    stopReading.abort();
    throw err;
  }
  let lock: EnvLock | undefined;
  // Whether an environment exists when the run ends: the lock's Lease stays with one, and goes without one.
  let envExists = true;
  try {
    lock = await phase('Lock the environment', () =>
      acquireLock(client, {
        namespace,
        envId: ctx.envId,
        holder: { identity: ctx.lockHolder ?? holderIdentity(), command: 'up', runUrl: ctx.event.runUrl },
        timeoutMs: inputs.readyTimeoutMs,
        timing: ctx.lockTiming,
        log,
      }),
    );
    const guard: GuardArgs = {
      namespace,
      envId: ctx.envId,
      event: ctx.event,
      command: inputs.command,
      pullRequest: ctx.pullRequest,
      log,
    };
    const { found, verdict } = await phase('Find the environment', async () => {
      const env = await findEnvironment(client, { namespace, envId: ctx.envId });
      envExists = Boolean(env);
      const v = await checkBeforeDeploy(client, guard);
      if (v.go) {
        log.info(
          env
            ? `Environment ${ctx.envId} exists as ${env.id} in namespace ${namespace}: updating it in place.`
            : `Environment ${ctx.envId} does not exist in namespace ${namespace}: creating it.`,
        );
      }
      return { found: env, verdict: v };
    });
    if (!verdict.go) {
      log.info(verdict.notice);
      return {
        envId: ctx.envId,
        id: found?.id ?? '',
        namespace,
        created: false,
        ports: [],
        urls: [],
        objects: [],
        dockerHost: found?.dockerHost.metadata.name ?? '',
        outcome: 'stopped',
        notice: verdict.notice,
      };
    }
    await ctx.onDeploying?.();
    const id = found?.id ?? newInstanceId(ctx.envId);
    ctx.onId?.(id);

    // Before any write: a broken compose project leaves the cluster untouched, and the template needs the ports.
    let prepared: PreparedCompose | undefined;
    if (reading) {
      prepared = await phase('Read the compose project', async () => {
        try {
          return await reading;
        } finally {
          composeLog.replay(log);
        }
      });
    } else {
      log.warning(
        `No compose file in ${inputs.workingDirectory}: the environment is provisioned, and no services are deployed. Set "working-directory" or "compose-files".`,
      );
    }
    const ports = prepared?.ports ?? [];
    const named = inputs.namedUrls
      ? serviceUrls(ports, { template: inputs.urlTemplate, envId: ctx.envId, domain: inputs.domain ?? '' })
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

    const manifests = await phase('Render the template', async () => {
      const m = await loadManifests({
        file: inputs.template,
        namespace,
        context: {
          namespace,
          id,
          envId: ctx.envId,
          labels: envLabels(ctx.envId, id),
          pr: ctx.event.pr && {
            number: ctx.event.pr.number,
            headSha: ctx.event.pr.headSha,
            headRef: ctx.event.pr.headRef,
            baseRef: ctx.event.pr.baseRef,
            repository: ctx.event.pr.repository,
            title: ctx.event.pr.title,
          },
          services,
          expose: inputs.expose,
          ...(inputs.domain ? { domain: inputs.domain } : {}),
          ...(inputs.ingressClass ? { ingressClass: inputs.ingressClass } : {}),
          ...(inputs.tlsSecret ? { tlsSecret: inputs.tlsSecret } : {}),
          storageSize: (inputs.storage ?? DEFAULT_STORAGE_SIZE).size,
        },
        scopes: (types) => scopeResolver(client, types),
      });
      log.info(
        `${inputs.template}: ${m.objects.length} objects, docker host Deployment/${m.dockerHost.metadata.name}`,
      );
      return m;
    });

    /** Failures after the objects exist leave the environment in place, and say so. */
    const keptForInspection = (err: unknown): unknown =>
      err instanceof ActionError
        ? new ActionError(
            `${err.message}\nThe environment ${ctx.envId} (${id}) stays in namespace ${namespace} for inspection; the next push retries, and "down" removes it.`,
            { hint: err.hint, details: err.details, cause: err, logs: err.logs },
          )
        : err;

    const stamped: KubeObject[] = applyOrder(
      stampManifests(manifests.objects, {
        envId: ctx.envId,
        id,
        templateHash: manifests.hash,
        createdAt: found?.createdAt ?? (ctx.now?.() ?? new Date()).toISOString(),
        deployedBy: ctx.event.runUrl ?? '',
        pr: ctx.event.pr?.number,
      }),
    );

    const applied = await phase('Apply the objects', async () => {
      try {
        const result = await applyObjects(client, stamped, {
          serverSide: inputs.serverSideApply,
          fieldManager: FIELD_MANAGER,
          log,
        });
        envExists = true;
        return result;
      } catch (err) {
        // A first deploy that fails halfway leaves nothing behind; a re-deploy keeps the running environment.
        if (!found) await rollbackCreated(client, err, log);
        throw err;
      }
    });

    await phase('Wait for the Docker host', async () => {
      try {
        await waitForRollout(client, {
          namespace,
          name: manifests.dockerHost.metadata.name,
          timeoutMs: inputs.readyTimeoutMs,
          log,
        });
      } catch (err) {
        throw keptForInspection(err);
      }
    });

    let compose: DeployComposeResult | undefined;
    if (prepared) {
      compose = await deployCompose(client, {
        namespace,
        deploymentName: manifests.dockerHost.metadata.name,
        prepared,
        allowOutside: inputs.allowOutsidePaths,
        readyTimeoutMs: inputs.readyTimeoutMs,
        storage: inputs.storage ?? DEFAULT_STORAGE_SIZE,
        log,
        phase,
      }).catch((err: unknown) => {
        throw keptForInspection(err);
      });
    }

    let urls = named;
    if (inputs.expose === 'loadbalancer' && ports.length > 0) {
      urls = await phase('Wait for the load balancer', () =>
        loadBalancerAddresses(client, manifests.objects, ports, { namespace, inputs, log }),
      ).catch((err: unknown) => {
        throw keptForInspection(err);
      });
    }
    for (const u of urls) log.info(`${u.service}:${u.port} → ${u.url}`);

    const after = await phase('Check the PR again', () => checkAfterDeploy(client, guard));
    if (after.outcome === 'remove') {
      log.info(after.notice);
      // A tombstone that is there already stays as it is; otherwise this run leaves one, as the down would.
      await phase('Remove the environment', () =>
        tearDown(client, {
          namespace,
          envId: ctx.envId,
          event: ctx.event,
          reason: after.tombstone?.reason ?? 'closed',
          timeoutMs: inputs.readyTimeoutMs,
          log,
          phase: (_name, fn) => fn(),
          now: ctx.now,
          keepTombstone: after.tombstone,
        }),
      );
      envExists = false;
      return {
        envId: ctx.envId,
        id,
        namespace,
        created: !found,
        ports,
        urls: [],
        objects: [],
        dockerHost: manifests.dockerHost.metadata.name,
        outcome: 'removed',
        notice: after.notice,
      };
    }
    if (after.outcome === 'superseded') log.info(after.notice);

    return {
      outcome: after.outcome,
      ...(after.outcome === 'superseded' ? { notice: after.notice, headSha: after.headSha } : {}),
      envId: ctx.envId,
      id,
      namespace,
      created: !found,
      ports,
      urls,
      upload: compose && {
        files: compose.uploadedFiles,
        bytes: compose.uploadedBytes,
        skippedFiles: compose.skippedFiles,
        upToDate: compose.upToDate,
      },
      objects: applied.map((a) => ({ ref: a.ref, action: a.action })),
      dockerHost: manifests.dockerHost.metadata.name,
    };
  } finally {
    stopReading.abort();
    await lock?.release({ remove: !envExists });
    client.close();
  }
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

/**
 * For expose: loadbalancer, each published port is reached at the address of the rendered LoadBalancer
 * Service that carries it (the bundled templates render one; a custom template may render several).
 */
async function loadBalancerAddresses(
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
