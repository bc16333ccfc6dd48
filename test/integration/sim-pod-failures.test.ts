import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SimClient, type SimResponse } from '../sim/kube/http-client.js';
import { type KubeSim, startKubeSim } from '../sim/kube/index.js';
import { recorded } from './harness.js';

const FAIL_NS = 'kr2-fail';
const DIND = 'localhost/realkube/dind:bookworm';

// biome-ignore lint/suspicious/noExplicitAny: recorded JSON, compared field by field
const fixture = (num: string) => recorded<any>(num, 'kube-real-2');

describe('simulator: pod failures and Pod Security as recorded', () => {
  let sim: KubeSim;
  let admin: SimClient;

  const send = (num: string, token?: string): Promise<SimResponse> => {
    const { request } = fixture(num);
    return admin.request({
      method: request.method,
      path: request.path,
      query: request.query,
      body: request.body ?? undefined,
      headers: request.headers['Content-Type'] ? { 'Content-Type': request.headers['Content-Type'] } : {},
      ...(token ? { token } : {}),
    });
  };

  // biome-ignore lint/suspicious/noExplicitAny: pods are free-form JSON
  async function podOf(app: string, ok: (pod: any) => boolean): Promise<any> {
    for (;;) {
      const r = await admin.request({
        path: `/api/v1/namespaces/${FAIL_NS}/pods`,
        query: { labelSelector: `app=${app}` },
      });
      // biome-ignore lint/suspicious/noExplicitAny: as above
      const pod = (r.json.items as any[]).find(ok);
      if (pod) return pod;
      await new Promise((res) => setTimeout(res, 10));
    }
  }

  // biome-ignore lint/suspicious/noExplicitAny: as above
  const waitingFor = (reason: string) => (p: any) =>
    p.status?.containerStatuses?.[0]?.state?.waiting?.reason === reason;

  /** Creates fixture `num`'s Deployment, then waits for a pod of `app` whose container waits with `reason`. */
  // biome-ignore lint/suspicious/noExplicitAny: as above
  async function deployWaiting(num: string, app: string, reason: string): Promise<any> {
    expect((await send(num)).status).toBe(201);
    return podOf(app, waitingFor(reason));
  }

  const log = (pod: string, query: Record<string, string>, token?: string) =>
    admin.request({
      path: `/api/v1/namespaces/${FAIL_NS}/pods/${pod}/log`,
      query,
      headers: { Accept: '*/*' },
      ...(token ? { token } : {}),
    });

  /** The recorded message with the recorded pod name (the fixture request's path names it) replaced. */
  const recorded = (num: string, pod: string): string => {
    const f = fixture(num);
    const name = f.request.path.split('/')[6] ?? '';
    return (f.response.body.message as string).replaceAll(name, pod);
  };

  beforeAll(async () => {
    sim = await startKubeSim({ controllers: { backoffScale: 0.01 } });
    sim.pods.startDelayMs = 5;
    sim.pods.missingImages.add('localhost/realkube/not-imported:1.0');
    sim.pods.crashingImages.add(DIND);
    sim.pods.containerLogs.set(DIND, fixture('080').response.body as string);
    admin = new SimClient(sim.url, sim.caPem, sim.adminToken);
    expect((await send('123')).status).toBe(201);
  });
  afterAll(async () => {
    await sim?.close();
  });

  it('a never-started container: its log is a 400 naming the waiting reason (070, 073)', async () => {
    const pod = await deployWaiting('063', 'img-never', 'ErrImageNeverPull');
    const r = await log(pod.metadata.name, fixture('073').request.query);
    expect(r.status).toBe(400);
    expect(r.json).toMatchObject({
      reason: 'BadRequest',
      code: 400,
      message: recorded('073', pod.metadata.name),
    });
  });

  it('a crash loop alternates terminated (077) and CrashLoopBackOff (124); the logs answer as 080, 081, 125, 126, 082', async () => {
    expect((await send('065')).status).toBe(201);
    const between = await podOf('crash-fallback', (p) => {
      const cs = p.status?.containerStatuses?.[0];
      return cs?.state?.terminated && cs.restartCount >= 2;
    });
    const cs = between.status.containerStatuses[0];
    // 077: the exited instance is both the state and the last state; FallbackToLogsOnError put the log in it.
    expect(cs.state).toEqual(cs.lastState);
    expect(cs.state.terminated).toMatchObject({
      reason: 'Error',
      message: fixture('077').response.body.status.containerStatuses[0].state.terminated.message,
    });
    expect(between.status.phase).toBe('Running');
    const name = between.metadata.name;
    const current = await log(name, fixture('080').request.query);
    expect(current.status).toBe(200);
    expect(current.headers['content-type']).toBe('text/plain');
    expect(current.text).toBe(fixture('080').response.body);
    // 081: previous=true while the current instance has exited is a 200 with this text, not an error status.
    // The pod may have moved on to CrashLoopBackOff meanwhile (then the previous run's log is the answer, 125).
    const previous = await log(name, fixture('081').request.query);
    expect(previous.status).toBe(200);
    expect([
      `unable to retrieve container logs for ${cs.containerID}`,
      fixture('125').response.body,
    ]).toContain(previous.text);

    const backoff = await podOf('crash-fallback', waitingFor('CrashLoopBackOff'));
    const waiting = backoff.status.containerStatuses[0].state.waiting;
    expect(waiting.message).toMatch(
      new RegExp(
        `^back-off \\d+s restarting failed container=app pod=${backoff.metadata.name}_${FAIL_NS}\\(${backoff.metadata.uid}\\)$`,
      ),
    );
    for (const num of ['125', '126']) {
      const r = await log(backoff.metadata.name, fixture(num).request.query);
      if (r.status === 200 && r.text.startsWith('unable')) continue; // it restarted and exited again meanwhile
      expect(r.text).toBe(fixture(num).response.body);
    }

    // 082: a ServiceAccount whose Role has pods but not pods/log.
    sim.addToken('sa', `system:serviceaccount:${FAIL_NS}:preevy-kube-action`, [
      { verbs: ['get', 'list', 'watch'], apiGroups: [''], resources: ['pods', 'events'] },
    ]);
    const denied = await log(name, fixture('082').request.query, 'sa');
    expect(denied.status).toBe(403);
    expect(denied.json).toMatchObject({ reason: 'Forbidden', message: recorded('082', name) });
  });

  it('CreateContainerConfigError for a missing ConfigMap (089, 092) and a missing key (093)', async () => {
    const pod = await deployWaiting('067', 'config-error', 'CreateContainerConfigError');
    expect(pod.status.containerStatuses[0].state.waiting.message).toBe(
      'configmap "no-such-configmap" not found',
    );
    const r = await log(pod.metadata.name, fixture('092').request.query);
    expect(r.status).toBe(400);
    expect(r.json.message).toBe(recorded('092', pod.metadata.name));

    await admin.request({
      method: 'POST',
      path: `/api/v1/namespaces/${FAIL_NS}/configmaps`,
      body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'present' }, data: { other: 'x' } },
    });
    const keyPod = await deployWaiting('068', 'config-key-missing', 'CreateContainerConfigError');
    expect(keyPod.status.containerStatuses[0].state.waiting.message).toBe(
      "couldn't find key absent-key in ConfigMap kr2-fail/present",
    );
  });

  it('Pod Security: a bare Pod is refused (102, 107; dry runs 103, 108), a Deployment is not, and its ReplicaSet fails (114, 116)', async () => {
    for (const num of ['099', '104', '109']) expect((await send(num)).status).toBe(201);
    for (const num of ['102', '103', '107', '108']) {
      const r = await send(num);
      expect(r.status).toBe(403);
      expect(r.json).toEqual(fixture(num).response.body);
    }
    expect((await send('112')).status).toBe(201);

    // 100, 105: the Deployment is accepted; Pod Security only adds a Warning header.
    const accepted = await send('100');
    expect(accepted.status).toBe(201);
    expect(accepted.headers.warning).toBe(fixture('100').response.headers.Warning);
    expect((await send('105')).headers.warning).toBe(fixture('105').response.headers.Warning);
    const rsPath = '/apis/apps/v1/namespaces/kr2-psa-baseline/replicasets';
    // biome-ignore lint/suspicious/noExplicitAny: as above
    let rs: any;
    for (;;) {
      rs = (await admin.request({ path: rsPath, query: { labelSelector: 'app=dind' } })).json.items[0];
      if (rs?.status?.conditions?.length) break;
      await new Promise((res) => setTimeout(res, 10));
    }
    const expected = fixture('114').response.body.items[0].status;
    const condition = rs.status.conditions[0];
    expect(rs.status.replicas).toBe(expected.replicas);
    expect(condition).toMatchObject({ type: 'ReplicaFailure', status: 'True', reason: 'FailedCreate' });
    const recordedPod = /pods "([^"]+)"/.exec(expected.conditions[0].message)?.[1] ?? '';
    const simPod = /pods "([^"]+)"/.exec(condition.message)?.[1] ?? '';
    expect(simPod).toMatch(new RegExp(`^${rs.metadata.name}-[a-z0-9]{5}$`));
    expect(condition.message).toBe(expected.conditions[0].message.replace(recordedPod, simPod));

    // biome-ignore lint/suspicious/noExplicitAny: as above
    let deploy: any;
    for (;;) {
      deploy = (await admin.request({ path: '/apis/apps/v1/namespaces/kr2-psa-baseline/deployments/dind' }))
        .json;
      // biome-ignore lint/suspicious/noExplicitAny: as above
      if (deploy.status?.conditions?.some((c: any) => c.type === 'ReplicaFailure')) break;
      await new Promise((res) => setTimeout(res, 10));
    }
    type Cond = { type: string; status: string };
    const types = (conditions: Cond[]) => conditions.map((c) => `${c.type}=${c.status}`);
    expect(types(deploy.status.conditions)).toEqual(types(fixture('116').response.body.status.conditions));
  });
});
