/**
 * A Kubernetes quantity of bytes (resource.Quantity as `sizeLimit` and `ephemeral-storage` take it): a
 * number with a binary (Ki, Mi, Gi, Ti, Pi, Ei), a decimal (k, M, G, T, P, E) or an exponent (e9) suffix.
 * Fractions of a byte (m, u, n) and signs are refused: they are valid quantities, but not a disk size.
 */
const SUFFIX: Record<string, number> = {
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

const QUANTITY = /^(\d+(?:\.\d+)?|\.\d+)(?:([KMGTPE]i|[kMGTPE])|[eE](\d+))?$/;

/** The number of bytes, or undefined when `text` is not a positive byte quantity. */
export function parseByteQuantity(text: string): number | undefined {
  const m = QUANTITY.exec(text.trim());
  if (!m) return undefined;
  const [, num, suffix, exponent] = m;
  const factor = exponent !== undefined ? 10 ** Number(exponent) : SUFFIX[suffix ?? ''];
  if (factor === undefined) return undefined;
  // The API server rounds a fraction of a byte up.
  const bytes = Math.ceil(Number(num) * factor);
  return Number.isFinite(bytes) && bytes > 0 ? bytes : undefined;
}

/** Bytes as people read them: 1.5 GiB, 300 MiB, 12 KiB, 512 B. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'];
  let v = bytes;
  let i = 0;
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v} B` : `${v >= 100 ? v.toFixed(0) : Number(v.toFixed(1))} ${units[i]}`;
}
