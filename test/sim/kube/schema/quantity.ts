/**
 * resource.Quantity as the API server parses and re-serializes it (k8s.io/apimachinery/pkg/api/resource):
 * `cpu: "1000"` comes back as `"1k"`, `memory: 1.5Gi` as `"1536Mi"`, `0.5` as `"500m"`.
 */

export const QUANTITY_FORMAT_ERROR =
  "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";
export const QUANTITY_SUFFIX_ERROR = "unable to parse quantity's suffix";

type Format = 'DecimalSI' | 'BinarySI' | 'DecimalExponent';

export interface ParsedQuantity {
  /** value = mantissa * 10^exp10 */
  mantissa: bigint;
  exp10: number;
  format: Format;
}

const DEC_SUFFIX: Record<string, number> = {
  n: -9,
  u: -6,
  m: -3,
  '': 0,
  k: 3,
  M: 6,
  G: 9,
  T: 12,
  P: 15,
  E: 18,
};
const BIN_SUFFIX: Record<string, number> = { Ki: 10, Mi: 20, Gi: 30, Ti: 40, Pi: 50, Ei: 60 };

function splitQuantity(
  str: string,
): { sign: string; num: string; denom: string; suffix: string } | undefined {
  let pos = 0;
  const end = str.length;
  let sign = '';
  if (str[pos] === '+' || str[pos] === '-') {
    sign = str[pos] as string;
    pos++;
  }
  const numStart = pos;
  while (pos < end && str[pos] !== undefined && /[0-9]/.test(str[pos] as string)) pos++;
  const num = str.slice(numStart, pos);
  let denom = '';
  if (str[pos] === '.') {
    pos++;
    const s = pos;
    while (pos < end && /[0-9]/.test(str[pos] as string)) pos++;
    denom = str.slice(s, pos);
  }
  if (num === '' && denom === '') return undefined;
  // suffix
  const s = pos;
  if (pos < end) {
    if (str[pos] === 'e' || str[pos] === 'E') {
      pos++;
      if (str[pos] === '+' || str[pos] === '-') pos++;
    }
    let i = pos;
    for (; i < end; i++) if (!'eEinumkKMGTP'.includes(str[i] as string)) break;
    if (i >= end) return { sign, num, denom, suffix: str.slice(s) };
    pos = i;
    if (str[pos] === '-' || str[pos] === '+') pos++;
  }
  for (let i = pos; i < end; i++) if (!/[0-9]/.test(str[i] as string)) return undefined;
  return { sign, num, denom, suffix: str.slice(s) };
}

/** Throws an Error with the apimachinery message when the string is not a quantity. */
export function parseQuantity(input: string): ParsedQuantity {
  const str = input.trim();
  if (str.length === 0) throw new Error(QUANTITY_FORMAT_ERROR);
  const parts = splitQuantity(str);
  if (!parts) throw new Error(QUANTITY_FORMAT_ERROR);
  const { sign, num, denom, suffix } = parts;
  let format: Format;
  let exp10 = 0;
  let exp2 = 0;
  if (suffix in DEC_SUFFIX) {
    format = 'DecimalSI';
    exp10 = DEC_SUFFIX[suffix] as number;
  } else if (suffix in BIN_SUFFIX) {
    format = 'BinarySI';
    exp2 = BIN_SUFFIX[suffix] as number;
  } else if (/^[eE][-+]?[0-9]+$/.test(suffix)) {
    format = 'DecimalExponent';
    exp10 = Number.parseInt(suffix.slice(1), 10);
  } else {
    throw new Error(QUANTITY_SUFFIX_ERROR);
  }
  let mantissa = BigInt((num + denom).replace(/^0+(?=.)/, '') || '0');
  exp10 -= denom.length;
  if (exp2) mantissa <<= BigInt(exp2);
  if (sign === '-') mantissa = -mantissa;
  // Precision is limited to nano units: round up (away from zero).
  if (exp10 < -9) {
    const div = 10n ** BigInt(-9 - exp10);
    const neg = mantissa < 0n;
    const abs = neg ? -mantissa : mantissa;
    let q = abs / div;
    if (abs % div !== 0n) q += 1n;
    mantissa = neg ? -q : q;
    exp10 = -9;
  }
  return { mantissa, exp10, format };
}

function decSuffix(exp: number, format: Format): string {
  if (exp === 0) return '';
  if (format === 'DecimalSI') {
    for (const [s, e] of Object.entries(DEC_SUFFIX)) if (e === exp) return s;
  }
  return `e${exp}`;
}

/** The canonical string the API server writes for a quantity. */
export function canonicalQuantity(q: ParsedQuantity): string {
  let { mantissa, exp10 } = q;
  if (mantissa === 0n) return '0';
  let format = q.format;
  if (format === 'BinarySI') {
    const abs = mantissa < 0n ? -mantissa : mantissa;
    // |value| < 1024 -> DecimalSI
    const small = exp10 >= 0 ? abs * 10n ** BigInt(exp10) < 1024n : abs < 1024n * 10n ** BigInt(-exp10);
    if (small) format = 'DecimalSI';
    else {
      let intValue: bigint | undefined;
      if (exp10 >= 0) intValue = mantissa * 10n ** BigInt(exp10);
      else {
        const div = 10n ** BigInt(-exp10);
        if (mantissa % div === 0n) intValue = mantissa / div;
      }
      if (intValue === undefined) format = 'DecimalSI';
      else {
        const neg = intValue < 0n;
        let v = neg ? -intValue : intValue;
        let times = 0;
        while (v >= 1024n && v % 1024n === 0n) {
          v /= 1024n;
          times++;
        }
        const bin = ['', 'Ki', 'Mi', 'Gi', 'Ti', 'Pi', 'Ei'][times] ?? '';
        return `${neg ? '-' : ''}${v}${bin}`;
      }
    }
  }
  const neg = mantissa < 0n;
  let v = neg ? -mantissa : mantissa;
  while (v >= 10n && v % 10n === 0n) {
    v /= 10n;
    exp10++;
  }
  const r = ((exp10 % 3) + 3) % 3;
  if (r === 1) {
    v *= 10n;
    exp10 -= 1;
  } else if (r === 2) {
    v *= 100n;
    exp10 -= 2;
  }
  return `${neg ? '-' : ''}${v}${decSuffix(exp10, format)}`;
}

/** Canonical string of a JSON quantity value (string or number); throws on an invalid one. */
export function canonicalizeQuantityValue(v: unknown): string {
  if (typeof v === 'number') return canonicalQuantity(parseQuantity(numberToString(v)));
  if (typeof v === 'string') {
    if (v === '0') return '0';
    return canonicalQuantity(parseQuantity(v));
  }
  throw new Error(QUANTITY_FORMAT_ERROR);
}

function numberToString(n: number): string {
  // JSON numbers like 1e21 or 1e-7: write them plainly enough for the parser.
  const s = String(n);
  if (!/e/i.test(s)) return s;
  const [m, e] = s.split(/e/i) as [string, string];
  return `${m}e${Number.parseInt(e, 10)}`;
}

/** Value as a float, for comparisons (requests <= limits). */
export function quantityToNumber(q: ParsedQuantity): number {
  return Number(q.mantissa) * 10 ** q.exp10;
}
