import * as core from '@actions/core';
import { type DeployComposeResult, deployCompose, hasComposeProject } from '../compose/deploy.js';
import type { ServicePort } from '../compose/urls.js';
import { ActionError } from '../errors.js';
import type { EventInfo } from '../github/event.js';
import { envLabels, newInstanceId } from '../identity.js';
import type { Inputs } from '../inputs.js';
import { applyObjects, rollbackCreated } from '../kube/apply.js';
import { connect, type KubeClient } from '../kube/client.js';
import { scopeResolver } from '../kube/discovery.js';
import { findEnvironment } from '../kube/find.js';
import type { Log } from '../kube/log.js';
import type { KubeObject } from '../kube/types.js';
import { waitForRollout } from '../kube/wait.js';
import { actionsLog } from '../log.js';
import { loadManifests } from '../template/index.js';
import { applyOrder, stampManifests } from '../template/stamp.js';

export const FIELD_MANAGER = 'preevy-kube-action';

export interface RunContext {
  envId: string;
  event: EventInfo;
  log?: Log;
  /** Runs a phase; the action wraps each in a log group. Tests pass a plain call. */
  phase?: <T>(name: string, fn: () => Promise<T>) => Promise<T>;
  now?: () => Date;
}

export interface UpResult {
  envId: string;
  id: string;
  namespace: string;
  created: boolean;
  /** The compose services' published ports on the docker host. */
  ports: ServicePort[];
  /** What the upload sent (absent without a compose project). */
  upload?: { files: number; bytes: number; skippedFiles: number };
  objects: Array<{ ref: string; action: string }>;
  dockerHost: string;
}

export function connectWith(inputs: Inputs, log: Log): Promise<KubeClient> {
  return connect({
    kubeconfig: inputs.kubeconfig,
    context: inputs.kubeconfigContext,
    namespace: inputs.namespace,
    allowExec: inputs.allowKubeconfigExec,
    log,
  });
}

/** inputs → identity → render → apply → wait. The compose steps of the Docker bridge follow the wait. */
export async function up(inputs: Inputs, ctx: RunContext): Promise<UpResult> {
  const log = ctx.log ?? actionsLog;
  const phase = ctx.phase ?? ((name, fn) => core.group(name, fn));
  const { namespace } = inputs;

  const client = await phase('Connect to the cluster', () => connectWith(inputs, log));
  try {
    const found = await phase('Find the environment', async () => {
      const env = await findEnvironment(client, { namespace, envId: ctx.envId });
      log.info(
        env
          ? `Environment ${ctx.envId} exists as ${env.id} in namespace ${namespace}: updating it in place.`
          : `Environment ${ctx.envId} does not exist in namespace ${namespace}: creating it.`,
      );
      return env;
    });
    const id = found?.id ?? newInstanceId(ctx.envId);

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
            { hint: err.hint, details: err.details, cause: err },
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
        return await applyObjects(client, stamped, {
          serverSide: inputs.serverSideApply,
          fieldManager: FIELD_MANAGER,
          log,
        });
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

    const project = {
      workingDirectory: inputs.workingDirectory,
      files: inputs.composeFiles,
      profiles: inputs.composeProfiles,
      envFiles: inputs.composeEnvFiles,
      // The compose project name is the env id: one project per environment, stable across pushes.
      projectName: ctx.envId,
    };
    let compose: DeployComposeResult | undefined;
    if (hasComposeProject(project)) {
      compose = await deployCompose(client, {
        namespace,
        deploymentName: manifests.dockerHost.metadata.name,
        project,
        allowOutside: inputs.allowOutsidePaths,
        readyTimeoutMs: inputs.readyTimeoutMs,
        log,
        phase,
      }).catch((err: unknown) => {
        throw keptForInspection(err);
      });
    } else {
      log.warning(
        `No compose file in ${inputs.workingDirectory}: the environment is provisioned, and no services are deployed. Set "working-directory" or "compose-files".`,
      );
    }

    return {
      envId: ctx.envId,
      id,
      namespace,
      created: !found,
      ports: compose?.ports ?? [],
      upload: compose && {
        files: compose.uploadedFiles,
        bytes: compose.uploadedBytes,
        skippedFiles: compose.skippedFiles,
      },
      objects: applied.map((a) => ({ ref: a.ref, action: a.action })),
      dockerHost: manifests.dockerHost.metadata.name,
    };
  } finally {
    client.close();
  }
}
