/**
 * The action's side of the benchmarks, in a process of its own as on a runner: the simulator (API server,
 * kubelet, engines) stays in the parent, so this process's peak RSS is the action's alone, and the tunnel
 * does not share an event loop with the other end of its WebSocket. One entry for every mode, so that one
 * bundle serves them all and the idle baseline has loaded exactly what the other modes load.
 *
 * - idle: load the modules, report `{ peakRss }`.
 * - upload: planUpload → tarStream → copyTarToPod (exec of `tar x` in the pod), as src/bridge/deploy.ts does it.
 * - tunnel: openTunnel, report `{ url }` once dockerd answers through it, serve until stdin ends.
 */

import { copyTarToPod } from '../../src/bridge/copy.js';
import { waitForDocker } from '../../src/bridge/docker-api.js';
import { planUpload, tarStream } from '../../src/compose/upload.js';
import { limitMemory } from '../../src/heap.js';
import { connect } from '../../src/kube/client.js';
import { openTunnel } from '../../src/kube/stream/port-forward.js';
import {
  currentRss,
  inputEnded,
  type MemoryPeaks,
  peakRss,
  readInput,
  report,
  samplePeaks,
} from './child-io.js';

const MANIFEST = '.preevy-upload-manifest.json';

interface Cluster {
  kubeconfig: string;
  namespace: string;
  pod: string;
}

export interface TunnelResult {
  peakRss: number;
  peaks: MemoryPeaks;
  /** RSS once dockerd answered through the tunnel, before the benchmark's traffic. */
  connectedRss: number;
}

export type ActionChildInput =
  | { mode: 'idle' }
  | (Cluster & { mode: 'tunnel' })
  | (Cluster & {
      mode: 'upload';
      container: string;
      workingDirectory: string;
      roots: string[];
      remoteDir: string;
    });

export interface UploadResult {
  peakRss: number;
  peaks: MemoryPeaks;
  /** RSS after the first API request (client-node, TLS), before the plan. */
  connectedRss: number;
  /** RSS after the plan, before the upload. */
  plannedRss: number;
  planMs: number;
  uploadMs: number;
  sendBytes: number;
  files: number;
  /** The tar stream's length, headers and padding included. */
  archiveBytes: number;
  /** The exec subprotocol negotiated (v5 sends the archive once, v4 twice). */
  protocol: string;
}

// No top-level await: ncc bundles with transpile-only (a type error elsewhere in the repo must not stop
// the bench), and in that mode its webpack takes a file with top-level await for CommonJS.
async function main(input: ActionChildInput): Promise<void> {
  // As src/index.ts does it, once the modules are loaded.
  limitMemory();
  if (input.mode === 'idle') {
    report({ peakRss: peakRss() });
  } else if (input.mode === 'tunnel') {
    const client = await connect({ kubeconfig: input.kubeconfig, namespace: input.namespace });
    const tunnel = await openTunnel(client, { namespace: input.namespace, pod: input.pod });
    const sampler = samplePeaks();
    let connectedRss = 0;
    try {
      await waitForDocker(tunnel, { timeoutMs: 30_000 });
      connectedRss = currentRss();
      report({ url: tunnel.url });
      await inputEnded();
    } finally {
      await tunnel.close();
      await client.close();
    }
    report({ peakRss: peakRss(), peaks: sampler.stop(), connectedRss } satisfies TunnelResult);
  } else {
    const client = await connect({ kubeconfig: input.kubeconfig, namespace: input.namespace });
    const connectedRss = currentRss();
    const sampler = samplePeaks();
    try {
      const t0 = performance.now();
      const plan = await planUpload({ workingDirectory: input.workingDirectory, roots: input.roots });
      const t1 = performance.now();
      const plannedRss = currentRss();
      // As src/bridge/deploy.ts does it: a fresh archive stream per call (a v4-only cluster reads it twice).
      const copied = await copyTarToPod(client, {
        namespace: input.namespace,
        pod: input.pod,
        container: input.container,
        dir: input.remoteDir,
        tar: () => tarStream(plan, MANIFEST),
      });
      const t2 = performance.now();
      report({
        peakRss: peakRss(),
        peaks: sampler.stop(),
        connectedRss,
        plannedRss,
        planMs: t1 - t0,
        uploadMs: t2 - t1,
        sendBytes: plan.sendBytes,
        files: plan.send.filter((e) => e.type === 'file').length,
        archiveBytes: copied.bytes,
        protocol: copied.protocol,
      } satisfies UploadResult);
    } finally {
      await client.close();
    }
  }
}

main(readInput<ActionChildInput>()).catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
  process.exitCode = 1;
});
