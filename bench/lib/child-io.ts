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

/** Current resident set size in bytes (VmRSS). */
export function currentRss(): number {
  return process.memoryUsage.rss();
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
  /** V8's committed heap: what the heap holds in RSS, used or not. */
  heapTotal: number;
  external: number;
  arrayBuffers: number;
  rss: number;
  /** The sample with the highest RSS: what the peak consists of. */
  atPeakRss: { rss: number; heapTotal: number; heapUsed: number; arrayBuffers: number };
}

/** Set PREEVY_BENCH_TRACE=1 to print every sample to stderr (time, rss, heap total/used, Buffers, in MB). */
const TRACE = process.env.PREEVY_BENCH_TRACE === '1';

/**
 * Samples process.memoryUsage() every 100 ms (each sample costs about a millisecond of CPU) and keeps each component's peak: tells JS objects (heapUsed)
 * from Buffers (external, arrayBuffers) when the peak RSS is higher than the streaming design suggests.
 */
export function samplePeaks(): { stop(): MemoryPeaks } {
  const peaks: MemoryPeaks = {
    heapUsed: 0,
    heapTotal: 0,
    external: 0,
    arrayBuffers: 0,
    rss: 0,
    atPeakRss: { rss: 0, heapTotal: 0, heapUsed: 0, arrayBuffers: 0 },
  };
  const t0 = performance.now();
  const sample = () => {
    const m = process.memoryUsage();
    peaks.heapUsed = Math.max(peaks.heapUsed, m.heapUsed);
    peaks.heapTotal = Math.max(peaks.heapTotal, m.heapTotal);
    peaks.external = Math.max(peaks.external, m.external);
    peaks.arrayBuffers = Math.max(peaks.arrayBuffers, m.arrayBuffers);
    if (m.rss > peaks.rss) {
      peaks.rss = m.rss;
      peaks.atPeakRss = {
        rss: m.rss,
        heapTotal: m.heapTotal,
        heapUsed: m.heapUsed,
        arrayBuffers: m.arrayBuffers,
      };
    }
    if (TRACE) {
      const f = (n: number) => (n / 1e6).toFixed(1);
      process.stderr.write(
        `mem ${((performance.now() - t0) / 1000).toFixed(2)} rss ${f(m.rss)} heap ${f(m.heapTotal)}/${f(m.heapUsed)} buffers ${f(m.arrayBuffers)}\n`,
      );
    }
  };
  sample();
  const timer = setInterval(sample, 100);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      sample();
      return peaks;
    },
  };
}
