/**
 * The action's young generation stays the size it has once the modules are loaded (about 8 MB).
 *
 * Why: the bytes the action moves (upload, tunnel) pass through short-lived Buffers whose memory lives
 * outside the V8 heap and is freed only when the garbage collector finds their wrappers dead. V8 grows the
 * young generation (up to 32 MB) whenever many objects survive a scavenge, which the upload's plan of a
 * large tree does (one entry per file). A large young generation is scavenged rarely, so dead Buffers pile up
 * to tens of MB before a collection frees them, and the heap itself keeps the 32 MB. Measured on 1 GB in
 * 20,000 files: peak RSS 232 MB with the growth, 188 MB without; a 1 GB build context through the tunnel
 * 198 MB and 179 MB (bench/README.md). The price is more frequent scavenges: about 0.1 CPU-second more per
 * 200 MB through the tunnel.
 *
 * How: node flags cannot be passed to a `runs.using: node24` action, and V8 fixes the heap's limits at
 * start-up, but it reads the growth factor each time it would grow the young generation; 1 means "do not
 * grow". Called after the module graph is loaded, so start-up itself is not slowed down.
 */
import v8 from 'node:v8';

export function keepYoungGenerationSize(): void {
  v8.setFlagsFromString('--semi-space-growth-factor=1');
}
