/**
 * src/kube and src/environment on a cluster: connect, apply (server-side and client-side), wait, diagnose, find,
 * delete, as the suite's ServiceAccount. No mocks of our own modules.
 */
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { ApplyError, applyObjects } from '../../src/environment/apply.js';
import { deleteEnvironment } from '../../src/environment/delete.js';
import { findEnvironment, listDockerHosts } from '../../src/environment/find.js';
import { waitForRollout } from '../../src/environment/wait.js';
import { errorMessage, IdentityError, InputError, KubeApiError, ReadinessError } from '../../src/errors.js';
import { connect, type KubeClient } from '../../src/kube/client.js';
import { captureLog, stampedEnvironment } from '../integration/harness.js';
import { useCluster } from './fixture.js';
import { mintToken, tokenKubeconfig } from './identity.js';

const FM = 'preevy-kube-action';

describe('src/kube and src/environment on a cluster', () => {
  const c = useCluster({ suite: 'environment' });
  let NS: string;
  let client: KubeClient;
  const envObjects = (envId: string, id: string, image?: string) => stampedEnvironment(NS, envId, id, image);
  /** The action's own client: the ServiceAccount's kubeconfig. */
  const as = async <T>(fn: (client: KubeClient) => Promise<T>): Promise<T> => {
    NS = c.namespace;
    client = await connect({ kubeconfig: c.kubeconfig, namespace: NS, log: captureLog() });
    try {
      return await fn(client);
    } finally {
      await client.close();
    }
  };

  it('connect: bad context, bad token, missing namespace', async () => {
    const NS = c.namespace;
    const err = await connect({ kubeconfig: c.kubeconfig, context: 'prod', namespace: NS }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(InputError);
    expect(errorMessage(err)).toMatch(/"prod" is not a context of the kubeconfig; available: "/);
    const unauthorized = await connect({
      kubeconfig: tokenKubeconfig(c.kubeconfig, 'nope-token', NS),
      namespace: NS,
    }).catch((e: unknown) => e);
    expect(unauthorized).toBeInstanceOf(KubeApiError);
    expect(errorMessage(unauthorized)).toMatch(/401/);
    expect(errorMessage(unauthorized)).not.toContain('nope-token');
    // Only an identity that may read namespaces can tell a missing one from one it may not see.
    const missing = await connect({ kubeconfig: c.adminKubeconfig, namespace: 'does-not-exist' }).catch(
      (e: unknown) => e,
    );
    expect(missing).toBeInstanceOf(InputError);
    expect((missing as InputError).input).toBe('namespace');
    const kc = parse(c.kubeconfig) as { clusters: Array<{ cluster: Record<string, unknown> }> };
    delete kc.clusters[0]!.cluster['certificate-authority-data'];
    const tls = await connect({ kubeconfig: stringify(kc), namespace: NS }).catch((e: unknown) => e);
    expect(errorMessage(tls)).toMatch(/TLS/);
  });

  for (const serverSide of [true, false]) {
    it(`${serverSide ? 'server-side' : 'client-side'} apply, wait, re-apply, find, delete`, () =>
      as(async (client) => {
        const envId = serverSide ? 'ssa-pr-1' : 'csa-pr-1';
        const id = `${envId}-abcde`;
        const log = captureLog();
        const first = await applyObjects(client, envObjects(envId, id), {
          serverSide,
          fieldManager: FM,
          log,
        });
        expect(first.map((a) => `${a.ref} ${a.action}`)).toEqual([
          `ConfigMap/${id}-cfg created`,
          `Service/${id}-svc created`,
          `Deployment/${id}-dind created`,
        ]);
        const ready = await waitForRollout(client, {
          namespace: NS,
          name: `${id}-dind`,
          timeoutMs: 120_000,
          pollMs: 50,
          log,
        });
        expect(ready.status).toMatchObject({ availableReplicas: 1 });

        const again = await applyObjects(client, envObjects(envId, id), { serverSide, fieldManager: FM });
        expect(again.map((a) => a.action)).toEqual(['unchanged', 'unchanged', 'unchanged']);
        const changed = envObjects(envId, id);
        (changed[0] as unknown as { data: Record<string, string> }).data.a = '2';
        expect((await applyObjects(client, changed, { serverSide, fieldManager: FM }))[0]?.action).toBe(
          'changed',
        );

        const found = await findEnvironment(client, { namespace: NS, envId });
        expect(found?.id).toBe(id);
        expect(found?.createdAt).toBe('2026-01-01T00:00:00.000Z');

        const result = await deleteEnvironment(client, {
          namespace: NS,
          envId,
          types: found?.types ?? [],
          timeoutMs: 20_000,
          pollMs: 50,
        });
        expect(result.deleted.sort()).toEqual([
          `ConfigMap/${id}-cfg`,
          `Deployment/${id}-dind`,
          `Service/${id}-svc`,
        ]);
        expect(result.pending).toEqual([]);
        expect(await c.pods(`preevy.dev/env-id=${envId}`)).toEqual([]);
        expect(await findEnvironment(client, { namespace: NS, envId })).toBeUndefined();
        expect(
          (await deleteEnvironment(client, { namespace: NS, envId, types: [], timeoutMs: 5000 })).deleted,
        ).toEqual([]);
      }));
  }

  it('an unknown field is refused by the server, naming the field and what was applied', () =>
    as(async (client) => {
      for (const serverSide of [true, false]) {
        const objs = envObjects('bad-pr-1', 'bad-pr-1-aaaaa');
        (objs[2]!.spec as Record<string, unknown>).strategyy = {};
        const err = await applyObjects(client, objs, { serverSide, fieldManager: FM }).catch(
          (e: unknown) => e,
        );
        expect(err, String(serverSide)).toBeInstanceOf(ApplyError);
        expect(errorMessage(err)).toMatch(/strategyy/);
        expect(errorMessage(err)).toMatch(/apply Deployment\/bad-pr-1-aaaaa-dind/);
        // The dry run caught it before the first write.
        expect(errorMessage(err)).toMatch(/Nothing was applied/);
        expect(await c.envObjects('bad-pr-1')).toEqual(new Map());
      }
      await deleteEnvironment(client, { namespace: NS, envId: 'bad-pr-1', types: [], timeoutMs: 5000 });
    }));

  it('an invalid value is a 422 with its field', () =>
    as(async (client) => {
      const objs = envObjects('neg-pr-1', 'neg-pr-1-aaaaa');
      (objs[2]!.spec as Record<string, unknown>).replicas = -1;
      const err = await applyObjects(client, objs.slice(2), { serverSide: true, fieldManager: FM }).catch(
        (e: unknown) => e,
      );
      expect(errorMessage(err)).toMatch(/spec\.replicas/);
      expect((err as KubeApiError).code).toBe(422);
    }));

  it('a missing image times out with the pod reasons', () =>
    as(async (client) => {
      // registry.invalid resolves nowhere. A real kubelet tries the registry first: its reasons come later.
      const pullFailsWithinMs = c.sim ? 3000 : 15_000;
      const id = 'img-pr-1-aaaaa';
      await applyObjects(client, envObjects('img-pr-1', id, 'registry.invalid/dind:nope'), {
        serverSide: true,
        fieldManager: FM,
      });
      const err = await waitForRollout(client, {
        namespace: NS,
        name: `${id}-dind`,
        timeoutMs: pullFailsWithinMs,
        pollMs: 100,
      }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ReadinessError);
      const msg = errorMessage(err);
      if (process.env.SHOW_MESSAGES) console.log(msg);
      expect(msg).toMatch(new RegExp(`did not become ready within ${pullFailsWithinMs / 1000}s`));
      expect(msg).toMatch(/ErrImagePull|ImagePullBackOff/);
      expect(msg).toMatch(/cannot be pulled/);
      await deleteEnvironment(client, { namespace: NS, envId: 'img-pr-1', types: [], timeoutMs: 60_000 });
    }));

  it('two docker hosts for one env id is an IdentityError; down removes both', () =>
    as(async (client) => {
      for (const id of ['dup-pr-1-aaaaa', 'dup-pr-1-bbbbb'])
        await applyObjects(client, envObjects('dup-pr-1', id).slice(2), {
          serverSide: true,
          fieldManager: FM,
        });
      const err = await findEnvironment(client, { namespace: NS, envId: 'dup-pr-1' }).catch(
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(IdentityError);
      expect(errorMessage(err)).toMatch(/dup-pr-1-aaaaa-dind.*dup-pr-1-bbbbb-dind/s);
      const hosts = await listDockerHosts(client, { namespace: NS, envId: 'dup-pr-1' });
      const r = await deleteEnvironment(client, {
        namespace: NS,
        envId: 'dup-pr-1',
        types: hosts.flatMap((h) => h.types),
        timeoutMs: 60_000,
      });
      expect(r.deleted.sort()).toEqual(['Deployment/dup-pr-1-aaaaa-dind', 'Deployment/dup-pr-1-bbbbb-dind']);
    }));

  it('a read-only token: apply names the missing permission; delete collects 403s', () =>
    as(async (client) => {
      const viewer = await connect({ kubeconfig: await viewerKubeconfig(), namespace: NS });
      try {
        const err = await applyObjects(viewer, envObjects('ro-pr-1', 'ro-pr-1-aaaaa'), {
          serverSide: true,
          fieldManager: FM,
        }).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(ApplyError);
        expect((err as ApplyError).code).toBe(403);
        expect((err as ApplyError).hint).toMatch(/lacks verb "patch" on resource "configmaps"/);

        await applyObjects(client, envObjects('ro-pr-1', 'ro-pr-1-aaaaa'), {
          serverSide: true,
          fieldManager: FM,
        });
        const del = await deleteEnvironment(viewer, {
          namespace: NS,
          envId: 'ro-pr-1',
          types: [],
          timeoutMs: 2000,
        }).catch((e: unknown) => e);
        expect(del).toBeInstanceOf(KubeApiError);
        expect(errorMessage(del)).toMatch(/failed for 3 request/);
        expect(errorMessage(del)).toMatch(/lacks verb "delete"/);
      } finally {
        await viewer.close();
        await deleteEnvironment(client, { namespace: NS, envId: 'ro-pr-1', types: [], timeoutMs: 60_000 });
      }
    }));

  /** A ServiceAccount `viewer` that may only read, bound as a user would bind it, and its token's kubeconfig. */
  async function viewerKubeconfig(): Promise<string> {
    const rbac = `/apis/rbac.authorization.k8s.io/v1/namespaces/${NS}`;
    const post = (path: string, body: object) => c.admin.request({ method: 'POST', path, body });
    await post(`/api/v1/namespaces/${NS}/serviceaccounts`, { metadata: { name: 'viewer' } });
    await post(`${rbac}/roles`, {
      metadata: { name: 'viewer' },
      rules: [{ verbs: ['get', 'list', 'watch'], apiGroups: ['*'], resources: ['*'] }],
    });
    await post(`${rbac}/rolebindings`, {
      metadata: { name: 'viewer' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'viewer' },
      subjects: [{ kind: 'ServiceAccount', name: 'viewer', namespace: NS }],
    });
    return tokenKubeconfig(c.kubeconfig, await mintToken(c.admin, NS, 'viewer'), NS);
  }
});
