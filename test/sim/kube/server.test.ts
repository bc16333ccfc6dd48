import { request as httpsRequest } from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { parse as parseYaml } from 'yaml';
import { SimClient } from './http-client.js';
import { countRequests, type KubeSim, startKubeSim, writes } from './index.js';

let sim: KubeSim;
let c: SimClient;

beforeAll(async () => {
  sim = await startKubeSim({ namespaces: ['t'], seed: 7 });
  c = new SimClient(sim.url, sim.caPem, sim.adminToken);
});
afterAll(async () => {
  await sim.close();
});

const CM = '/api/v1/namespaces/t/configmaps';
const cmBody = (
  name: string,
  data: Record<string, string> = { a: '1' },
  labels?: Record<string, string>,
) => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, ...(labels ? { labels } : {}) },
  data,
});

describe('discovery', () => {
  it('serves the recorded documents, legacy and aggregated', async () => {
    const api = await c.request({ path: '/api' });
    expect(api.status).toBe(200);
    expect(api.headers['content-type']).toBe('application/json');
    expect(api.json.kind).toBe('APIVersions');
    const agg = await c.request({
      path: '/apis',
      headers: {
        Accept: 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json',
      },
    });
    expect(agg.headers['content-type']).toBe(
      'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList',
    );
    const groups = agg.json.items.map((i: { metadata: { name: string } }) => i.metadata.name);
    expect(groups).toEqual(expect.arrayContaining(['apps', 'rbac.authorization.k8s.io', 'batch', 'policy']));
    expect(groups).not.toContain('storage.k8s.io');
    const apps = await c.request({ path: '/apis/apps/v1' });
    expect(
      apps.json.resources.find((r: { name: string }) => r.name === 'deployments').storageVersionHash,
    ).toBe('8aSe+NMegvE=');
    expect((await c.request({ path: '/apis/apps' })).json.kind).toBe('APIGroup');
    expect((await c.request({ path: '/version' })).json.gitVersion).toBe('v1.32.13');
    expect(
      (await c.request({ path: '/apis/batch/v1' })).json.resources.map((r: { name: string }) => r.name),
    ).toContain('jobs');
  });
});

describe('authentication and authorization', () => {
  it('401 without or with a wrong token', async () => {
    for (const token of [null, 'nope']) {
      const r = await c.request({ path: CM, token });
      expect(r.status).toBe(401);
      expect(r.json).toEqual({
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Failure',
        message: 'Unauthorized',
        reason: 'Unauthorized',
        code: 401,
      });
    }
  });

  it('static rules, scoped to namespaces, map verbs as the real server does', async () => {
    sim.addToken('reader', 'alice', [
      { verbs: ['get', 'list', 'watch'], apiGroups: [''], resources: ['configmaps'], namespaces: ['t'] },
    ]);
    expect((await c.request({ path: CM, token: 'reader' })).status).toBe(200);
    const denied = await c.request({ method: 'POST', path: CM, token: 'reader', body: cmBody('x') });
    expect(denied.status).toBe(403);
    expect(denied.json.message).toBe(
      'configmaps is forbidden: User "alice" cannot create resource "configmaps" in API group "" in the namespace "t"',
    );
    const other = await c.request({ path: '/api/v1/namespaces/default/configmaps', token: 'reader' });
    expect(other.status).toBe(403);
    const cluster = await c.request({ path: '/api/v1/namespaces', token: 'reader' });
    expect(cluster.json.message).toContain(
      'cannot list resource "namespaces" in API group "" at the cluster scope',
    );
  });

  it('TokenRequest mints a token whose rights come from Role/RoleBinding objects', async () => {
    const post = (path: string, body: unknown) => c.request({ method: 'POST', path, body });
    expect(
      (
        await post('/api/v1/namespaces/t/serviceaccounts', {
          apiVersion: 'v1',
          kind: 'ServiceAccount',
          metadata: { name: 'deployer' },
        })
      ).status,
    ).toBe(201);
    await post('/apis/rbac.authorization.k8s.io/v1/namespaces/t/roles', {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { name: 'deployer' },
      rules: [
        { apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list', 'create'] },
        { apiGroups: [''], resources: ['pods/exec'], verbs: ['get'] },
      ],
    });
    await post('/apis/rbac.authorization.k8s.io/v1/namespaces/t/rolebindings', {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: 'deployer' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'deployer' },
      subjects: [{ kind: 'ServiceAccount', name: 'deployer', namespace: 't' }],
    });
    const tr = await post('/api/v1/namespaces/t/serviceaccounts/deployer/token', {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenRequest',
      spec: { expirationSeconds: 600 },
    });
    expect(tr.status).toBe(201);
    expect(tr.json.spec).toEqual({
      audiences: ['https://kubernetes.default.svc.cluster.local'],
      expirationSeconds: 600,
      boundObjectRef: null,
    });
    const token = tr.json.status.token as string;
    expect(token.split('.')).toHaveLength(3);

    expect((await c.request({ path: CM, token })).status).toBe(200);
    expect((await c.request({ method: 'POST', path: CM, token, body: cmBody('by-sa') })).status).toBe(201);
    const del = await c.request({ method: 'DELETE', path: `${CM}/by-sa`, token });
    expect(del.status).toBe(403);
    expect(del.json.message).toBe(
      'configmaps "by-sa" is forbidden: User "system:serviceaccount:t:deployer" cannot delete resource "configmaps" in API group "" in the namespace "t"',
    );
    const review = await c.request({
      method: 'POST',
      path: '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews',
      token,
      body: {
        apiVersion: 'authorization.k8s.io/v1',
        kind: 'SelfSubjectAccessReview',
        spec: { resourceAttributes: { namespace: 't', verb: 'get', resource: 'pods', subresource: 'exec' } },
      },
    });
    expect(review.json.status.allowed).toBe(true);
    // A bound token dies with its ServiceAccount.
    await c.request({ method: 'DELETE', path: '/api/v1/namespaces/t/serviceaccounts/deployer' });
    expect((await c.request({ path: CM, token })).status).toBe(401);
  });
});

describe('CRUD', () => {
  it('create, get, conflict, replace, patch in every content type, delete', async () => {
    const created = await c.request({
      method: 'POST',
      path: CM,
      body: cmBody('one', { greeting: 'hello' }, { app: 'web' }),
    });
    expect(created.status).toBe(201);
    expect(created.json.metadata.namespace).toBe('t');
    expect((await c.request({ method: 'POST', path: CM, body: cmBody('one') })).json.reason).toBe(
      'AlreadyExists',
    );

    const stale = await c.request({
      method: 'PUT',
      path: `${CM}/one`,
      body: { ...cmBody('one'), metadata: { name: 'one', resourceVersion: '1' } },
    });
    expect(stale.status).toBe(409);
    expect(stale.json.reason).toBe('Conflict');
    const mismatch = await c.request({ method: 'PUT', path: `${CM}/one`, body: cmBody('two') });
    expect(mismatch.status).toBe(400);
    expect(mismatch.json.message).toBe(
      'the name of the object (two) does not match the name on the URL (one)',
    );
    const replaced = await c.request({
      method: 'PUT',
      path: `${CM}/one`,
      body: cmBody('one', { greeting: 'hi' }),
    });
    expect(replaced.status).toBe(200);
    expect(replaced.json.data).toEqual({ greeting: 'hi' });

    const patch = (ct: string, body: unknown) =>
      c.request({ method: 'PATCH', path: `${CM}/one`, headers: { 'Content-Type': ct }, body });
    expect((await patch('application/merge-patch+json', { data: { color: 'blue' } })).json.data).toEqual({
      greeting: 'hi',
      color: 'blue',
    });
    expect(
      (await patch('application/strategic-merge-patch+json', { data: { greeting: null } })).json.data,
    ).toEqual({ color: 'blue' });
    expect(
      (await patch('application/json-patch+json', [{ op: 'replace', path: '/data/color', value: 'red' }]))
        .json.data,
    ).toEqual({ color: 'red' });
    const failed = await patch('application/json-patch+json', [
      { op: 'test', path: '/data/color', value: 'green' },
    ]);
    expect(failed.status).toBe(422);
    expect(failed.json.message).toBe('the server rejected our request due to an error in our request');
    for (const ct of ['application/json', 'text/plain']) {
      const r = await patch(ct, { data: {} });
      expect(r.status).toBe(415);
      expect(r.json.message).toBe('415: Unsupported Media Type');
    }

    const del = await c.request({ method: 'DELETE', path: `${CM}/one` });
    expect(del.json).toEqual({
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Success',
      details: { name: 'one', kind: 'configmaps', uid: created.json.metadata.uid },
    });
    expect((await c.request({ method: 'DELETE', path: `${CM}/one` })).status).toBe(404);
  });

  it('server-side apply creates (201), re-applies (200) and needs a field manager (422)', async () => {
    const body = 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: applied\ndata:\n  k: v\n';
    const apply = (query: Record<string, string>) =>
      c.request({
        method: 'PATCH',
        path: `${CM}/applied`,
        query,
        headers: { 'Content-Type': 'application/apply-patch+yaml' },
        body,
      });
    expect((await apply({ fieldManager: 'me', force: 'true' })).status).toBe(201);
    const again = await apply({ fieldManager: 'me', force: 'true' });
    expect(again.status).toBe(200);
    expect(again.json.data).toEqual({ k: 'v' });
    expect(again.json.metadata.managedFields[0].manager).toBe('me');
    const none = await apply({});
    expect(none.status).toBe(422);
    expect(none.json.message).toBe(
      'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch',
    );
    expect(none.json.details).toEqual({
      group: 'meta.k8s.io',
      kind: 'PatchOptions',
      causes: [
        {
          reason: 'FieldValueRequired',
          message: 'Required value: is required for apply patch',
          field: 'fieldManager',
        },
      ],
    });
  });

  it('derives the field manager from the User-Agent', async () => {
    const r = await c.request({
      method: 'POST',
      path: CM,
      headers: { 'User-Agent': 'preevy-kube-action/0.1 (linux)' },
      body: cmBody('ua'),
    });
    const managers = (r.json.metadata.managedFields ?? []).map((f: { manager: string }) => f.manager);
    if (managers.length) expect(managers).toEqual(['preevy-kube-action']);
  });

  it('routes errors like the real server', async () => {
    const unknownGroup = await c.request({ path: '/apis/widgets.example.com/v1/namespaces/t/widgets' });
    expect([unknownGroup.status, unknownGroup.headers['content-type'], unknownGroup.text]).toEqual([
      404,
      'text/plain; charset=utf-8',
      '404 page not found\n',
    ]);
    for (const path of ['/apis/apps/v1/namespaces/t/widgets', '/apis/apps/v9/namespaces/t/deployments']) {
      const r = await c.request({ path });
      expect(r.status).toBe(404);
      expect(r.json.message).toBe('the server could not find the requested resource');
    }
    expect((await c.request({ method: 'POST', path: `${CM}/x`, body: cmBody('x') })).status).toBe(405);
    expect(
      (await c.request({ method: 'PUT', path: '/apis/apps/v1/namespaces/t/deployments', body: {} })).status,
    ).toBe(405);
    const noNs = await c.request({
      method: 'POST',
      path: '/api/v1/namespaces/nope/configmaps',
      body: cmBody('x'),
    });
    expect(noNs.json.message).toBe('namespaces "nope" not found');
    const wrongKind = await c.request({
      method: 'POST',
      path: CM,
      body: { apiVersion: 'v1', kind: 'Secret', metadata: { name: 's' } },
    });
    expect(wrongKind.status).toBe(400);
    const wrongVersion = await c.request({
      method: 'POST',
      path: CM,
      body: { apiVersion: 'apps/v1', kind: 'ConfigMap', metadata: { name: 's' } },
    });
    expect(wrongVersion.json.message).toBe(
      'the API version in the data (apps/v1) does not match the expected API version (v1)',
    );
  });

  it('lists with selectors, items without kind, and limit/continue', async () => {
    for (const [n, tier] of [
      ['l-a', 'frontend'],
      ['l-b', 'backend'],
      ['l-c', 'frontend'],
    ] as const) {
      await c.request({ method: 'POST', path: CM, body: cmBody(n, {}, { group: 'l', tier }) });
    }
    const list = await c.request({ path: CM, query: { labelSelector: 'group=l,tier!=backend' } });
    expect(list.json.kind).toBe('ConfigMapList');
    expect(list.json.items.map((i: { metadata: { name: string } }) => i.metadata.name)).toEqual([
      'l-a',
      'l-c',
    ]);
    expect(list.json.items[0].kind).toBeUndefined();
    const page1 = await c.request({ path: CM, query: { labelSelector: 'group=l', limit: '2' } });
    expect(page1.json.items).toHaveLength(2);
    expect(page1.json.metadata.remainingItemCount).toBe(1);
    const page2 = await c.request({
      path: CM,
      query: { labelSelector: 'group=l', limit: '2', continue: page1.json.metadata.continue },
    });
    expect(page2.json.items.map((i: { metadata: { name: string } }) => i.metadata.name)).toEqual(['l-c']);
    expect(page2.json.metadata.continue).toBeUndefined();
    const bad = await c.request({ path: CM, query: { labelSelector: 'tier in frontend' } });
    expect(bad.status).toBe(400);
    const all = await c.request({
      path: '/api/v1/configmaps',
      query: { fieldSelector: 'metadata.namespace=t' },
    });
    expect(all.json.items.length).toBeGreaterThanOrEqual(3);
  });

  it('Foreground delete returns the object, Background a Status', async () => {
    const dep = (name: string) => ({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name },
      spec: {
        replicas: 0,
        selector: { matchLabels: { app: name } },
        template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'c', image: 'i' }] } },
      },
    });
    const D = '/apis/apps/v1/namespaces/t/deployments';
    await c.request({ method: 'POST', path: D, body: dep('fg') });
    await c.request({ method: 'POST', path: D, body: dep('bg') });
    const fg = await c.request({
      method: 'DELETE',
      path: `${D}/fg`,
      query: { propagationPolicy: 'Foreground' },
    });
    expect(fg.status).toBe(200);
    expect(fg.json.kind).toBe('Deployment');
    expect(fg.json.metadata.finalizers).toEqual(['foregroundDeletion']);
    expect(fg.json.metadata.generation).toBe(2);
    const bg = await c.request({
      method: 'DELETE',
      path: `${D}/bg`,
      body: { kind: 'DeleteOptions', apiVersion: 'v1', propagationPolicy: 'Background' },
    });
    expect(bg.json.status).toBe('Success');
    expect(bg.json.details).toMatchObject({ name: 'bg', group: 'apps', kind: 'deployments' });
    for (let i = 0; i < 50 && (await c.request({ path: `${D}/fg` })).status !== 404; i++)
      await new Promise((r) => setTimeout(r, 20));
    expect((await c.request({ path: `${D}/fg` })).status).toBe(404);
  });
});

describe('subresources and namespaces', () => {
  it('status is written only through /status, and never bumps generation', async () => {
    // An HPA: it has a status subresource and a generation, and no controller here to race with.
    const H = '/apis/autoscaling/v2/namespaces/t/horizontalpodautoscalers';
    const body = {
      apiVersion: 'autoscaling/v2',
      kind: 'HorizontalPodAutoscaler',
      metadata: { name: 'st' },
      spec: {
        scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'x' },
        minReplicas: 1,
        maxReplicas: 2,
      },
    };
    const created = await c.request({ method: 'POST', path: H, body });
    expect(created.status).toBe(201);
    expect(created.json.metadata.generation).toBe(1);
    const merge = { 'Content-Type': 'application/merge-patch+json' };
    const main = await c.request({
      method: 'PATCH',
      path: `${H}/st`,
      headers: merge,
      body: { status: { desiredReplicas: 5 } },
    });
    expect(main.json.status?.desiredReplicas).not.toBe(5);
    const st = await c.request({
      method: 'PATCH',
      path: `${H}/st/status`,
      headers: merge,
      body: { status: { desiredReplicas: 5 } },
    });
    expect(st.status).toBe(200);
    expect(st.json.status.desiredReplicas).toBe(5);
    expect(st.json.metadata.generation).toBe(1);
    expect((await c.request({ path: `${H}/st/status` })).json.status.desiredReplicas).toBe(5);
    const scaled = await c.request({
      method: 'PATCH',
      path: `${H}/st`,
      headers: merge,
      body: { spec: { maxReplicas: 3 } },
    });
    expect(scaled.json.metadata.generation).toBe(2);
    expect((await c.request({ path: `${H}/st/nonsense` })).status).toBe(404);
  });

  it('a deleted namespace terminates, refuses new content, and goes once empty', async () => {
    const ns = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'doomed' } };
    const created = await c.request({ method: 'POST', path: '/api/v1/namespaces', body: ns });
    expect(created.json.metadata.labels).toEqual({ 'kubernetes.io/metadata.name': 'doomed' });
    await c.request({ method: 'POST', path: '/api/v1/namespaces/doomed/configmaps', body: cmBody('inside') });
    sim.store.gcDelayMs = 200;
    const del = await c.request({ method: 'DELETE', path: '/api/v1/namespaces/doomed' });
    expect([del.status, del.json.kind, del.json.status.phase]).toEqual([200, 'Namespace', 'Terminating']);
    const refused = await c.request({
      method: 'POST',
      path: '/api/v1/namespaces/doomed/configmaps',
      body: cmBody('late'),
    });
    expect(refused.status).toBe(403);
    expect(refused.json.message).toBe(
      'configmaps "late" is forbidden: unable to create new content in namespace doomed because it is being terminated',
    );
    sim.store.gcDelayMs = 0;
    for (let i = 0; i < 50 && (await c.request({ path: '/api/v1/namespaces/doomed' })).status !== 404; i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    expect((await c.request({ path: '/api/v1/namespaces/doomed' })).status).toBe(404);
  });
});

describe('watch', () => {
  it('starts with ADDED events, streams changes, and ends at timeoutSeconds', async () => {
    await c.request({ method: 'POST', path: CM, body: cmBody('w1', {}, { watch: 'me' }) });
    const pending = c.watch(
      { path: CM, query: { labelSelector: 'watch=me', timeoutSeconds: '1' } },
      () => false,
      5000,
    );
    await new Promise((r) => setTimeout(r, 100));
    await c.request({ method: 'POST', path: CM, body: cmBody('w2', {}, { watch: 'me' }) });
    await c.request({
      method: 'PATCH',
      path: `${CM}/w1`,
      headers: { 'Content-Type': 'application/merge-patch+json' },
      body: { metadata: { labels: { watch: 'no' } } },
    });
    const w = await pending;
    expect(w.status).toBe(200);
    expect(w.headers['content-type']).toBe('application/json');
    expect(w.ended).toBe(true);
    expect(w.events.map((e) => `${e.type} ${e.object.metadata.name}`)).toEqual([
      'ADDED w1',
      'ADDED w2',
      'DELETED w1',
    ]);
    expect(w.events[0].object.kind).toBe('ConfigMap');
  });

  it('replays from a resourceVersion and answers 410 Expired inside the stream when too old', async () => {
    const list = await c.request({ path: CM });
    const rv = list.json.metadata.resourceVersion as string;
    await c.request({ method: 'POST', path: CM, body: cmBody('after-rv') });
    const w = await c.watch({ path: CM, query: { resourceVersion: rv } }, (evs) => evs.length >= 1, 3000);
    expect(w.events[0]).toMatchObject({ type: 'ADDED', object: { metadata: { name: 'after-rv' } } });
    const bad = await c.watch(
      { path: CM, query: { resourceVersion: 'abc' } },
      (evs) => evs.length >= 1,
      3000,
    );
    expect(bad.events[0].type).toBe('ERROR');
  });

  it('ends the initial events with a bookmark when asked to (sendInitialEvents)', async () => {
    const w = await c.watch(
      {
        path: CM,
        query: {
          labelSelector: 'watch=me',
          sendInitialEvents: 'true',
          allowWatchBookmarks: 'true',
          resourceVersionMatch: 'NotOlderThan',
        },
      },
      (evs) => evs.some((e) => e.type === 'BOOKMARK'),
      3000,
    );
    const bookmark = w.events.at(-1);
    expect(bookmark.type).toBe('BOOKMARK');
    expect(bookmark.object.metadata.annotations).toEqual({ 'k8s.io/initial-events-end': 'true' });
    expect(w.events.slice(0, -1).every((e) => e.type === 'ADDED')).toBe(true);
  });

  it('drops the subscription when the client goes away', async () => {
    const before = sim.openWatches();
    const pending = c.watch({ path: CM }, (evs) => evs.length >= 1, 3000);
    await pending;
    for (let i = 0; i < 50 && sim.openWatches() > before; i++) await new Promise((r) => setTimeout(r, 10));
    expect(sim.openWatches()).toBe(before);
    expect(countRequests(sim.audit, { method: 'GET', path: CM })).toBeGreaterThan(0);
  });
});

describe('upgrades (exec, port-forward)', () => {
  function ws(
    path: string,
    token = sim.adminToken,
  ): Promise<{ status: number; body: string; protocol?: string; socket?: WebSocket }> {
    return new Promise((resolve) => {
      const sock = new WebSocket(
        `${sim.url.replace('https', 'wss')}${path}`,
        ['v5.channel.k8s.io', 'v4.channel.k8s.io'],
        {
          ca: sim.caPem,
          headers: { Authorization: `Bearer ${token}` },
        },
      );
      sock.on('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (d: Buffer) => {
          body += d.toString();
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      sock.on('open', () => resolve({ status: 101, body: '', protocol: sock.protocol, socket: sock }));
      sock.on('error', () => {});
    });
  }

  it('404 for a missing pod, 400 without a handler, the handler otherwise', async () => {
    await c.createPod('t', 'p');
    const missing = await ws('/api/v1/namespaces/t/pods/nope/exec?command=echo');
    expect(missing.status).toBe(404);
    expect(JSON.parse(missing.body).message).toBe('pods "nope" not found');
    const noHandler = await ws('/api/v1/namespaces/t/pods/p/exec?command=echo');
    expect(noHandler.status).toBe(400);

    sim.setUpgradeHandler('exec', async (ctx) => {
      const sock = await ctx.accept('v5.channel.k8s.io', 'later');
      sock.send(
        Buffer.from([1, ...Buffer.from(`${ctx.pod.metadata.name}:${ctx.query.getAll('command').join(' ')}`)]),
      );
      sock.close(1000);
    });
    const ok = await ws('/api/v1/namespaces/t/pods/p/exec?command=echo&command=hi');
    expect(ok.status).toBe(101);
    expect(ok.protocol).toBe('v5.channel.k8s.io');
    const msg = await new Promise<Buffer>((r) => ok.socket?.once('message', (d: Buffer) => r(d)));
    expect(msg.subarray(1).toString()).toBe('p:echo hi');
    sim.setUpgradeHandler('exec', undefined);

    sim.setUpgradeHandler('portforward', (ctx) => {
      if (!ctx.query.get('ports')) ctx.reject(400, 'query parameter "port" is required');
      else ctx.reject(403, '', '');
    });
    const noPorts = await ws('/api/v1/namespaces/t/pods/p/portforward');
    expect([noPorts.status, noPorts.body]).toEqual([400, 'query parameter "port" is required']);
    const refused = await ws('/api/v1/namespaces/t/pods/p/portforward?ports=2375');
    expect([refused.status, refused.body]).toEqual([403, '']);
    expect(sim.audit.at(-1)).toMatchObject({ path: '/api/v1/namespaces/t/pods/p/portforward', status: 403 });
    sim.setUpgradeHandler('portforward', undefined);

    sim.addToken('nopods', 'bob', [{ verbs: ['create'], apiGroups: [''], resources: ['pods/exec'] }]);
    const forbidden = await ws('/api/v1/namespaces/t/pods/p/exec?command=echo', 'nopods');
    expect(forbidden.status).toBe(403);
    expect(JSON.parse(forbidden.body).message).toContain('cannot get resource "pods/exec"');
  });
});

describe('faults and audit', () => {
  it('injects statuses, Retry-After, latency and dropped connections', async () => {
    sim.faults.next(1, { method: 'GET', path: /configmaps$/ }, { type: 'status', code: 503 });
    sim.faults.next(
      1,
      { method: 'GET', path: /configmaps$/ },
      { type: 'status', code: 429, retryAfterSeconds: 3 },
    );
    sim.faults.next(1, { method: 'GET', path: /configmaps$/ }, { type: 'status', code: 500 });
    const a = await c.request({ path: CM });
    expect([a.status, a.json.reason]).toEqual([503, 'ServiceUnavailable']);
    const b = await c.request({ path: CM });
    expect([b.status, b.headers['retry-after'], b.json.details.retryAfterSeconds]).toEqual([429, '3', 3]);
    const e = await c.request({ path: CM });
    expect(e.status).toBe(500);
    expect((await c.request({ path: CM })).status).toBe(200);

    sim.faults.next(1, { path: /configmaps$/ }, { type: 'latency', ms: 150 });
    const t0 = Date.now();
    expect((await c.request({ path: CM })).status).toBe(200);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(140);

    sim.faults.next(1, { path: /configmaps$/ }, { type: 'drop' });
    await expect(c.request({ path: CM })).rejects.toThrow();
    expect(sim.audit.at(-1)).toMatchObject({ status: 0, fault: 'drop' });
  });

  it('random faults are reproducible from the seed', async () => {
    const run = async () => {
      sim.faults.reseed(42);
      const id = sim.faults.randomly(0.5, { path: /^\/version$/ }, { type: 'status', code: 503 });
      const codes: number[] = [];
      for (let i = 0; i < 12; i++) codes.push((await c.request({ path: '/version' })).status);
      sim.faults.remove(id);
      return codes;
    };
    const first = await run();
    expect(first).toContain(503);
    expect(first).toContain(200);
    expect(await run()).toEqual(first);
  });

  it('records every request with its user and outcome', async () => {
    const n = sim.audit.length;
    await c.request({ method: 'POST', path: CM, body: cmBody('audited') });
    await c.request({ path: `${CM}/audited` });
    const mine = sim.audit.slice(n);
    expect(mine.map((e) => `${e.method} ${e.status} ${e.user}`)).toEqual([
      'POST 201 kubernetes-admin',
      'GET 200 kubernetes-admin',
    ]);
    expect(writes(mine)).toHaveLength(1);
    expect(countRequests(sim.audit, { method: 'GET', path: `${CM}/audited` })).toBe(1);
  });
});

describe('kubeconfig and lifecycle', () => {
  it('writes a kubeconfig a client can use', async () => {
    const kc = parseYaml(sim.kubeconfig({ namespace: 't', contextName: 'x' }));
    expect(kc['current-context']).toBe('x');
    expect(kc.contexts[0].context.namespace).toBe('t');
    const ca = Buffer.from(kc.clusters[0].cluster['certificate-authority-data'], 'base64').toString();
    const status = await new Promise<number>((resolve, reject) => {
      const u = new URL(kc.clusters[0].cluster.server);
      const req = httpsRequest(
        {
          host: u.hostname,
          port: u.port,
          path: '/version',
          ca,
          headers: { Authorization: `Bearer ${kc.users[0].user.token}` },
        },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(200);
    // The certificate also names localhost.
    const viaName = await new SimClient(
      sim.url.replace('127.0.0.1', 'localhost'),
      sim.caPem,
      sim.adminToken,
    ).request({
      path: '/version',
    });
    expect(viaName.status).toBe(200);
  });

  it('close() ends open watches and stops listening', async () => {
    const other = await startKubeSim();
    const oc = new SimClient(other.url, other.caPem, other.adminToken);
    const w = oc.watch({ path: '/api/v1/namespaces' }, () => false, 5000);
    await new Promise((r) => setTimeout(r, 100));
    await other.close();
    expect((await w).ended).toBe(true);
    await expect(oc.request({ path: '/version' })).rejects.toThrow();
  });
});
