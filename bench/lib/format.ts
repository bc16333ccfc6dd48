/** Units and tables for the benchmark output. Sizes are decimal (1 MB = 10^6 bytes) everywhere. */

export const MB = 1_000_000;

export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error('median of nothing');
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export const mb = (bytes: number, digits = 1): string => (bytes / MB).toFixed(digits);
export const secs = (ms: number): string => (ms / 1000).toFixed(2);
export const mbps = (bytes: number, ms: number): string => (bytes / MB / (ms / 1000)).toFixed(1);

export function verdict(ok: boolean): string {
  return ok ? 'ok' : 'MISSED';
}

/** A plain-text table: the output must stay readable in a CI log, where there is no terminal width. */
export function table(headers: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}
