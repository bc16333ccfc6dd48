/**
 * Tunnel throughput: the same 200 MB `docker cp` (PUT /containers/<id>/archive, a streamed tar request body)
 * into the docker-host pod's engine, through the action's tunnel and over a direct TCP connection, alternated
 * in one run. The ratio of the two is the figure: absolute speeds depend on the machine and its load.
 */
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { dockerJson } from '../test/sim/kubelet/docker/api.js';
import type { ActionChildInput, TunnelResult } from './lib/action-child.js';
import { startChild } from './lib/child.js';
import { writeBlob } from './lib/data.js';
import { containerFileSize, docker } from './lib/docker.js';
import type { BenchEnv } from './lib/env.js';
import { MB, mb, mbps, median, secs, table, verdict } from './lib/format.js';
import { cpuSeconds, machineBusySeconds } from './lib/proc.js';
import { progress, type Section, withTimeout } from './lib/section.js';

const BYTES = 200 * MB;
const ROUNDS = 5;
const TARGET_RATIO = 0.5;
const SINK = 'bench-sink';
const DEST = '/blob.bin';

type Way = 'tunnel' | 'direct';

const cpuTotal = (u: NodeJS.CpuUsage) => (u.user + u.system) / 1e6;

export async function tunnelBench(env: BenchEnv, tmp: string): Promise<Section> {
  const { engine } = env;
  const api = { host: engine.ip, port: engine.tcpPort };
  const direct = `tcp://${engine.ip}:${engine.tcpPort}`;
  const blob = path.join(tmp, 'blob.bin');
  progress(`writing a ${mb(BYTES, 0)} MB file`);
  await writeBlob(blob, BYTES);

  // A fresh container per copy: each copy then lands in an empty layer, and the size check below cannot be
  // satisfied by an earlier round's file.
  const freshSink = async () => {
    await dockerJson(api, 'DELETE', `/containers/${SINK}?force=1`).catch(() => {});
    await dockerJson(api, 'POST', `/containers/create?name=${SINK}`, {
      json: { Image: 'busybox:local', Cmd: ['true'] },
    });
  };

  const child = startChild({
    mode: 'tunnel',
    kubeconfig: env.kubeconfig,
    namespace: env.namespace,
    pod: env.pod.name,
  } satisfies ActionChildInput);
  try {
    const { url } = await withTimeout(child.message<{ url: string }>(), 60_000, 'opening the tunnel');
    progress(`tunnel ${url} (process ${child.pid}) -> pod ${env.pod.name}; direct ${direct}`);
    const times: Record<Way, number[]> = { tunnel: [], direct: [] };
    // Where the CPU goes during a copy through the tunnel: the action's process, or the simulator's.
    const cpu = { tunnel: [] as number[], simulator: [] as number[] };
    const copy = async (way: Way, label: string) => {
      await freshSink();
      const before = {
        tunnel: cpuSeconds(child.pid),
        simulator: process.cpuUsage(),
        machine: machineBusySeconds(),
      };
      const ms = await docker(way === 'tunnel' ? url : direct, ['cp', blob, `${SINK}:${DEST}`]);
      const used = {
        tunnel: cpuSeconds(child.pid) - before.tunnel,
        simulator: cpuTotal(process.cpuUsage(before.simulator)),
        machine: machineBusySeconds() - before.machine,
      };
      const size = await containerFileSize(engine.ip, engine.tcpPort, SINK, DEST);
      if (size !== BYTES) throw new Error(`${way}: ${SINK}:${DEST} has ${size} bytes, ${BYTES} were sent`);
      progress(
        `${label} ${way.padEnd(6)} ${secs(ms)} s  ${mbps(BYTES, ms)} MB/s  CPU s: tunnel process ${used.tunnel.toFixed(2)}, simulator ${used.simulator.toFixed(2)}, machine ${used.machine.toFixed(2)}`,
      );
      return { ms, used };
    };
    await copy('tunnel', 'warm-up ');
    await copy('direct', 'warm-up ');
    for (let r = 0; r < ROUNDS; r++) {
      // ABBA order, so a drift in the machine's load does not favour one way.
      const order: Way[] = r % 2 === 0 ? ['tunnel', 'direct'] : ['direct', 'tunnel'];
      for (const way of order) {
        const { ms, used } = await copy(way, `round ${r + 1}`);
        times[way].push(ms);
        if (way === 'tunnel') {
          cpu.tunnel.push(used.tunnel);
          cpu.simulator.push(used.simulator);
        }
      }
    }
    child.endInput();
    const { peakRss, peaks } = await withTimeout(child.message<TunnelResult>(), 30_000, 'closing the tunnel');
    if ((await child.exited) !== 0) throw new Error('the tunnel process failed');

    const t = median(times.tunnel);
    const d = median(times.direct);
    const ratio = d / t;
    return {
      title: `Tunnel throughput: docker cp of ${mb(BYTES, 0)} MB, median of ${ROUNDS} rounds (after a warm-up)`,
      lines: [
        table(
          ['path', 'median s', 'MB/s', 'rounds s'],
          [
            [
              'tunnel (openTunnel, WebSocket port-forward)',
              secs(t),
              mbps(BYTES, t),
              times.tunnel.map(secs).join(' '),
            ],
            ['direct (engine ip:2375)', secs(d), mbps(BYTES, d), times.direct.map(secs).join(' ')],
          ],
        ),
        '',
        `tunnel / direct throughput: ${ratio.toFixed(2)}  (target >= ${TARGET_RATIO}: ${verdict(ratio >= TARGET_RATIO)})`,
        `CPU seconds per tunnel copy (median): tunnel process ${median(cpu.tunnel).toFixed(2)}, simulator (API server + kubelet) ${median(cpu.simulator).toFixed(2)} (for information)`,
        `tunnel process, peaks: RSS ${mb(peakRss)} MB, heap ${mb(peaks.heapUsed)} MB, buffers ${mb(peaks.arrayBuffers)} MB (for information)`,
      ],
    };
  } finally {
    child.kill();
    await dockerJson(api, 'DELETE', `/containers/${SINK}?force=1`).catch(() => {});
    await rm(blob, { force: true });
  }
}
