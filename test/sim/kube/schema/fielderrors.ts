/**
 * k8s.io/apimachinery/pkg/util/validation/field errors and the message helpers of
 * k8s.io/apimachinery/pkg/util/validation, worded as in 1.32.
 */

export interface FieldError {
  reason: string;
  field: string;
  message: string;
}

/** A value printed verbatim (Go's %#v of a struct or map, prepared by the caller). */
export class GoRepr {
  constructor(readonly text: string) {}
}

export function goQuote(s: string): string {
  // strconv.Quote: like JSON, but \x7f and other non-printables as \x.. and no \/ escaping.
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0) as number;
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\r') out += '\\r';
    else if (c < 0x20 || c === 0x7f) out += `\\x${c.toString(16).padStart(2, '0')}`;
    else out += ch;
  }
  return `${out}"`;
}

export function fmtValue(v: unknown): string {
  if (v instanceof GoRepr) return v.text;
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'string') return goQuote(v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return goSlice(v);
  return goStringMap(v as Record<string, unknown>);
}

/** %#v of a map[string]string */
export function goStringMap(m: Record<string, unknown> | undefined | null): string {
  if (!m) return 'map[string]string(nil)';
  const keys = Object.keys(m).sort();
  return `map[string]string{${keys.map((k) => `${goQuote(k)}:${goQuote(String(m[k]))}`).join(', ')}}`;
}

/** %#v of a []string */
export function goSlice(a: unknown[] | undefined | null, elem = 'string'): string {
  if (!a) return `[]${elem}(nil)`;
  return `[]${elem}{${a.map((x) => (typeof x === 'string' ? goQuote(x) : String(x))).join(', ')}}`;
}

export const fe = {
  invalid(field: string, value: unknown, detail: string): FieldError {
    const body = `Invalid value: ${fmtValue(value)}`;
    return { reason: 'FieldValueInvalid', field, message: detail ? `${body}: ${detail}` : body };
  },
  typeInvalid(field: string, value: unknown, detail: string): FieldError {
    const body = `Invalid value: ${fmtValue(value)}`;
    return { reason: 'FieldValueTypeInvalid', field, message: detail ? `${body}: ${detail}` : body };
  },
  required(field: string, detail = ''): FieldError {
    return {
      reason: 'FieldValueRequired',
      field,
      message: detail ? `Required value: ${detail}` : 'Required value',
    };
  },
  notSupported(field: string, value: unknown, valid: string[]): FieldError {
    let message = `Unsupported value: ${fmtValue(value)}`;
    if (valid.length) message += `: supported values: ${valid.map((v) => goQuote(v)).join(', ')}`;
    return { reason: 'FieldValueNotSupported', field, message };
  },
  duplicate(field: string, value: unknown): FieldError {
    return { reason: 'FieldValueDuplicate', field, message: `Duplicate value: ${fmtValue(value)}` };
  },
  forbidden(field: string, detail: string): FieldError {
    return { reason: 'FieldValueForbidden', field, message: detail ? `Forbidden: ${detail}` : 'Forbidden' };
  },
  notFound(field: string, value: unknown): FieldError {
    return { reason: 'FieldValueNotFound', field, message: `Not found: ${fmtValue(value)}` };
  },
  tooLong(field: string, max: number): FieldError {
    return {
      reason: 'FieldValueTooLong',
      field,
      message: `Too long: may not be more than ${max} ${max === 1 ? 'byte' : 'bytes'}`,
    };
  },
  tooMany(field: string, actual: number, max: number): FieldError {
    return {
      reason: 'FieldValueTooMany',
      field,
      message: `Too many: ${actual}: must have at most ${max} items`,
    };
  },
};

// ---------------------------------------------------------------------------------------------------------
// k8s.io/apimachinery/pkg/util/validation

export function maxLenError(n: number): string {
  return `must be no more than ${n} characters`;
}

export function regexError(msg: string, fmt: string, ...examples: string[]): string {
  if (examples.length === 0) return `${msg} (regex used for validation is '${fmt}')`;
  let out = `${msg} (e.g. `;
  examples.forEach((e, i) => {
    if (i > 0) out += ' or ';
    out += `'${e}', `;
  });
  return `${out}regex used for validation is '${fmt}')`;
}

const DNS1123_LABEL_FMT = '[a-z0-9]([-a-z0-9]*[a-z0-9])?';
const DNS1123_LABEL_MSG =
  "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character";
const DNS1123_SUBDOMAIN_FMT = `${DNS1123_LABEL_FMT}(\\.${DNS1123_LABEL_FMT})*`;
const DNS1123_SUBDOMAIN_MSG =
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";
const DNS1035_LABEL_FMT = '[a-z]([-a-z0-9]*[a-z0-9])?';
const DNS1035_LABEL_MSG =
  "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character";
const QUALIFIED_NAME_FMT = '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]';
const QUALIFIED_NAME_MSG =
  "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const LABEL_VALUE_FMT = `(${QUALIFIED_NAME_FMT})?`;
const LABEL_VALUE_MSG =
  "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const CONFIGMAP_KEY_FMT = '[-._a-zA-Z0-9]+';
const CONFIGMAP_KEY_MSG = "a valid config key must consist of alphanumeric characters, '-', '_' or '.'";
const WILDCARD_DNS1123_FMT = `\\*\\.${DNS1123_SUBDOMAIN_FMT}`;
const WILDCARD_DNS1123_MSG =
  "a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS subdomain, which must consist of lower case alphanumeric characters, '-' or '.' and end with an alphanumeric character";

const anchored = (fmt: string) => new RegExp(`^${fmt}$`);
const QUALIFIED_NAME_RE = anchored(QUALIFIED_NAME_FMT);

/** The checks of k8s.io/apimachinery/pkg/util/validation that are a length limit and a pattern, worded as Go's. */
function pattern(max: number, fmt: string, msg: string, examples: string[]): (v: string) => string[] {
  const re = anchored(fmt);
  return (v) => {
    const errs: string[] = [];
    if (v.length > max) errs.push(maxLenError(max));
    if (!re.test(v)) errs.push(regexError(msg, fmt, ...examples));
    return errs;
  };
}

export const isDNS1123Label = pattern(63, DNS1123_LABEL_FMT, DNS1123_LABEL_MSG, ['my-name', '123-abc']);
export const isDNS1123Subdomain = pattern(253, DNS1123_SUBDOMAIN_FMT, DNS1123_SUBDOMAIN_MSG, ['example.com']);
export const isWildcardDNS1123Subdomain = pattern(253, WILDCARD_DNS1123_FMT, WILDCARD_DNS1123_MSG, [
  '*.example.com',
]);
export const isDNS1035Label = pattern(63, DNS1035_LABEL_FMT, DNS1035_LABEL_MSG, ['my-name', 'abc-123']);
const LABEL_VALUE_EXAMPLES = ['MyValue', 'my_value', '12345'];
export const isValidLabelValue = pattern(63, LABEL_VALUE_FMT, LABEL_VALUE_MSG, LABEL_VALUE_EXAMPLES);
const CONFIGMAP_KEY_EXAMPLES = ['key.name', 'KEY_NAME', 'key-name'];
const configMapKeyFormat = pattern(253, CONFIGMAP_KEY_FMT, CONFIGMAP_KEY_MSG, CONFIGMAP_KEY_EXAMPLES);

export function isQualifiedName(v: string): string[] {
  const errs: string[] = [];
  const parts = v.split('/');
  let name: string;
  if (parts.length === 1) name = parts[0] as string;
  else if (parts.length === 2) {
    const prefix = parts[0] as string;
    name = parts[1] as string;
    if (prefix.length === 0) errs.push('prefix part must be non-empty');
    else for (const m of isDNS1123Subdomain(prefix)) errs.push(`prefix part ${m}`);
  } else {
    return [
      `a qualified name ${regexError(QUALIFIED_NAME_MSG, QUALIFIED_NAME_FMT, 'MyName', 'my.name', '123-abc')} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')`,
    ];
  }
  if (name.length === 0) errs.push('name part must be non-empty');
  else if (name.length > 63) errs.push(`name part ${maxLenError(63)}`);
  if (!QUALIFIED_NAME_RE.test(name))
    errs.push(
      `name part ${regexError(QUALIFIED_NAME_MSG, QUALIFIED_NAME_FMT, 'MyName', 'my.name', '123-abc')}`,
    );
  return errs;
}

export function isConfigMapKey(v: string): string[] {
  const errs = configMapKeyFormat(v);
  if (v === '.') errs.push("must not be '.'");
  else if (v === '..') errs.push("must not be '..'");
  else if (v.startsWith('..')) errs.push("must not start with '..'");
  return errs;
}

export function isValidPortNum(n: number): string[] {
  return n >= 1 && n <= 65535 && Number.isInteger(n) ? [] : ['must be between 1 and 65535, inclusive'];
}

export function isValidPortName(p: string): string[] {
  const errs: string[] = [];
  if (p.length > 15) errs.push(maxLenError(15));
  if (!/^[-a-z0-9]+$/.test(p))
    errs.push('must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)');
  if (!/[a-z]/.test(p)) errs.push('must contain at least one letter (a-z)');
  if (p.includes('--')) errs.push('must not contain consecutive hyphens');
  if (p.length > 0 && (p.startsWith('-') || p.endsWith('-')))
    errs.push('must not begin or end with a hyphen');
  return errs;
}

export function isRelaxedEnvVarName(v: string): string[] {
  const errs: string[] = [];
  if (v.length === 0) errs.push('environment variable name must be non-empty');
  for (const ch of v) {
    const c = ch.codePointAt(0) as number;
    if (c > 127 || c < 0x20 || c === 0x7f || ch === '=') {
      errs.push(
        "a valid environment variable name must consist only of printable ASCII characters other than '='",
      );
      break;
    }
  }
  return errs;
}

/** path.IsValidPathSegmentName (RBAC object names). */
export function isValidPathSegmentName(name: string): string[] {
  if (name === '.' || name === '..') return [`may not be '${name}'`];
  const errs: string[] = [];
  if (name.includes('/')) errs.push("may not contain '/'");
  if (name.includes('%')) errs.push("may not contain '%'");
  return errs;
}
