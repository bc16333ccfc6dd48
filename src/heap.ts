/**
 * Two V8 settings that keep the action's memory down (measured with `npm run bench`; see bench/README.md).
 * Node flags cannot be passed to a `runs.using: node24` action, so they are set from here, once the modules
 * are loaded and before any work; both are read by V8 when it needs them, not only at start-up.
 *
 * `--semi-space-growth-factor=1`: the young generation keeps the size it has after start-up (about 8 MB).
 * The bytes the action moves (upload, tunnel) pass through short-lived Buffers whose memory lives outside the
 * heap and is freed only when the garbage collector finds them dead. V8 grows the young generation (up to 32 MB)
 * whenever many objects survive a scavenge, as they do while the upload's plan lists a large tree. A large
 * young generation is scavenged rarely, so dead Buffers pile up to tens of MB between collections, and the heap
 * keeps the 32 MB. The price is more frequent scavenges, about 0.1 CPU-second more per 200 MB through the tunnel.
 *
 * `--wasm-tiering-budget=2000000000`: undici's HTTP parser (llhttp, WebAssembly; client-node's requests go
 * through it) stays on V8's baseline compiler. The optimizing compile that V8 otherwise starts after the first
 * few requests runs on a background thread and leaves about 17 MB in that thread's malloc arena for the rest of
 * the run. The action parses a few hundred kB of API responses; the baseline code is fast enough for that.
 *
 * A flag V8 does not know is ignored with an "unrecognized flag" line on stderr: these are checked against
 * Node 24's V8 by the unit test.
 */
import v8 from 'node:v8';

export const V8_FLAGS = ['--semi-space-growth-factor=1', '--wasm-tiering-budget=2000000000'] as const;

export function limitMemory(): void {
  for (const flag of V8_FLAGS) v8.setFlagsFromString(flag);
}
