/**
 * Label and field selectors, parsed the way k8s.io/apimachinery does so that clients get the same
 * matches and the same 400 messages (fixture 032).
 */
import { errors } from './errors.js';
import type { SimObject } from './types.js';

export type LabelOperator = 'exists' | '!' | '=' | '!=' | 'in' | 'notin' | 'gt' | 'lt';

export interface LabelRequirement {
  key: string;
  op: LabelOperator;
  values: string[];
}

type TokenKind = 'id' | '!' | '=' | '==' | '!=' | '(' | ')' | ',' | 'in' | 'notin' | '>' | '<' | 'eos';
interface Token {
  kind: TokenKind;
  lit: string;
}

const SPECIAL = new Set(['!', '=', '(', ')', ',', '>', '<']);

function lex(input: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < input.length) {
    const c = input[i] as string;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (SPECIAL.has(c)) {
      const two = input.slice(i, i + 2);
      if (two === '==' || two === '!=') {
        tokens.push({ kind: two, lit: two });
        i += 2;
      } else {
        tokens.push({ kind: c as TokenKind, lit: c });
        i++;
      }
      continue;
    }
    let j = i;
    while (j < input.length && !SPECIAL.has(input[j] as string) && !/\s/.test(input[j] as string)) j++;
    const lit = input.slice(i, j);
    tokens.push({ kind: lit === 'in' ? 'in' : lit === 'notin' ? 'notin' : 'id', lit });
    i = j;
  }
  tokens.push({ kind: 'eos', lit: '' });
  return tokens;
}

// The same checks as apimachinery's validation.IsQualifiedName / IsValidLabelValue, with its wording.
const NAME_PART = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

function checkKey(key: string): string | undefined {
  const parts = key.split('/');
  const name = parts.length === 2 ? (parts[1] as string) : key;
  if (parts.length > 2) {
    return `name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')`;
  }
  if (parts.length === 2) {
    const prefix = parts[0] as string;
    if (prefix.length === 0) return 'prefix part must be non-empty';
    if (prefix.length > 253 || !DNS1123_SUBDOMAIN.test(prefix)) {
      return `prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`;
    }
  }
  if (name.length === 0) return 'name part must be non-empty';
  if (name.length > 63) return 'name part must be no more than 63 characters';
  if (!NAME_PART.test(name)) {
    return `name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')`;
  }
  return undefined;
}

function checkValue(value: string): string | undefined {
  if (value === '') return undefined;
  if (value.length > 63) return 'must be no more than 63 characters';
  if (!NAME_PART.test(value)) {
    return `a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')`;
  }
  return undefined;
}

class LabelParser {
  private pos = 0;
  constructor(private readonly tokens: Token[]) {}

  private peek(): Token {
    return this.tokens[this.pos] as Token;
  }
  private next(): Token {
    const t = this.tokens[this.pos] as Token;
    if (this.pos < this.tokens.length - 1) this.pos++;
    return t;
  }

  parse(): LabelRequirement[] {
    const reqs: LabelRequirement[] = [];
    if (this.peek().kind === 'eos') return reqs;
    for (;;) {
      const t = this.peek();
      if (t.kind !== 'id' && t.kind !== '!') {
        throw new Error(`found '${t.lit}', expected: !, identifier, or 'end of string'`);
      }
      reqs.push(this.requirement());
      const after = this.next();
      if (after.kind === 'eos') return reqs;
      if (after.kind !== ',') throw new Error(`found '${after.lit}', expected: ',' or 'end of string'`);
      if (this.peek().kind === 'eos') throw new Error(`found '', expected: identifier after ','`);
    }
  }

  private requirement(): LabelRequirement {
    let t = this.next();
    let negated = false;
    if (t.kind === '!') {
      negated = true;
      t = this.next();
    }
    if (t.kind !== 'id')
      throw new Error(`unable to parse requirement: found '${t.lit}', expected: identifier`);
    const key = t.lit;
    const keyError = checkKey(key);
    if (keyError) throw new Error(`unable to parse requirement: key: Invalid value: "${key}": ${keyError}`);
    const following = this.peek().kind;
    if (negated) {
      if (following !== ',' && following !== 'eos') {
        throw new Error(
          `unable to parse requirement: found '${this.peek().lit}', expected: ',' or 'end of string'`,
        );
      }
      return { key, op: '!', values: [] };
    }
    if (following === ',' || following === 'eos') return { key, op: 'exists', values: [] };
    const opTok = this.next();
    let op: LabelOperator;
    switch (opTok.kind) {
      case '=':
      case '==':
        op = '=';
        break;
      case '!=':
        op = '!=';
        break;
      case 'in':
        op = 'in';
        break;
      case 'notin':
        op = 'notin';
        break;
      case '>':
        op = 'gt';
        break;
      case '<':
        op = 'lt';
        break;
      default:
        throw new Error(
          `unable to parse requirement: found '${opTok.lit}', expected: in, notin, =, ==, !=, gt, lt`,
        );
    }
    let values: string[];
    if (op === 'in' || op === 'notin') {
      const open = this.next();
      if (open.kind !== '(')
        throw new Error(`unable to parse requirement: found '${open.lit}' expected: '('`);
      values = this.valueList();
      if (values.length === 0) {
        throw new Error(
          `unable to parse requirement: values: Invalid value: []string{}: for 'in', 'notin' operators, values set can't be empty`,
        );
      }
    } else {
      const v = this.peek();
      if (v.kind === 'id' || v.kind === 'in' || v.kind === 'notin') {
        this.next();
        values = [v.lit];
      } else if (v.kind === ',' || v.kind === 'eos') {
        values = [''];
      } else {
        throw new Error(`unable to parse requirement: found '${v.lit}', expected: identifier`);
      }
      if ((op === 'gt' || op === 'lt') && !/^-?\d+$/.test(values[0] as string)) {
        throw new Error(
          `unable to parse requirement: values[0]: Invalid value: "${values[0]}": for 'Gt', 'Lt' operators, the value must be an integer`,
        );
      }
    }
    for (const [i, v] of values.entries()) {
      const err = op === 'gt' || op === 'lt' ? undefined : checkValue(v);
      if (err)
        throw new Error(`unable to parse requirement: values[${i}][${key}]: Invalid value: "${v}": ${err}`);
    }
    return { key, op, values };
  }

  private valueList(): string[] {
    const values: string[] = [];
    let expectValue = true;
    for (;;) {
      const t = this.next();
      if (t.kind === ')') {
        if (expectValue && values.length > 0) values.push('');
        return values;
      }
      if (t.kind === ',') {
        if (expectValue) values.push('');
        expectValue = true;
        continue;
      }
      if ((t.kind === 'id' || t.kind === 'in' || t.kind === 'notin') && expectValue) {
        values.push(t.lit);
        expectValue = false;
        continue;
      }
      throw new Error(`unable to parse requirement: found '${t.lit}', expected: ',', ')' or identifier`);
    }
  }
}

/** Parses a label selector; throws a 400 StatusError worded as the real server on bad input. */
export function parseLabelSelector(selector: string): LabelRequirement[] {
  try {
    return new LabelParser(lex(selector)).parse();
  } catch (e) {
    throw errors.badRequest((e as Error).message);
  }
}

export function matchesLabels(reqs: LabelRequirement[], labels: Record<string, string> | undefined): boolean {
  const l = labels ?? {};
  return reqs.every((r) => {
    const has = Object.hasOwn(l, r.key);
    const v = l[r.key];
    switch (r.op) {
      case 'exists':
        return has;
      case '!':
        return !has;
      case '=':
      case 'in':
        return has && r.values.includes(v as string);
      case '!=':
      case 'notin':
        // Missing keys match, as the real server does (observation 11).
        return !has || !r.values.includes(v as string);
      case 'gt':
      case 'lt': {
        if (!has || !/^-?\d+$/.test(v as string)) return false;
        const n = Number(v);
        const bound = Number(r.values[0]);
        return r.op === 'gt' ? n > bound : n < bound;
      }
    }
    return false;
  });
}

/**
 * One `matchExpressions` requirement of a LabelSelector object, given whether the label is there and its value;
 * an unknown operator matches nothing.
 */
export function expressionMatches(
  operator: unknown,
  present: boolean,
  value: string,
  values: string[],
): boolean {
  switch (operator) {
    case 'In':
      return present && values.includes(value);
    case 'NotIn':
      return !present || !values.includes(value);
    case 'Exists':
      return present;
    case 'DoesNotExist':
      return !present;
    default:
      return false;
  }
}

/** A `matchLabels`/`matchExpressions` LabelSelector object (Deployment spec.selector) as requirements. */
export function requirementsFromLabelSelector(sel: {
  matchLabels?: Record<string, string>;
  matchExpressions?: Array<{ key: string; operator: string; values?: string[] }>;
}): LabelRequirement[] {
  const reqs: LabelRequirement[] = [];
  for (const [key, value] of Object.entries(sel.matchLabels ?? {}))
    reqs.push({ key, op: '=', values: [value] });
  for (const e of sel.matchExpressions ?? []) {
    const op: LabelOperator =
      e.operator === 'In'
        ? 'in'
        : e.operator === 'NotIn'
          ? 'notin'
          : e.operator === 'Exists'
            ? 'exists'
            : '!';
    reqs.push({ key: e.key, op, values: e.values ?? [] });
  }
  return reqs;
}

export interface FieldRequirement {
  field: string;
  op: '=' | '!=';
  value: string;
}

/** Splits on unescaped commas and parses `a=b`, `a==b`, `a!=b` terms (values may escape `\,` `\=` `\\`). */
export function parseFieldSelector(selector: string): FieldRequirement[] {
  const reqs: FieldRequirement[] = [];
  if (selector.trim() === '') return reqs;
  const terms: string[] = [];
  let cur = '';
  for (let i = 0; i < selector.length; i++) {
    const c = selector[i] as string;
    if (c === '\\' && i + 1 < selector.length) {
      cur += c + selector[i + 1];
      i++;
    } else if (c === ',') {
      terms.push(cur);
      cur = '';
    } else cur += c;
  }
  terms.push(cur);
  for (const term of terms) {
    const m = /^([^=!]*)(==|!=|=)(.*)$/.exec(term);
    if (!m) throw errors.badRequest(`invalid selector: '${selector}'; can't understand '${term}'`);
    const value = (m[3] as string).replace(/\\(.)/g, '$1');
    reqs.push({ field: (m[1] as string).trim(), op: m[2] === '!=' ? '!=' : '=', value });
  }
  return reqs;
}

function str(v: unknown): string {
  if (v === undefined || v === null) return '';
  return typeof v === 'string' ? v : String(v);
}

/**
 * The selectable fields of each resource (the GetAttrs/ToSelectableFields of the real registries):
 * every type has metadata.name and metadata.namespace, a few add their own.
 */
export function selectableFields(group: string, resource: string, obj: SimObject): Record<string, string> {
  const f: Record<string, string> = {
    'metadata.name': obj.metadata.name,
    'metadata.namespace': obj.metadata.namespace ?? '',
  };
  const key = `${group}/${resource}`;
  switch (key) {
    case '/pods':
      f['spec.nodeName'] = str(obj.spec?.nodeName);
      f['spec.restartPolicy'] = str(obj.spec?.restartPolicy);
      f['spec.schedulerName'] = str(obj.spec?.schedulerName);
      f['spec.serviceAccountName'] = str(obj.spec?.serviceAccountName);
      f['spec.hostNetwork'] = obj.spec?.hostNetwork ? 'true' : 'false';
      f['status.phase'] = str(obj.status?.phase);
      f['status.podIP'] = str(obj.status?.podIP);
      f['status.nominatedNodeName'] = str(obj.status?.nominatedNodeName);
      break;
    case '/events': {
      const io = (obj.involvedObject ?? {}) as Record<string, unknown>;
      f['involvedObject.kind'] = str(io.kind);
      f['involvedObject.namespace'] = str(io.namespace);
      f['involvedObject.name'] = str(io.name);
      f['involvedObject.uid'] = str(io.uid);
      f['involvedObject.apiVersion'] = str(io.apiVersion);
      f['involvedObject.resourceVersion'] = str(io.resourceVersion);
      f['involvedObject.fieldPath'] = str(io.fieldPath);
      f.reason = str(obj.reason);
      f.reportingComponent = str(obj.reportingComponent);
      f.source = str(obj.source?.component);
      f.type = str(obj.type);
      break;
    }
    case '/secrets':
      f.type = str(obj.type);
      break;
    case '/namespaces':
      f['status.phase'] = str(obj.status?.phase);
      break;
    case '/nodes':
      f['spec.unschedulable'] = obj.spec?.unschedulable ? 'true' : 'false';
      break;
    case 'apps/replicasets':
    case '/replicationcontrollers':
      f['status.replicas'] = str(obj.status?.replicas ?? 0);
      break;
    case 'batch/jobs':
      f['status.successful'] = str(obj.status?.succeeded ?? 0);
      break;
  }
  return f;
}

/** Checks every field is selectable for the resource; throws the real 400 otherwise. */
export function checkFieldSelector(group: string, resource: string, reqs: FieldRequirement[]): void {
  if (reqs.length === 0) return;
  const probe = selectableFields(group, resource, {
    apiVersion: '',
    kind: '',
    metadata: { name: '', uid: '', resourceVersion: '', creationTimestamp: '' },
  });
  for (const r of reqs) {
    if (!Object.hasOwn(probe, r.field)) throw errors.badRequest(`field label not supported: ${r.field}`);
  }
}

export function matchesFields(
  reqs: FieldRequirement[],
  group: string,
  resource: string,
  obj: SimObject,
): boolean {
  if (reqs.length === 0) return true;
  const fields = selectableFields(group, resource, obj);
  return reqs.every((r) => (r.op === '=' ? fields[r.field] === r.value : fields[r.field] !== r.value));
}

/** A compiled label + field selector for one resource type. */
export interface Selector {
  matches(obj: SimObject): boolean;
}

export function compileSelector(
  group: string,
  resource: string,
  labelSelector?: string,
  fieldSelector?: string,
): Selector {
  const labels = parseLabelSelector(labelSelector ?? '');
  const fields = parseFieldSelector(fieldSelector ?? '');
  checkFieldSelector(group, resource, fields);
  return {
    matches: (obj) =>
      matchesLabels(labels, obj.metadata.labels) && matchesFields(fields, group, resource, obj),
  };
}
