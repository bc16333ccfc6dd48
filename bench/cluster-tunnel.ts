/**
 * Tunnel throughput on a cluster: the same `docker cp` of one file into a container of the docker host that the
 * action created, along every way this machine has to its dockerd, alternated in one run:
 *
 * - tunnel: openTunnel (src/kube/stream/port-forward.ts) in a process of its own, as in the action;
 * - kubectl: `kubectl port-forward pod/X :2375`, when kubectl is there;
 * - direct: the pod IP's 2375, when this machine reaches it.
 *
 * A missing way is skipped with the reason in the output. Ratios are throughput ratios (time of the other way
 * over the tunnel's), so above 1 means the tunnel is faster.
 */
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { dockerJson } from '../test/sim/kubelet/docker/api.js';
import type { ActionChildInput, TunnelResult } from './lib/action-child.js';
import type { ClusterSizes } from './lib/args.js';
import { startChild } from './lib/child.js';
import {
  baselineWays,
  type ClusterEnv,
  clusterProject,
  controlTunnel,
  dockerTarget,
  podOfEnv,
  runActionOn,
} from './lib/cluster-env.js';
import { writeBlob } from './lib/data.js';
import { containerFileSize, docker } from './lib/docker.js';
import { mb, mbps, median, secs, table, verdict } from './lib/format.js';
import { progress, type Section, withTimeout } from './lib/section.js';
import type { Way } from './lib/ways.js';

const TARGET_DIRECT = 0.5;
const SINK = 'bench-sink';
const DEST = '/blob.bin';
const PR = 801;

export type Name = 'tunnel' | 'kubectl' | 'direct';
const LABELS: Record<Name, string> = {
  tunnel: 'tunnel (openTunnel, WebSocket port-forward)',
  kubectl: 'kubectl port-forward pod/X :2375',
  direct: 'direct (pod IP:2375)',
};

export async function clusterTunnelBench(
  env: ClusterEnv,
  tmp: string,
  sizes: ClusterSizes,
): Promise<Section> {
  const { bytes, rounds } = sizes;
  const workspace = path.join(tmp, 'cluster-tunnel');
  await clusterProject(workspace);
  const blob = path.join(tmp, 'blob.bin');
  const closers: Array<() => unknown> = [];
  let upped = false;
  try {
    progress('the action deploys the example (first up), for a docker host pod');
    // A failed up may still leave objects behind: the down below runs whenever an up was tried.
    upped = true;
    const up = await runActionOn(
      env,
      workspace,
      { action: 'opened', number: PR, headSha: 't'.repeat(40) },
      'up',
    );
    const envId = up.outputs['env-id'];
    if (!envId) throw new Error('the action reported no env-id');
    const pod = await podOfEnv(env, envId);
    progress(`environment ${envId}: pod ${pod.name}, IP ${pod.ip ?? '(none)'}`);

    const control = await controlTunnel(env, pod.name);
    closers.push(() => control.close());
    const api = dockerTarget(control);
    const child = startChild({
      mode: 'tunnel',
      kubeconfig: env.args.kubeconfig,
      namespace: env.args.namespace,
      pod: pod.name,
    } satisfies ActionChildInput);
    closers.push(() => child.kill());
    const { url } = await withTimeout(child.message<{ url: string }>(), 60_000, 'opening the tunnel');

    const ways: Record<Name, Way> = {
      tunnel: { ok: true, url, close: () => {} },
      ...(await baselineWays(env, pod)),
    };
    const skipped: string[] = [];
    for (const [name, w] of Object.entries(ways)) {
      if (w.ok) closers.push(w.close);
      else skipped.push(`${name}: ${w.reason}`);
      progress(`${name}: ${w.ok ? w.url : `SKIPPED: ${w.reason}`}`);
    }
    const names = (Object.keys(ways) as Name[]).filter((n) => ways[n].ok);

    progress(`writing a ${mb(bytes)} MB file`);
    await writeBlob(blob, bytes);
    const freshSink = async () => {
      await dockerJson(api, 'DELETE', `/containers/${SINK}?force=1`).catch(() => {});
      await dockerJson(api, 'POST', `/containers/create?name=${SINK}`, {
        json: { Image: 'busybox:local', Cmd: ['true'] },
      });
    };
    const times: Record<Name, number[]> = { tunnel: [], kubectl: [], direct: [] };
    const copy = async (name: Name, label: string) => {
      const way = ways[name];
      if (!way.ok) throw new Error(`${name} is not available`);
      await freshSink();
      const ms = await docker(way.url, ['cp', blob, `${SINK}:${DEST}`]);
      const size = await containerFileSize('127.0.0.1', control.port, SINK, DEST);
      if (size !== bytes) throw new Error(`${name}: ${SINK}:${DEST} has ${size} bytes, ${bytes} were sent`);
      progress(`${label} ${name.padEnd(7)} ${secs(ms)} s  ${mbps(bytes, ms)} MB/s`);
      return ms;
    };
    for (const n of names) await copy(n, 'warm-up ');
    for (let r = 0; r < rounds; r++) {
      // Each round starts one way later, so a drift in the cluster's or the machine's load favours none.
      const order = names.map((_, i) => names[(i + r) % names.length]!);
      for (const n of order) times[n].push(await copy(n, `round ${r + 1}`));
    }
    child.endInput();
    const { peakRss, peaks } = await withTimeout(child.message<TunnelResult>(), 30_000, 'closing the tunnel');
    if ((await child.exited) !== 0) throw new Error('the tunnel process failed');

    return {
      title: `Tunnel throughput on the cluster: docker cp of ${mb(bytes)} MB, median of ${rounds} rounds (after a warm-up), pod ${pod.name}`,
      lines: [
        ...tunnelSummary(bytes, times, skipped),
        `tunnel process, peaks: RSS ${mb(peakRss)} MB, heap ${mb(peaks.heapUsed)} MB, buffers ${mb(peaks.arrayBuffers)} MB (for information)`,
      ],
    };
  } finally {
    for (const close of closers.reverse()) await Promise.resolve(close()).catch(() => {});
    await rm(blob, { force: true });
    if (upped)
      await runActionOn(
        env,
        workspace,
        { action: 'closed', number: PR, headSha: 't'.repeat(40) },
        'down',
      ).catch((err: unknown) => console.error(`  removing the environment of PR ${PR}: ${String(err)}`));
    await rm(workspace, { recursive: true, force: true });
  }
}

/** The table and the ratios, from the copy times (ms) of each way that ran; `skipped`: the others, with why. */
export function tunnelSummary(
  bytes: number,
  times: Partial<Record<Name, number[]>>,
  skipped: readonly string[],
): string[] {
  const names = (Object.keys(LABELS) as Name[]).filter((n) => times[n]?.length);
  const med = (n: Name) => median(times[n] ?? []);
  const has = (n: Name) => names.includes(n);
  const lines = [
    table(
      ['path', 'median s', 'MB/s', 'rounds s'],
      names.map((n) => [LABELS[n], secs(med(n)), mbps(bytes, med(n)), (times[n] ?? []).map(secs).join(' ')]),
    ),
    '',
  ];
  if (has('tunnel') && has('kubectl'))
    lines.push(
      `tunnel / kubectl port-forward throughput: ${(med('kubectl') / med('tunnel')).toFixed(2)}  (for information: both pay the API server → kubelet stream; above 1, the tunnel is faster)`,
    );
  if (has('tunnel') && has('direct')) {
    const ratio = med('direct') / med('tunnel');
    lines.push(
      `tunnel / direct throughput: ${ratio.toFixed(2)}  (target >= ${TARGET_DIRECT}: ${verdict(ratio >= TARGET_DIRECT)})`,
    );
  }
  if (has('kubectl') && has('direct'))
    lines.push(`kubectl port-forward / direct throughput: ${(med('direct') / med('kubectl')).toFixed(2)}`);
  for (const s of skipped) lines.push(`skipped, ${s}`);
  return lines;
}
