/**
 * Imported first by bench/index.ts, for the process that hosts the simulator (API server, kubelet) in the
 * benchmarks: it frees the simulator's dead Buffers with frequent scavenges, so that V8 does not free them with
 * full mark-compacts.
 *
 * Every byte through the tunnel arrives in the simulator as TLS records of 16 KiB, each in a Buffer of its own
 * (Node's TLS server allocates one per record) that dies as soon as its payload is copied out (PodWriter in
 * test/sim/kubelet/portforward.ts). Little else is allocated in the young generation, so scavenges are rare, and
 * V8 frees those Buffers when their external memory reaches its limit, with full mark-compacts of a heap of some
 * 50 MB (tsx keeps the source of every module), most of it on V8's worker threads, on the 2 cores the tunnel and
 * the engine need too. Measured with --trace-gc over a tunnel run (5 copies of 200 MB): 17–22 mark-compacts, and
 * 1.0–1.5 CPU-seconds per copy in the simulator; scavenging after every 8 MB of external memory, checked every
 * 10 ms, still 11–17 of them; after every 2 MB, checked every 5 ms: 5, none in the measured rounds, and 0.5–0.6 s per
 * copy. A scavenge of young Buffers that are already dead takes well under a millisecond.
 *
 * A real API server (Go) costs the runner nothing; this keeps the simulator's share of the CPU from deciding the
 * tunnel's figures. (The action itself does not allocate per byte: see adopt() in src/kube/stream/port-forward.ts.)
 */
import v8 from 'node:v8';
import vm from 'node:vm';

/** External memory that may pile up between two scavenges. */
const STEP = 2 * 1024 * 1024;
/** How often it is checked (v8.getHeapStatistics() costs about 2 µs). */
const CHECK_MS = 5;

// The young generation keeps the size it has at start-up (about 4 MB): the scavenges stay short.
v8.setFlagsFromString('--semi-space-growth-factor=1');
// Exposes gc() to contexts created from now on; the pacer takes it from one.
v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as (options: { type: 'minor' }) => void;

const external = () => v8.getHeapStatistics().external_memory;
let base = external();
const pacer = setInterval(() => {
  const now = external();
  if (now < base) base = now;
  else if (now - base > STEP) {
    gc({ type: 'minor' });
    base = external();
  }
}, CHECK_MS);
pacer.unref();
