/**
 * Replays the requests recorded from a real kube-apiserver 1.32 (test/fixtures/kube-api, sections 1 to 5,
 * plus the namespace setup/teardown) against the simulator and compares what a client can observe: status,
 * Content-Type, Warning headers, Status reason/message/code/details, and the object fields the action reads.
 *
 * One simulator serves the whole replay, in recording order (the Deployment deletions of section 2 were
 * recorded after sections 3-7, so they run after section 5 here). State the fixtures imply but do not
 * record (the labelled ConfigMaps, the `limited` ServiceAccount and its Role) is created on the way.
 * Snapshots of a moving system (rollouts, failing pods, events) are polled until the simulator reaches the
 * recorded state. Where the simulator differs on purpose, the fixture is listed in intentionalDifferences.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SimClient, type SimResponse } from '../sim/kube/http-client.js';
import { type KubeSim, startKubeSim } from '../sim/kube/index.js';
import { postBoundServiceAccount, upgradeAnswer } from './sim-api.js';

const DIR = path.join(path.dirname(new URL(import.meta.url).pathname), '../fixtures/kube-api');

interface Fixture {
  file: string;
  description: string;
  request: {
    method: string;
    path: string;
    query: Record<string, string | string[]>;
    headers: Record<string, string>;
    body: unknown;
    auth: string;
  };
  response: {
    status: number;
    headers: Record<string, string | string[]>;
    body?: unknown;
    stream?: Array<{ type: string; object: Json }>;
  };
}

// biome-ignore lint/suspicious/noExplicitAny: fixture and response bodies are free-form JSON compared by projection
type Json = any;

/** Where the simulator does not match the recording, on purpose, and why. */
const intentionalDifferences: Array<{ fixture: string; reason: string }> = [
  {
    fixture: '002, 004',
    reason:
      '/apis lists only the group-versions the simulator serves (apps, networking, rbac, batch, policy, autoscaling/v2 but not autoscaling/v1, authentication, authorization); every listed entry is as recorded.',
  },
  {
    fixture: '009',
    reason: 'buildDate is a fixed time (the recording redacted it).',
  },
  {
    fixture: '011, 016',
    reason:
      'Whether the response already carries the controllers status varies between real runs; status is not compared.',
  },
  {
    fixture: '014, 015, 021, 022, 071, 072, 084-094',
    reason:
      'ReplicaSet/Pod names and pod-template-hash values: the real hash is Go fnv over a Go-serialized PodTemplateSpec; names are compared with the hash and random suffix masked, and list items are compared in a name-independent order.',
  },
  {
    fixture: '015, 022, 084-086, 093',
    reason:
      'Pod status fields of a real runtime are masked: podIP(s), containerID, imageID (the sha256 of the local dind image), timestamps.',
  },
  {
    fixture: '015, 022, 084-086, 090-094',
    reason:
      'The node is called sim-node and the scheduler instance default-scheduler-sim-node (realkube-node and default-scheduler-vm in the recording); they are mapped before comparing.',
  },
  {
    fixture: '017',
    reason:
      'The intermediate watch events of a rollout depend on timing (real runs differ too): the first event (the template change, observedGeneration 1) and the last (Available, revision 2) are compared, and every event must be MODIFIED.',
  },
  {
    fixture: '056, 059, 060, 061',
    reason:
      'The real server names one or both unknown fields in the SSA 500 message, varying per request; any non-empty subset of the recorded fields, in the recorded wording, is accepted.',
  },
  {
    fixture: '090-092, 094',
    reason:
      'Event counts and how many times the scheduler retried are timing-dependent: events are compared as a set of (reason, type, message, source) without count.',
  },
];

const fixtures = new Map<number, Fixture>();
for (const f of readdirSync(DIR)) {
  const m = /^(\d{3})-/.exec(f);
  if (m) fixtures.set(Number(m[1]), { ...JSON.parse(readFileSync(path.join(DIR, f), 'utf8')), file: f });
}
const fx = (n: number): Fixture => {
  const f = fixtures.get(n);
  if (!f) throw new Error(`no fixture ${n}`);
  return f;
};

// ---- normalization: both sides go through it, so redacted and random values compare equal

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;
const TIME = /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z/g;
const WORKLOADS = 'web-bg|web|img-missing|crash|unschedulable';
const POD_NAME = new RegExp(`\\b(${WORKLOADS})-([a-z0-9]{5,10})-([a-z0-9]{5})(?![a-z0-9])`, 'g');
const RS_NAME = new RegExp(`\\b(${WORKLOADS})-([a-z0-9]{5,10})\\b(?!-)`, 'g');

function normString(s: string): string {
  return s
    .replace(/\bdefault-scheduler-sim-node\b/g, 'default-scheduler-vm')
    .replace(/\bsim-node\b/g, 'realkube-node')
    .replace(new RegExp(`^(${WORKLOADS})-[a-z0-9]{5,10}-$`), '$1-<hash>-')
    .replace(UUID, '<uid>')
    .replace(TIME, '<time>')
    .replace(/containerd:\/\/[0-9a-f<>a-z-]+/g, 'containerd://<container-id>')
    .replace(/\b10\.244\.\d+\.\d+\b/g, '<pod-ip>')
    .replace(/kube-api-access-[a-z0-9]{5}/g, 'kube-api-access-<x>')
    .replace(POD_NAME, '$1-<hash>-<x>')
    .replace(RS_NAME, (m, w: string, h: string) => (/\d/.test(h) || h.length >= 8 ? `${w}-<hash>` : m))
    .replace(/\.(?:[0-9a-f]{10,}|<event-id>)$/, '.<event-id>');
}

function norm(v: Json, key = ''): Json {
  if (typeof v === 'string') {
    if (key === 'uid') return '<uid>';
    if (key === 'resourceVersion') return '<rv>';
    if (key === 'pod-template-hash') return '<hash>';
    if (key === 'token') return '<redacted>';
    if (key === 'ca.crt') return '<redacted>';
    if (key === 'imageID') return v === '' ? '' : '<image-id>';
    return normString(v);
  }
  if (Array.isArray(v)) return v.map((x) => norm(x));
  if (v && typeof v === 'object') {
    const out: Json = {};
    for (const [k, x] of Object.entries(v)) {
      if (k === 'managedFields') continue;
      out[normString(k)] = norm(x, k);
    }
    return out;
  }
  return v;
}

const pick = (o: Json, keys: string[]): Json => {
  const out: Json = {};
  for (const k of keys) if (o?.[k] !== undefined) out[k] = o[k];
  return out;
};
const byType = (a: Json, b: Json) => String(a.type).localeCompare(String(b.type));

function conditions(list: Json[] | undefined, withMessage = true): Json[] | undefined {
  return list
    ?.map((c) =>
      pick(c, withMessage ? ['type', 'status', 'reason', 'message'] : ['type', 'status', 'reason']),
    )
    .sort(byType);
}

function containerState(s: Json): Json {
  if (!s) return s;
  const out: Json = {};
  for (const [k, v] of Object.entries(s as Record<string, Json>))
    out[k] = pick(v, ['reason', 'message', 'exitCode']);
  return out;
}

/** The fields the action reads, per kind. */
function project(o: Json, opts: { status?: boolean } = {}): Json {
  if (!o || typeof o !== 'object') return o;
  const m = o.metadata ?? {};
  const out: Json = {
    kind: o.kind,
    apiVersion: o.apiVersion,
    metadata: {
      ...pick(m, [
        'name',
        'generateName',
        'namespace',
        'labels',
        'annotations',
        'generation',
        'deletionGracePeriodSeconds',
        'finalizers',
      ]),
      deletionTimestamp: m.deletionTimestamp !== undefined,
      ownerReferences: m.ownerReferences?.map((r: Json) =>
        pick(r, ['apiVersion', 'kind', 'name', 'controller', 'blockOwnerDeletion']),
      ),
    },
  };
  const withStatus = opts.status !== false;
  switch (o.kind) {
    case 'Deployment':
    case 'ReplicaSet':
      out.spec = o.spec;
      if (withStatus) {
        out.status = {
          ...pick(o.status, [
            'observedGeneration',
            'replicas',
            'updatedReplicas',
            'readyReplicas',
            'availableReplicas',
            'unavailableReplicas',
            'fullyLabeledReplicas',
          ]),
          conditions: conditions(o.status?.conditions),
        };
      }
      break;
    case 'Pod':
      out.spec = o.spec;
      out.status = {
        ...pick(o.status, ['phase', 'qosClass', 'hostIP']),
        conditions: conditions(o.status?.conditions),
        containerStatuses: o.status?.containerStatuses?.map((c: Json) => ({
          ...pick(c, ['name', 'ready', 'restartCount', 'image', 'started']),
          state: containerState(c.state),
          lastState: containerState(c.lastState),
        })),
      };
      break;
    case 'Event':
      Object.assign(
        out,
        pick(o, ['reason', 'type', 'message', 'action', 'reportingComponent', 'reportingInstance']),
      );
      out.source = o.source;
      out.involvedObject = pick(o.involvedObject, ['kind', 'namespace', 'name', 'apiVersion', 'fieldPath']);
      delete out.metadata.name;
      break;
    case 'TokenRequest':
      out.spec = o.spec;
      out.status = o.status;
      break;
    default:
      for (const [k, v] of Object.entries(o)) if (!['kind', 'apiVersion', 'metadata'].includes(k)) out[k] = v;
  }
  return out;
}

function projectBody(body: Json, opts: { status?: boolean } = {}): Json {
  const b = norm(body);
  if (b?.kind === 'Status')
    return pick(b, ['kind', 'apiVersion', 'status', 'message', 'reason', 'details', 'code']);
  if (typeof b?.kind === 'string' && b.kind.endsWith('List') && Array.isArray(b.items)) {
    let items = b.items.map((i: Json) =>
      project({ kind: b.kind.slice(0, -4), apiVersion: b.apiVersion, ...i }, opts),
    );
    if (b.kind === 'EventList') {
      // Events: compared as a set (counts and retries vary).
      const seen = new Map<string, Json>();
      for (const i of items) seen.set(JSON.stringify(i), i);
      items = [...seen.values()].sort((x, y) => JSON.stringify(x).localeCompare(JSON.stringify(y)));
    } else if (items.some((i: Json) => /<hash>/.test(String(i.metadata?.name)))) {
      items.sort((x: Json, y: Json) => JSON.stringify(x).localeCompare(JSON.stringify(y)));
    }
    return {
      kind: b.kind,
      apiVersion: b.apiVersion,
      metadata: { resourceVersion: b.metadata?.resourceVersion },
      items,
    };
  }
  return project(b, opts);
}

function warnings(res: SimResponse): string[] {
  const out: string[] = [];
  for (let i = 0; i < res.rawHeaders.length; i += 2) {
    if (res.rawHeaders[i]?.toLowerCase() === 'warning') out.push(res.rawHeaders[i + 1] as string);
  }
  return out;
}

/** Everything a client observes, normalized, so a single toEqual shows the whole difference. */
function observed(
  status: number,
  headers: Record<string, unknown>,
  body: Json,
  warn: string[],
  opts: { status?: boolean } = {},
): Json {
  return {
    status,
    contentType: headers['content-type'] ?? headers['Content-Type'] ?? null,
    warnings: warn,
    body: typeof body === 'string' ? body : projectBody(body, opts),
  };
}

function expected(f: Fixture, opts: { status?: boolean } = {}): Json {
  const w = f.response.headers.Warning;
  return observed(
    f.response.status,
    f.response.headers,
    f.response.body,
    w === undefined ? [] : [w].flat(),
    opts,
  );
}

function actual(res: SimResponse, opts: { status?: boolean } = {}): Json {
  return observed(res.status, res.headers, res.json ?? res.text, warnings(res), opts);
}

// ---- replay

let sim: KubeSim;
let admin: SimClient;
let limitedToken = '';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function tokenFor(f: Fixture): string {
  if (f.request.auth.includes('invalid token')) return 'not-a-valid-token';
  if (f.request.auth.includes('ServiceAccount fixtures/limited')) return limitedToken;
  return sim.adminToken;
}

interface Overrides {
  path?: string;
  query?: Record<string, string | string[]>;
  body?: unknown;
}

function send(f: Fixture, o: Overrides = {}): Promise<SimResponse> {
  const r = f.request;
  const body = o.body !== undefined ? o.body : r.body;
  return admin.request({
    method: r.method,
    path: o.path ?? r.path,
    query: o.query ?? r.query,
    headers: { ...r.headers },
    body: body === null ? undefined : body,
    token: tokenFor(f),
  });
}

/** Replays until the observation equals the recording (or the time is up), then asserts equality. */
async function replay(
  n: number,
  o: Overrides & { poll?: number; status?: boolean } = {},
): Promise<SimResponse> {
  const f = fx(n);
  const want = expected(f, { status: o.status });
  const deadline = Date.now() + (o.poll ?? 0);
  let res = await send(f, o);
  while (Date.now() < deadline && !isDeepStrictEqual(actual(res, { status: o.status }), want)) {
    await sleep(100);
    res = await send(f, o);
  }
  expect(actual(res, { status: o.status }), f.file).toEqual(want);
  return res;
}

async function podOf(app: string): Promise<string> {
  for (let i = 0; i < 100; i++) {
    const r = await admin.request({
      path: '/api/v1/namespaces/fixtures/pods',
      query: { labelSelector: `app=${app}` },
    });
    const live = (r.json.items as Json[]).filter((p) => !p.metadata.deletionTimestamp);
    if (live.length === 1) return live[0].metadata.name;
    await sleep(100);
  }
  throw new Error(`no single pod for app=${app}`);
}

const withPod = (f: Fixture, name: string): Overrides => ({
  path: f.request.path.replace(/[^/]+(\/exec)?$/, (_m, ex) => `${name}${ex ?? ''}`),
});
const eventsOf = (name: string): Overrides => ({ query: { fieldSelector: `involvedObject.name=${name}` } });

/** The SSA 500: the real server names one or both unknown fields; accept any non-empty subset in its wording. */
async function replayUnknownFields(n: number): Promise<void> {
  const f = fx(n);
  const res = await send(f);
  const want = expected(f);
  expect(res.status).toBe(500);
  const msg: string = res.json.message;
  const prefix = (want.body.message as string).split('): ')[0];
  expect(msg.startsWith(`${prefix}): `), `${f.file}: ${msg}`).toBe(true);
  const recorded = ['.spec.template.spec.containers[name="c"].bogusContainerField', '.spec.bogusField'];
  const named = recorded.filter((x) => msg.includes(`${x}: field not declared in schema`));
  expect(named.length, `${f.file}: ${msg}`).toBeGreaterThan(0);
  const rebuilt =
    named.length === 1
      ? `${prefix}): ${named[0]}: field not declared in schema`
      : `${prefix}): errors:\n  ${named.map((x) => `${x}: field not declared in schema`).join('\n  ')}`;
  expect(msg).toBe(rebuilt);
  expect({ ...actual(res).body, message: '' }).toEqual({ ...want.body, message: '' });
  expect(warnings(res)).toEqual([]);
}

beforeAll(async () => {
  // Back-offs at 1/20: "back-off 10s" lasts 0.5 s, long enough to be observed, short enough to stay fast.
  sim = await startKubeSim({ seed: 1, controllers: { backoffScale: 0.05 } });
  admin = new SimClient(sim.url, sim.caPem, sim.adminToken);
});
afterAll(async () => {
  await sim?.close();
});

describe('replay of the recorded kube-apiserver fixtures', () => {
  it('lists only real fixtures as intentional differences', () => {
    for (const d of intentionalDifferences) {
      for (const part of d.fixture.split(',')) {
        const [a, b] = part.trim().split('-').map(Number);
        for (let n = a as number; n <= (b ?? (a as number)); n++) expect(fixtures.has(n), `${n}`).toBe(true);
      }
      expect(d.reason.length).toBeGreaterThan(20);
    }
  });

  it('setup: 111 creates the namespace', async () => {
    await replay(111);
  });

  it('1. discovery (001-009)', async () => {
    for (const n of [1, 3, 5, 6, 7, 8]) await replay(n);
    // Filtered to the served groups; each listed group is exactly as recorded.
    const apis = await send(fx(2));
    expect(apis.status).toBe(200);
    const recordedGroups = (fx(2).response.body as Json).groups as Json[];
    expect(apis.json.groups.length).toBeGreaterThanOrEqual(8);
    for (const g of apis.json.groups) {
      const rec = recordedGroups.find((r) => r.name === g.name);
      expect(g.preferredVersion).toEqual(rec.preferredVersion);
      expect(rec.versions).toEqual(expect.arrayContaining(g.versions));
    }
    const agg = await send(fx(4));
    expect(agg.headers['content-type']).toBe(fx(4).response.headers['Content-Type']);
    const recorded = (fx(4).response.body as Json).items as Json[];
    for (const item of agg.json.items) {
      const rec = recorded.find((r) => r.metadata.name === item.metadata.name);
      expect(rec.versions).toEqual(expect.arrayContaining(item.versions));
    }
    await replay(9);
  });

  let rvBefore016 = '';

  it('2. Deployment lifecycle: apply, rollout, lists (010-022)', async () => {
    // Slow readiness so the rolling snapshot of 012 can be observed before 013.
    sim.pods.startDelayMs = 100;
    sim.pods.readyDelayMs = 1500;
    await replay(10);
    await replay(11, { status: false });
    await replay(12, { poll: 5000 });
    sim.pods.readyDelayMs = 100;
    await replay(13, { poll: 10_000 });
    await replay(14, { poll: 5000 });
    const pods = await replay(15, { poll: 5000 });
    rvBefore016 = pods.json.metadata.resourceVersion;
    await replay(16, { status: false });

    // 017: the watch from before the template change, until the Deployment is Available again.
    const f17 = fx(17);
    const done = (ev: Json) =>
      ev.object.status?.observedGeneration === 2 &&
      ev.object.status?.availableReplicas === 1 &&
      ev.object.status?.updatedReplicas === 1 &&
      ev.object.metadata.annotations?.['deployment.kubernetes.io/revision'] === '2';
    const w = await admin.watch(
      {
        path: f17.request.path,
        query: { ...f17.request.query, watch: 'true', resourceVersion: rvBefore016 },
      },
      (evs) => evs.some(done),
      20_000,
    );
    expect(w.status).toBe(200);
    expect(w.headers['content-type']).toBe('application/json');
    const stream = f17.response.stream as Array<{ type: string; object: Json }>;
    expect(w.events.map((e) => e.type)).toEqual(w.events.map(() => 'MODIFIED'));
    expect(projectBody(w.events[0].object)).toEqual(projectBody(stream[0]?.object));
    expect(projectBody(w.events.at(-1).object)).toEqual(projectBody(stream.at(-1)?.object));

    await replay(18, { poll: 5000 });
    const f19 = fx(19);
    const w19 = await admin.watch(
      { path: f19.request.path, query: f19.request.query },
      (evs) => evs.length >= 1,
      5000,
    );
    expect(w19.events.map((e) => e.type)).toEqual(['ADDED']);
    expect(projectBody(w19.events[0].object)).toEqual(projectBody(f19.response.stream?.[0]?.object));
    await replay(20, { poll: 5000 });
    await replay(21, { poll: 5000 });
    await replay(22, { poll: 10_000 });
  });

  it('2. label selectors (023-032)', async () => {
    const labels: Record<string, Record<string, string>> = {
      'sel-a': { env: 'prod', tier: 'frontend' },
      'sel-b': { env: 'prod', tier: 'backend' },
      'sel-c': { env: 'dev' },
    };
    for (const [name, l] of Object.entries(labels)) {
      const r = await admin.request({
        method: 'POST',
        path: '/api/v1/namespaces/fixtures/configmaps',
        body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, labels: l }, data: { name } },
      });
      expect(r.status).toBe(201);
    }
    for (let n = 23; n <= 32; n++) await replay(n);
    for (const name of Object.keys(labels)) {
      await admin.request({ method: 'DELETE', path: `/api/v1/namespaces/fixtures/configmaps/${name}` });
    }
  });

  it('3. client-side ConfigMap path (041-049)', async () => {
    for (let n = 41; n <= 46; n++) await replay(n);
    const body = structuredClone(fx(47).request.body) as Json;
    body.metadata.resourceVersion = '1';
    await replay(47, { body });
    await replay(48);
    await replay(49);
  });

  it('4. errors (050-080)', async () => {
    for (const n of [50, 51, 52, 53, 54, 55]) await replay(n);
    await replayUnknownFields(56);
    await replay(57);
    await replay(58);
    await replayUnknownFields(59);
    await replayUnknownFields(60);
    await replayUnknownFields(61);
    for (const n of [62, 63, 64, 65, 66]) await replay(n);

    // The `limited` ServiceAccount as the recorder set it up: get/list ConfigMaps, nothing else.
    await postBoundServiceAccount(admin, 'fixtures', 'limited', [
      { apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list'] },
    ]);
    const tr = await replay(67);
    limitedToken = tr.json.status.token;
    for (const n of [68, 69, 70]) await replay(n);

    const web = await podOf('web');
    const f71 = fx(71);
    const ws = await upgradeAnswer(
      `${sim.url.replace('https', 'wss')}${withPod(f71, web).path}?command=echo&command=hello&stdout=true&stderr=true`,
      f71.request.headers['Sec-WebSocket-Protocol']?.split(','),
      { ca: sim.caPem, token: limitedToken },
    );
    expect(observed(ws.status, { 'content-type': ws.contentType }, JSON.parse(ws.body), [])).toEqual(
      expected(f71),
    );
    await replay(72, withPod(fx(72), web));
    for (let n = 73; n <= 80; n++) await replay(n);
  });

  it('5. failing pods (081-094)', async () => {
    // The recorded failures: an image that is not on the node (pull policy Never), a container that exits 1,
    // a cpu request no node can hold (the node's allocatable cpu is far below 1000 cores).
    sim.pods.missingImages.add('localhost/realkube/does-not-exist:v1');
    // The crash Deployment runs `sh -c "exit 1"` in the dind image; the web pod with that image is already
    // running and is not restarted, so marking the image as crashing affects only the new pod.
    sim.pods.crashingImages.add('localhost/realkube/dind:bookworm');
    await replay(81);
    await replay(82);
    await replay(83);
    const imgMissing = await podOf('img-missing');
    const crash = await podOf('crash');
    const unschedulable = await podOf('unschedulable');
    // The crash-loop states first: back-off 10s then 20s come and go while the deadline runs.
    await replay(85, { ...withPod(fx(85), crash), poll: 10_000 });
    await replay(91, { ...eventsOf(crash), poll: 5000 });
    await replay(93, { ...withPod(fx(93), crash), poll: 10_000 });
    await replay(94, { ...eventsOf(crash), poll: 5000 });
    await replay(84, { ...withPod(fx(84), imgMissing), poll: 10_000 });
    await replay(86, { ...withPod(fx(86), unschedulable), poll: 10_000 });
    await replay(90, { ...eventsOf(imgMissing), poll: 10_000 });
    await replay(92, { ...eventsOf(unschedulable), poll: 10_000 });
    await replay(87, { poll: 20_000 });
    await replay(88, { poll: 20_000 });
    await replay(89, { poll: 20_000 });
    sim.pods.crashingImages.clear();
  });

  it('2. deletion (033-040)', async () => {
    // The garbage collector waits a little per pass so that the foreground deletion is observable (034).
    sim.store.gcDelayMs = 300;
    await replay(33);
    await replay(34, { poll: 3000 });
    sim.store.gcDelayMs = 0;
    await replay(35, { poll: 10_000 });
    await replay(36);
    await replay(37);
    await replay(38);
    await replay(39);
    await replay(40, { poll: 10_000 });
  });

  it('teardown: 112 deletes the namespace', async () => {
    await replay(112);
  });
});
