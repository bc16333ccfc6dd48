import type { ServicePort, ServiceUrl } from '../compose/urls.js';
import type { EnvLock } from '../environment/lock.js';
import { waitForRollout } from '../environment/wait.js';
import { newInstanceId } from '../identity.js';
import { type Inputs, requireUpFiles } from '../inputs.js';
import type { KubeClient } from '../kube/client.js';
import { checkAfterDeploy } from './guard.js';
import { connectWith, lockEnvironment, type RunContext, runTools } from './run.js';
import {
  applyEnvironment,
  deployBridge,
  findAndCheck,
  guardArgs,
  keptForInspection,
  loadBalancerAddresses,
  planServices,
  removeAgain,
  renderEnvironment,
  stampEnvironment,
  startComposeRead,
  type UploadSummary,
} from './up-steps.js';

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
  upload?: UploadSummary;
  objects: Array<{ ref: string; action: string }>;
  dockerHost: string;
  outcome: UpOutcome;
  /** What happened, for a notice: every outcome but `ready`. */
  notice?: string;
  /** `superseded`: the PR's head commit now. */
  headSha?: string;
}

/**
 * inputs → identity → lock → checks → "deploying" report → compose read → render → apply → wait → Docker bridge →
 * URLs → checks → report, and unlock. The compose read starts before the connection, and is awaited in its own phase. The checks
 * before and after are the concurrency rule of src/commands/guard.ts.
 */
export async function up(inputs: Inputs, ctx: RunContext): Promise<UpResult> {
  const { log, phase } = runTools(ctx);
  const { namespace } = inputs;
  const { envId } = ctx;
  requireUpFiles(inputs);
  const compose = startComposeRead(inputs, envId);

  let client: KubeClient;
  try {
    client = await phase('Connect to the cluster', () => connectWith(inputs, log));
  } catch (err) {
    compose.stop();
    throw err;
  }
  let lock: EnvLock | undefined;
  // Whether an environment exists when the run ends: the lock's Lease stays with one, and goes without one.
  let envExists = true;
  try {
    lock = await phase('Lock the environment', () => lockEnvironment(client, inputs, ctx, 'up', log));

    const guard = guardArgs(inputs, ctx, log);
    const { found, verdict } = await phase('Find the environment', () =>
      findAndCheck(client, guard, (env) => {
        envExists = Boolean(env);
      }),
    );
    if (!verdict.go) {
      log.info(verdict.notice);
      const dockerHost = found?.dockerHost.metadata.name ?? '';
      const env = { envId, namespace, id: found?.id ?? '', created: false, dockerHost };
      return upResult(env, 'stopped', { notice: verdict.notice });
    }
    await ctx.report?.deploying();
    const id = found?.id ?? newInstanceId(envId);
    ctx.onId?.(id);
    const kept = keptForInspection(envId, id, namespace);

    // Before any write: a broken compose project leaves the cluster untouched, and the template needs the ports.
    const prepared = compose.found
      ? await phase('Read the compose project', () => compose.result(log))
      : compose.none(log);
    const ports = prepared?.ports ?? [];
    const { named, services } = planServices(inputs, envId, ports);

    const manifests = await phase('Render the template', () =>
      renderEnvironment(client, { inputs, ctx, id, services, log }),
    );
    const dockerHost = manifests.dockerHost.metadata.name;
    const env = { envId, namespace, id, created: !found, dockerHost };

    const stamped = stampEnvironment(manifests, { ctx, id, found });
    const applied = await phase('Apply the objects', async () => {
      const result = await applyEnvironment(client, stamped, { inputs, found, log });
      envExists = true;
      return result;
    });

    await phase('Wait for the Docker host', () =>
      waitForRollout(client, { namespace, name: dockerHost, timeoutMs: inputs.readyTimeoutMs, log }).catch(
        kept,
      ),
    );

    const upload =
      prepared && (await deployBridge(client, { inputs, dockerHost, prepared, log, phase }).catch(kept));

    let urls = named;
    if (inputs.expose === 'loadbalancer' && ports.length > 0) {
      urls = await phase('Wait for the load balancer', () =>
        loadBalancerAddresses(client, manifests.objects, ports, { namespace, inputs, log }),
      ).catch(kept);
    }
    for (const u of urls) log.info(`${u.service}:${u.port} → ${u.url}`);

    const after = await phase('Check the PR again', () => checkAfterDeploy(client, guard));
    if (after.outcome === 'remove') {
      log.info(after.notice);
      await phase('Remove the environment', () => removeAgain(client, { inputs, ctx, after, log }));
      envExists = false;
      return upResult(env, 'removed', { ports, notice: after.notice });
    }
    if (after.outcome === 'superseded') log.info(after.notice);

    return upResult(env, after.outcome, {
      ...(after.outcome === 'superseded' ? { notice: after.notice, headSha: after.headSha } : {}),
      ports,
      urls,
      upload,
      objects: applied.map((a) => ({ ref: a.ref, action: a.action })),
    });
  } finally {
    compose.stop();
    await lock?.release({ remove: !envExists });
    client.close();
  }
}

type EnvFields = Pick<UpResult, 'envId' | 'namespace' | 'id' | 'created' | 'dockerHost'>;
type Details = Partial<Pick<UpResult, 'ports' | 'urls' | 'upload' | 'objects' | 'notice' | 'headSha'>>;

/** Every result: the environment, what happened, and what the outcome adds (nothing deployed lists nothing). */
function upResult(env: EnvFields, outcome: UpOutcome, details: Details = {}): UpResult {
  return { ...env, ports: [], urls: [], objects: [], outcome, ...details };
}
