/**
 * Picking the docker-host pod: the recorded state after a second rollout (fixtures 020-022: the new
 * ReplicaSet at revision 2 with one Ready pod, the old one scaled to 0), plus variations of it.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { dockerHostPod, PodNotFoundError, selectDockerHostPod } from '../../../src/environment/pods.js';
import type { KubeClient, KubeRequest } from '../../../src/kube/client.js';
import type { KubeObject } from '../../../src/kube/types.js';

const fixtures = path.join(import.meta.dirname, '../../fixtures/kube-api');
const body = <T>(name: string): T =>
  (JSON.parse(readFileSync(path.join(fixtures, name), 'utf8')) as { response: { body: T } }).response.body;

/** The recorded objects, with distinct uids (the fixtures redact every uid to `<uid>`). */
function recorded() {
  const deployment = structuredClone(body<KubeObject>('020-deploy-get-after-rollout2.json'));
  const replicaSets = structuredClone(
    body<{ items: KubeObject[] }>('021-replicasets-list-by-label-after-rollout2.json').items,
  );
  const pods = structuredClone(
    body<{ items: KubeObject[] }>('022-pods-list-by-label-after-rollout2.json').items,
  );
  deployment.metadata.uid = 'dep-uid';
  for (const rs of replicaSets) {
    rs.metadata.uid = `${rs.metadata.name}-uid`;
    for (const o of rs.metadata.ownerReferences ?? []) o.uid = 'dep-uid';
  }
  for (const p of pods) for (const o of p.metadata.ownerReferences ?? []) o.uid = `${o.name}-uid`;
  return { deployment, replicaSets, pods };
}

function podOf(
  template: KubeObject,
  rsName: string,
  name: string,
  patch: Partial<KubeObject['metadata']> = {},
) {
  const p = structuredClone(template);
  p.metadata = {
    ...p.metadata,
    name,
    labels: { ...p.metadata.labels, 'pod-template-hash': rsName.split('-').at(-1)! },
    ownerReferences: [
      { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: rsName, uid: `${rsName}-uid`, controller: true },
    ],
    ...patch,
  };
  return p;
}

function setReady(p: KubeObject, ready: boolean) {
  const status = p.status as { conditions: Array<{ type: string; status: string }> };
  for (const c of status.conditions) if (c.type === 'Ready') c.status = ready ? 'True' : 'False';
}

describe('selectDockerHostPod', () => {
  it('picks the Ready pod of the current ReplicaSet and its first container', () => {
    const { deployment, replicaSets, pods } = recorded();
    expect(selectDockerHostPod(deployment, replicaSets, pods)).toEqual({
      ok: true,
      pod: { name: 'web-5c9d7d6958-n8swx', container: 'docker' },
    });
  });

  it('never picks a pod of the old ReplicaSet, even a Ready one', () => {
    const { deployment, replicaSets, pods } = recorded();
    const old = podOf(pods[0]!, 'web-8954b446d', 'web-8954b446d-aaaaa');
    const r = selectDockerHostPod(deployment, replicaSets, [old, ...pods]);
    expect(r).toMatchObject({ ok: true, pod: { name: 'web-5c9d7d6958-n8swx' } });
    expect(selectDockerHostPod(deployment, replicaSets, [old])).toMatchObject({ ok: false });
  });

  it('skips terminating and not-Ready pods, and says what it saw', () => {
    const { deployment, replicaSets, pods } = recorded();
    const terminating = podOf(pods[0]!, 'web-5c9d7d6958', 'web-5c9d7d6958-old', {
      deletionTimestamp: '2026-01-01T00:00:00Z',
    });
    const notReady = podOf(pods[0]!, 'web-5c9d7d6958', 'web-5c9d7d6958-new');
    setReady(notReady, false);
    const r = selectDockerHostPod(deployment, replicaSets, [terminating, notReady]);
    expect(r.ok).toBe(false);
    const reason = (r as { reason: string }).reason;
    expect(reason).toMatch(/Deployment web/);
    expect(reason).toMatch(/web-5c9d7d6958-old \(Running, Ready, terminating\)/);
    expect(reason).toMatch(/web-5c9d7d6958-new \(Running, not Ready\)/);
  });

  it('prefers the newest of several Ready pods', () => {
    const { deployment, replicaSets, pods } = recorded();
    const a = podOf(pods[0]!, 'web-5c9d7d6958', 'a', { creationTimestamp: '2026-01-01T00:00:00Z' });
    const b = podOf(pods[0]!, 'web-5c9d7d6958', 'b', { creationTimestamp: '2026-01-02T00:00:00Z' });
    expect(selectDockerHostPod(deployment, replicaSets, [a, b])).toMatchObject({ pod: { name: 'b' } });
  });

  it('ignores ReplicaSets of another Deployment and pods with another template hash', () => {
    const { deployment, replicaSets, pods } = recorded();
    const foreign = replicaSets.map((rs) => {
      const c = structuredClone(rs);
      for (const o of c.metadata.ownerReferences ?? []) o.uid = 'other-deployment';
      return c;
    });
    expect(selectDockerHostPod(deployment, foreign, pods)).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/no ReplicaSet of Deployment web has revision 2/),
    });
    const wrongHash = podOf(pods[0]!, 'web-5c9d7d6958', 'x');
    wrongHash.metadata.labels = { ...wrongHash.metadata.labels, 'pod-template-hash': 'other' };
    expect(selectDockerHostPod(deployment, replicaSets, [wrongHash]).ok).toBe(false);
  });

  it('needs a revision annotation', () => {
    const { deployment, replicaSets, pods } = recorded();
    deployment.metadata.annotations = {};
    expect(selectDockerHostPod(deployment, replicaSets, pods)).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/no deployment.kubernetes.io\/revision annotation/),
    });
  });
});

describe('dockerHostPod', () => {
  function fakeClient(objects: { deployment?: KubeObject; replicaSets: KubeObject[]; pods: KubeObject[] }) {
    const requests: KubeRequest[] = [];
    const client = {
      server: 'https://k',
      namespace: 'fixtures',
      resource: async (t: { kind: string }) => ({
        name: `${t.kind.toLowerCase()}s`,
        kind: t.kind,
        namespaced: true,
        verbs: ['get', 'list'],
      }),
      request: async (req: KubeRequest) => {
        requests.push(req);
        if (req.path.endsWith('/deployments/web')) {
          if (!objects.deployment)
            throw Object.assign(new Error('404'), {
              code: 404,
              body: '{"kind":"Status","reason":"NotFound"}',
            });
          return { status: 200, body: objects.deployment };
        }
        if (req.path.endsWith('/replicasets')) return { status: 200, body: { items: objects.replicaSets } };
        if (req.path.endsWith('/pods')) return { status: 200, body: { items: objects.pods } };
        throw new Error(`unexpected ${req.path}`);
      },
    } as unknown as KubeClient;
    return { client, requests };
  }

  it('reads the Deployment, lists by its selector, and picks the pod', async () => {
    const { client, requests } = fakeClient(recorded());
    await expect(dockerHostPod(client, { namespace: 'fixtures', deploymentName: 'web' })).resolves.toEqual({
      name: 'web-5c9d7d6958-n8swx',
      container: 'docker',
    });
    expect(requests.filter((r) => r.query?.labelSelector === 'app=web')).toHaveLength(2);
  });

  it('throws PodNotFoundError naming the Deployment', async () => {
    const { client } = fakeClient({ ...recorded(), pods: [] });
    const err = await dockerHostPod(client, { namespace: 'fixtures', deploymentName: 'web' }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(PodNotFoundError);
    expect((err as Error).message).toMatch(/Deployment web.*pods seen: none/);
    const missing = fakeClient({ replicaSets: [], pods: [] }).client;
    await expect(dockerHostPod(missing, { namespace: 'fixtures', deploymentName: 'web' })).rejects.toThrow(
      /Deployment web does not exist/,
    );
  });
});
