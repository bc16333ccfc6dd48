/**
 * GitHub's published OpenAPI description (from `@octokit/openapi`) as the simulator's contract: the route
 * table, and request/response validation with GitHub's own wording of validation errors.
 *
 * The non-dereferenced file is read (13 MB, about 0.5 s) rather than the `.deref` one (73 MB, about 3.5 s per
 * test worker): `$ref`s to `#/components/schemas/*` are handed to Ajv as separate schemas, converted from
 * OpenAPI 3.0 on first use, so only what an operation reaches is ever converted and compiled.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import * as ajvFormats from 'ajv-formats';

type Json = Record<string, unknown>;

export interface OpenApiParameter {
  name: string;
  in: 'path' | 'query' | 'header' | 'cookie';
  required?: boolean;
  schema?: Json;
}

export interface Operation {
  /** e.g. `issues/create-comment`. */
  id: string;
  method: string;
  /** e.g. `/repos/{owner}/{repo}/issues/{issue_number}/comments`. */
  template: string;
  /** What GitHub puts in `documentation_url` of this operation's errors. */
  docsUrl: string;
  parameters: OpenApiParameter[];
  bodySchema?: Json;
  bodyRequired: boolean;
  /** Documented response statuses. */
  statuses: string[];
}

export interface RouteMatch {
  op: Operation;
  params: Record<string, string>;
}

export interface RequestCheck {
  /** GitHub's wording, one line each, for the 422 `Invalid request.` message. */
  errors: string[];
  /** Parameters the operation does not define: GitHub ignores them, so they are only reported. */
  unknown: string[];
  /** Path and query values converted to their schema types. */
  values: Record<string, unknown>;
}

const SCHEMA_BASE = 'https://github-sim.invalid/components/';
/** OpenAPI annotations that JSON Schema does not need; dropping them keeps compiled validators small. */
const ANNOTATIONS = new Set([
  'description',
  'example',
  'examples',
  'title',
  'externalDocs',
  'discriminator',
  'deprecated',
  'xml',
  'readOnly',
  'writeOnly',
]);
/** Keywords whose values are data or name lists, not schemas. */
const DATA_KEYWORDS = new Set(['enum', 'required', 'default', 'const']);
const SCHEMA_MAPS = new Set(['properties', 'patternProperties', 'definitions', '$defs']);
const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;

interface RouteEntry {
  segments: string[];
  /** Literal segments weigh more, earlier ones most: `/issues/comments` beats `/issues/{issue_number}`. */
  score: number;
  op: Operation;
}

/** The parsed description, shared by every simulator in the process. */
let loaded: { doc: Json; routes: Map<string, RouteEntry[]> } | undefined;

function loadDocument(): { doc: Json; routes: Map<string, RouteEntry[]> } {
  if (loaded) return loaded;
  const file = createRequire(import.meta.url).resolve('@octokit/openapi/generated/api.github.com.json');
  const doc = JSON.parse(readFileSync(file, 'utf8')) as Json;
  const routes = new Map<string, RouteEntry[]>();
  const paths = doc.paths as Record<string, Record<string, Json>>;
  for (const [template, item] of Object.entries(paths)) {
    const shared = (item.parameters as Json[] | undefined) ?? [];
    for (const method of METHODS) {
      const raw = item[method];
      if (!raw) continue;
      const segments = template.split('/').slice(1);
      const parameters = [...shared, ...((raw.parameters as Json[] | undefined) ?? [])].map(
        (p) => resolveRef(doc, p) as unknown as OpenApiParameter,
      );
      const body = raw.requestBody ? (resolveRef(doc, raw.requestBody as Json) as Json) : undefined;
      const content = body?.content as Record<string, { schema?: Json }> | undefined;
      const op: Operation = {
        id: String(raw.operationId),
        method: method.toUpperCase(),
        template,
        docsUrl: String((raw.externalDocs as Json | undefined)?.url ?? 'https://docs.github.com/rest'),
        parameters,
        bodySchema: content?.['application/json']?.schema,
        bodyRequired: body?.required === true,
        statuses: Object.keys((raw.responses as Json | undefined) ?? {}),
      };
      const score = segments.reduce(
        (s, seg, i) => s + (seg.startsWith('{') ? 0 : 2 ** (segments.length - i)),
        0,
      );
      const key = `${op.method} ${segments.length}`;
      const list = routes.get(key) ?? [];
      list.push({ segments, score, op });
      routes.set(key, list);
    }
  }
  for (const list of routes.values()) list.sort((a, b) => b.score - a.score);
  loaded = { doc, routes };
  return loaded;
}

/** Follows a `#/components/...` reference of an operation (parameters, request bodies, responses). */
function resolveRef(doc: Json, node: Json): Json {
  let cur = node;
  for (let i = 0; i < 10 && typeof cur.$ref === 'string'; i++) {
    let target: unknown = doc;
    for (const part of cur.$ref.slice(2).split('/')) target = (target as Json)[part.replace(/~1/g, '/')];
    cur = target as Json;
  }
  return cur;
}

/** Ruby's `inspect`, which GitHub's validator uses to quote values in its messages. */
export function rubyInspect(v: unknown): string {
  if (v === null || v === undefined) return 'nil';
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v !== 'object') return String(v);
  if (Array.isArray(v)) return `[${v.map(rubyInspect).join(', ')}]`;
  const entries = Object.entries(v as Json);
  return entries.length
    ? `{${entries.map(([k, x]) => `${JSON.stringify(k)} => ${rubyInspect(x)}`).join(', ')}}`
    : '{}';
}

/** Ruby's string interpolation (`to_s`): strings bare, nil empty. */
function rubyToS(v: unknown): string {
  if (v === null || v === undefined) return '';
  return typeof v === 'string' ? v : rubyInspect(v);
}

/** json_schema's ErrorFormatter.to_list: "a string or null", "an integer". */
function typeList(types: string[]): string {
  const joined =
    types.length <= 1
      ? (types[0] ?? '')
      : types.length === 2
        ? `${types[0]} or ${types[1]}`
        : `${types.slice(0, -1).join(', ')}, or ${types[types.length - 1]}`;
  return /^[aeiou]/.test(joined) ? `an ${joined}` : `a ${joined}`;
}

function pointerGet(data: unknown, pointer: string): unknown {
  let cur = data;
  for (const raw of pointer.split('/').slice(1)) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    cur = cur && typeof cur === 'object' ? (cur as Json)[key] : undefined;
  }
  return cur;
}

/**
 * Ajv's errors in the words of the `json_schema` gem GitHub validates with (brandur/json_schema):
 * `"ref" wasn't supplied.`, `For 'properties/body', nil is not a string.`, `done is not a member of [...]`.
 */
export function githubMessages(errors: ErrorObject[], data: unknown): string[] {
  const combinators = errors
    .filter((e) => e.keyword === 'oneOf' || e.keyword === 'anyOf')
    .map((e) => `${e.schemaPath}/`);
  // A failed oneOf/anyOf is one message in json_schema; its branches' errors are not shown.
  const kept = errors.filter((e) => !combinators.some((p) => e.schemaPath.startsWith(p)));
  const missing = new Map<string, string[]>();
  const extra = new Map<string, string[]>();
  const out: string[] = [];
  for (const e of kept) {
    const value = pointerGet(data, e.instancePath);
    const fragment =
      e.schemaPath.replace(/^#\/?/, '').split('/').slice(0, -1).join('/').replace(/^$/, '#') || '#';
    const p = e.params as Record<string, unknown>;
    switch (e.keyword) {
      case 'required':
        missing.set(e.instancePath, [...(missing.get(e.instancePath) ?? []), String(p.missingProperty)]);
        break;
      case 'additionalProperties':
        extra.set(e.instancePath, [...(extra.get(e.instancePath) ?? []), String(p.additionalProperty)]);
        break;
      case 'type': {
        const types = Array.isArray(p.type) ? (p.type as string[]) : String(p.type).split(',');
        out.push(`For '${fragment}', ${rubyInspect(value)} is not ${typeList(types)}.`);
        break;
      }
      case 'enum':
        out.push(`${rubyToS(value)} is not a member of ${rubyInspect(p.allowedValues)}.`);
        break;
      case 'oneOf':
        out.push(
          p.passingSchemas
            ? 'More than one subschema in "oneOf" matched.'
            : 'No subschema in "oneOf" matched.',
        );
        break;
      case 'anyOf':
        out.push('No subschema in "anyOf" matched.');
        break;
      case 'format':
        out.push(`${rubyToS(value)} is not a valid ${String(p.format)}.`);
        break;
      case 'maxLength': {
        const n = String(value).length;
        out.push(`Only ${p.limit} characters are allowed; ${n} were supplied.`);
        break;
      }
      case 'minLength': {
        const n = String(value).length;
        out.push(
          `At least ${p.limit} characters are required; only ${n} ${n === 1 ? 'was' : 'were'} supplied.`,
        );
        break;
      }
      case 'maximum':
        out.push(`${rubyToS(value)} must be less than or equal to ${p.limit}.`);
        break;
      case 'minimum':
        out.push(`${rubyToS(value)} must be greater than or equal to ${p.limit}.`);
        break;
      case 'pattern':
        out.push(`${rubyToS(value)} does not match /${String(p.pattern)}/.`);
        break;
      default:
        out.push(`For '${fragment}', ${e.message ?? e.keyword}.`);
    }
  }
  // json_schema checks an object's properties before its required list and its extra keys.
  for (const keys of extra.values()) {
    const sorted = [...new Set(keys)].sort();
    out.push(
      `"${sorted.join('", "')}" ${sorted.length === 1 ? 'is not a permitted key.' : 'are not permitted keys.'}`,
    );
  }
  for (const keys of missing.values()) {
    const sorted = [...new Set(keys)].sort();
    out.push(`"${sorted.join('", "')}" ${sorted.length === 1 ? "wasn't" : "weren't"} supplied.`);
  }
  return out;
}

/** Ajv's errors for a response the simulator produced: path and reason, for a test's failure message. */
function plainMessages(errors: ErrorObject[]): string[] {
  return errors.map(
    (e) => `${e.instancePath || '(root)'} ${e.message ?? e.keyword} ${JSON.stringify(e.params)}`,
  );
}

/**
 * The description's schemas as Ajv validators. One instance per process: compiled validators are cached by
 * operation, and the converted component schemas are registered once.
 */
export class OpenApi {
  private static shared: OpenApi | undefined;
  private readonly doc: Json;
  private readonly routes: Map<string, RouteEntry[]>;
  private readonly ajv: Ajv;
  private readonly registered = new Set<string>();
  private readonly validators = new Map<string, ValidateFunction | null>();

  static get(): OpenApi {
    OpenApi.shared ??= new OpenApi();
    return OpenApi.shared;
  }

  private constructor() {
    const { doc, routes } = loadDocument();
    this.doc = doc;
    this.routes = routes;
    // The description is OpenAPI 3.0, not JSON Schema: its own keywords are stripped or converted, and the
    // rest is trusted (validateSchema off), since GitHub's file is not ours to fix.
    this.ajv = new Ajv({ strict: false, allErrors: true, validateSchema: false, logger: false });
    const addFormats = ((ajvFormats as unknown as { default?: unknown }).default ?? ajvFormats) as (
      a: Ajv,
    ) => Ajv;
    addFormats(this.ajv);
    // GitHub sends "" for unset URLs (target_url, environment_url, log_url) that the description types as
    // `format: uri`; the gap is GitHub's, so "" passes rather than flagging every deployment status.
    this.ajv.addFormat('uri', (s: string) => s === '' || /^[a-z][a-z0-9+.-]*:[^\s]*$/i.test(s));
    for (const f of ['int32', 'int64', 'float', 'double', 'byte', 'binary', 'password'])
      this.ajv.addFormat(f, true);
  }

  /** The operation for a method and path, the way GitHub's router picks it (literal segments first). */
  match(method: string, path: string): RouteMatch | undefined {
    const segments = path.split('/').slice(1);
    const list = this.routes.get(`${method.toUpperCase()} ${segments.length}`) ?? [];
    for (const r of list) {
      const params: Record<string, string> = {};
      let ok = true;
      for (let i = 0; i < segments.length && ok; i++) {
        const t = r.segments[i] ?? '';
        const s = segments[i] ?? '';
        if (t.startsWith('{') && t.endsWith('}')) {
          if (s === '') ok = false;
          else params[t.slice(1, -1)] = safeDecode(s);
        } else if (t !== s) ok = false;
      }
      if (ok) return { op: r.op, params };
    }
    return undefined;
  }

  /** The operation by id, for tests and for documentation URLs of errors raised outside a route. */
  operation(id: string): Operation | undefined {
    for (const list of this.routes.values()) for (const r of list) if (r.op.id === id) return r.op;
    return undefined;
  }

  /**
   * Path and query parameters: typed from their strings, then validated against their schemas. Path errors
   * come apart from query errors: the route's own values are checked before the repository is looked up.
   */
  checkParameters(
    op: Operation,
    path: Record<string, string>,
    query: URLSearchParams,
  ): RequestCheck & { pathErrors: string[] } {
    const values: Record<string, unknown> = {};
    const known = new Set<string>();
    const errors: Record<'path' | 'query', string[]> = { path: [], query: [] };
    for (const where of ['path', 'query'] as const) {
      const params = op.parameters.filter((p) => p.in === where);
      const part: Record<string, unknown> = {};
      for (const p of params) {
        known.add(`${where}:${p.name}`);
        const raw = where === 'path' ? path[p.name] : query.getAll(p.name).at(-1);
        if (raw !== undefined) part[p.name] = typed(raw, p.schema);
      }
      Object.assign(values, part);
      if (!params.length) continue;
      const validate = this.validator(`${where} ${op.id}`, () => ({
        type: 'object',
        properties: Object.fromEntries(params.map((p) => [p.name, p.schema ?? {}])),
        required: params.filter((p) => p.required).map((p) => p.name),
      }));
      if (validate && !validate(part)) errors[where] = githubMessages(validate.errors ?? [], part);
    }
    const unknown = [...new Set(query.keys())].filter((k) => !known.has(`query:${k}`));
    return {
      errors: errors.query,
      pathErrors: errors.path,
      unknown: unknown.map((k) => `query parameter "${k}"`),
      values,
    };
  }

  /** The JSON body against the operation's request schema; unknown top-level keys are reported apart. */
  checkBody(op: Operation, body: unknown): Omit<RequestCheck, 'values'> {
    if (!op.bodySchema) return { errors: [], unknown: [] };
    const validate = this.validator(`body ${op.id}`, () => op.bodySchema as Json);
    const errors = validate && !validate(body) ? githubMessages(validate.errors ?? [], body) : [];
    const props = (op.bodySchema.properties as Json | undefined) ?? {};
    const unknown =
      body && typeof body === 'object' && !Array.isArray(body) && op.bodySchema.additionalProperties !== false
        ? Object.keys(body as Json)
            .filter((k) => !(k in props))
            .map((k) => `body parameter "${k}"`)
        : [];
    return { errors, unknown };
  }

  /**
   * A response body against the schema documented for its status. `undefined`: nothing to check against (an
   * undocumented error status, or no JSON content); otherwise the mismatches, empty when it conforms.
   */
  checkResponse(op: Operation, status: number, body: unknown): string[] | undefined {
    const responses = ((this.rawOperation(op).responses as Json | undefined) ?? {}) as Record<string, Json>;
    const documented = responses[String(status)];
    if (!documented) {
      return status < 300 ? [`status ${status} is not documented for ${op.id}`] : undefined;
    }
    const response = resolveRef(this.doc, documented);
    const schema = (response.content as Record<string, { schema?: Json }> | undefined)?.['application/json']
      ?.schema;
    if (!schema) return body === undefined ? [] : undefined;
    const validate = this.validator(`response ${op.id} ${status}`, () => schema);
    if (!validate || validate(body)) return [];
    return plainMessages(validate.errors ?? []);
  }

  private rawOperation(op: Operation): Json {
    const item = (this.doc.paths as Record<string, Json>)[op.template] as Json;
    return item[op.method.toLowerCase()] as Json;
  }

  private validator(key: string, schema: () => Json): ValidateFunction | null {
    if (this.validators.has(key)) return this.validators.get(key) ?? null;
    let fn: ValidateFunction | null;
    try {
      fn = this.ajv.compile(this.convert(schema()) as Json);
    } catch {
      // A schema Ajv cannot compile is GitHub's problem, not the request's: nothing is checked then.
      fn = null;
    }
    this.validators.set(key, fn);
    return fn;
  }

  private ensureComponent(kind: string, name: string): string {
    const key = `${kind}/${name}`;
    if (!this.registered.has(key)) {
      this.registered.add(key);
      const components = this.doc.components as Record<string, Json>;
      const raw = (components[kind] as Json | undefined)?.[name];
      const converted = this.convert(raw ?? {}) as Json;
      this.ajv.addSchema(converted, `${SCHEMA_BASE}${key}`);
    }
    return `${SCHEMA_BASE}${key}`;
  }

  /** OpenAPI 3.0 schema → JSON Schema: `nullable`, `$ref` to components, annotations dropped. */
  private convert(node: unknown): unknown {
    if (Array.isArray(node)) return node.map((n) => this.convert(n));
    if (!node || typeof node !== 'object') return node;
    const o = node as Json;
    if (typeof o.$ref === 'string') {
      // OpenAPI 3.0 ignores a $ref's siblings.
      const m = /^#\/components\/([^/]+)\/([^/]+)$/.exec(o.$ref);
      return m ? { $ref: this.ensureComponent(m[1] as string, (m[2] as string).replace(/~1/g, '/')) } : {};
    }
    const out: Json = {};
    for (const [k, v] of Object.entries(o)) {
      if (ANNOTATIONS.has(k) || k.startsWith('x-') || k === 'nullable') continue;
      if (DATA_KEYWORDS.has(k)) out[k] = v;
      else if (SCHEMA_MAPS.has(k) && v && typeof v === 'object')
        out[k] = Object.fromEntries(Object.entries(v as Json).map(([name, s]) => [name, this.convert(s)]));
      else out[k] = this.convert(v);
    }
    if (o.nullable !== true) return out;
    if (typeof out.type === 'string') {
      out.type = [out.type, 'null'];
      if (Array.isArray(out.enum) && !out.enum.includes(null)) out.enum = [...out.enum, null];
      return out;
    }
    return { anyOf: [{ type: 'null' }, out] };
  }
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** A query or path string as its schema's type, when it reads as one; otherwise left for the validator. */
function typed(raw: string, schema: Json | undefined): unknown {
  const type = schema?.type;
  if (type === 'integer' && /^-?\d+$/.test(raw)) return Number(raw);
  if (type === 'number' && raw.trim() !== '' && Number.isFinite(Number(raw))) return Number(raw);
  if (type === 'boolean' && (raw === 'true' || raw === 'false')) return raw === 'true';
  if (type === 'array') return raw.split(',');
  return raw;
}
