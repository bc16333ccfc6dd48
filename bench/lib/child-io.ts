/**
 * Child side of the benchmark child processes. Imports nothing but node built-ins, so the idle baseline of a
 * child is node, the tsx loader and the action's modules, and nothing of the bench.
 */
import fs from 'node:fs';

export const INPUT_ENV = 'PREEVY_BENCH_INPUT';
export const RESULT_PREFIX = 'BENCH ';

export function readInput<T>(): T {
  const raw = process.env[INPUT_ENV];
  if (!raw) throw new Error(`${INPUT_ENV} is not set: this script is started by bench/index.ts`);
  return JSON.parse(raw) as T;
}

export function report(message: unknown): void {
  process.stdout.write(`${RESULT_PREFIX}${JSON.stringify(message)}\n`);
}

/** Peak resident set size of this process in bytes: VmHWM, or getrusage's maxrss where /proc is missing. */
export function peakRss(): number {
  try {
    const m = /^VmHWM:\s+(\d+) kB$/m.exec(fs.readFileSync('/proc/self/status', 'utf8'));
    if (m) return Number(m[1]) * 1024;
  } catch {
    // not Linux
  }
  return process.resourceUsage().maxRSS * 1024;
}

/** Resolves when stdin ends: the parent's way of saying "stop". */
export function inputEnded(): Promise<void> {
  return new Promise((resolve) => {
    process.stdin.on('end', resolve);
    process.stdin.on('close', resolve);
    process.stdin.resume();
  });
}

export interface MemoryPeaks {
  heapUsed: number;
  external: number;
  arrayBuffers: number;
}

/**
 * Samples process.memoryUsage() every 50 ms and keeps each component's peak: tells JS objects (heapUsed)
 * from Buffers (external, arrayBuffers) when the peak RSS is higher than the streaming design suggests.
 */
export function samplePeaks(): { stop(): MemoryPeaks } {
  const peaks: MemoryPeaks = { heapUsed: 0, external: 0, arrayBuffers: 0 };
  const sample = () => {
    const m = process.memoryUsage();
    peaks.heapUsed = Math.max(peaks.heapUsed, m.heapUsed);
    peaks.external = Math.max(peaks.external, m.external);
    peaks.arrayBuffers = Math.max(peaks.arrayBuffers, m.arrayBuffers);
  };
  sample();
  const timer = setInterval(sample, 50);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      sample();
      return peaks;
    },
  };
}
