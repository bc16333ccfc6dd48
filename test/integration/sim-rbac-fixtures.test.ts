/**
 * Replays the RBAC escalation fixtures recorded from a real kube-apiserver 1.32 (test/fixtures/kube-real-2,
 * 036-055, copied from the shared recordings) against the simulator: Role and RoleBinding writes by a
 * namespace-scoped ServiceAccount and by cluster-admin, as POST and as server-side apply, each with and
 * without dryRun=All. Compared: status, Content-Type, the whole Status of a refusal (message wording
 * included), and for a 201 the object and which metadata fields are set (a dry run has a uid and a
 * creationTimestamp but no resourceVersion).
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { SimClient } from '../sim/kube/http-client.js';
import { type KubeSim, startKubeSim } from '../sim/kube/index.js';
import type { SimObject } from '../sim/kube/types.js';
import { grantOnRoles, type Recorded, type RecordedRequest } from './harness.js';

const DIR = path.join(path.dirname(new URL(import.meta.url).pathname), '../fixtures/kube-real-2');
const NS = 'kr2-rbac';
const SA_USER = `system:serviceaccount:${NS}:preevy-kube-action`;

// biome-ignore lint/suspicious/noExplicitAny: recorded bodies are free-form JSON
interface Fixture extends Recorded<any> {
  file: string;
  request: RecordedRequest & { auth: string };
}

const fixtures = new Map<number, Fixture>();
for (const f of readdirSync(DIR)) {
  const m = /^(\d{3})-rbac-/.exec(f);
  if (m) fixtures.set(Number(m[1]), { ...JSON.parse(readFileSync(path.join(DIR, f), 'utf8')), file: f });
}

/** What a client can observe: the Status of a refusal in full; of an object, its content and metadata keys. */
// biome-ignore lint/suspicious/noExplicitAny: see above
function observe(status: number, contentType: unknown, body: any): unknown {
  if (body?.kind === 'Status') return { status, contentType, body };
  const { managedFields: _m, ...meta } = body?.metadata ?? {};
  const { metadata: _x, ...content } = body ?? {};
  return {
    status,
    contentType,
    kind: body?.kind,
    name: meta.name,
    namespace: meta.namespace,
    metadataKeys: Object.keys(meta).sort(),
    content,
  };
}

let sim: KubeSim;
let client: SimClient;

/**
 * The ServiceAccount and its Role as recorded: examples/rbac/role.yaml without the metrics.k8s.io rule that
 * was added after the recording (the refusal of 036-039 is about exactly that rule).
 */
function recordedRoleObjects(): SimObject[] {
  const docs = parseAllDocuments(readFileSync('examples/rbac/role.yaml', 'utf8')).map(
    (d) => d.toJS() as SimObject,
  );
  for (const o of docs) {
    o.metadata.namespace = NS;
    if (o.kind === 'Role')
      o.rules = (o.rules as Array<{ apiGroups: string[] }>).filter(
        (r) => !r.apiGroups.includes('metrics.k8s.io'),
      );
    for (const s of (o.subjects as Array<{ namespace?: string }> | undefined) ?? []) s.namespace = NS;
  }
  return docs;
}

async function replay(n: number): Promise<void> {
  const f = fixtures.get(n);
  if (!f) throw new Error(`no fixture ${n}`);
  const asSa = f.request.auth.startsWith('ServiceAccount');
  const res = await client.request({
    method: f.request.method,
    path: f.request.path,
    query: f.request.query,
    headers: { ...f.request.headers },
    body: f.request.body,
    token: asSa ? 'sa-token' : sim.adminToken,
  });
  expect(observe(res.status, res.headers['content-type'], res.json), f.file).toEqual(
    observe(f.response.status, f.response.headers['Content-Type'], f.response.body),
  );
}

beforeAll(async () => {
  sim = await startKubeSim({ namespaces: [NS] });
  client = new SimClient(sim.url, sim.caPem, sim.adminToken);
  for (const o of recordedRoleObjects()) sim.store.create(o);
  // No static rules: the simulator authorizes the token from the Role and RoleBinding in the store.
  sim.addToken('sa-token', SA_USER);
});
afterAll(async () => {
  await sim?.close();
});

describe('replay of the recorded RBAC escalation fixtures (kube-real-2 036-055)', () => {
  it('has all twenty fixtures', () => {
    expect([...fixtures.keys()].sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => 36 + i));
  });

  it('refuses a Role granting more than the ServiceAccount holds, dry run and SSA too (036-039)', async () => {
    for (const n of [36, 37, 38, 39]) await replay(n);
  });

  it('answers 404 for a RoleBinding to a missing Role, dry run and SSA too (040-043)', async () => {
    for (const n of [40, 41, 42, 43]) await replay(n);
  });

  it('creates the binding without reading the Role once the ServiceAccount may bind roles (044-047)', async () => {
    grantOnRoles(sim, NS, 'binder', 'bind');
    for (const n of [44, 45, 46, 47]) await replay(n);
  });

  it('lets cluster-admin write any Role and binding (048-055)', async () => {
    for (let n = 48; n <= 55; n++) await replay(n);
  });
});
