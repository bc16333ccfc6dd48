/**
 * What the fixture replays ask of the simulator's HTTP API beyond the recorded requests. The setup the fixtures
 * imply but do not record goes through the API as the recorder's admin did (not straight into the store), so
 * that the replays meet what admission and the controllers made of it.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'vitest';
import WebSocket from 'ws';
import type { SimClient } from '../sim/kube/http-client.js';

type Rule = { apiGroups: string[]; resources: string[]; verbs: string[] };

/** ServiceAccount `name` of `namespace` and a Role of `rules` bound to it, all named `name`. */
export async function postBoundServiceAccount(
  admin: SimClient,
  namespace: string,
  name: string,
  rules: Rule[],
): Promise<void> {
  const rbac = 'rbac.authorization.k8s.io';
  const post = (path: string, apiVersion: string, kind: string, content: Record<string, unknown> = {}) =>
    admin.request({ method: 'POST', path, body: { apiVersion, kind, metadata: { name }, ...content } });
  const sa = await post(`/api/v1/namespaces/${namespace}/serviceaccounts`, 'v1', 'ServiceAccount');
  expect(sa.status).toBe(201);
  const at = `/apis/${rbac}/v1/namespaces/${namespace}`;
  await post(`${at}/roles`, `${rbac}/v1`, 'Role', { rules });
  await post(`${at}/rolebindings`, `${rbac}/v1`, 'RoleBinding', {
    roleRef: { apiGroup: rbac, kind: 'Role', name },
    subjects: [{ kind: 'ServiceAccount', name, namespace }],
  });
}

/** A bare Pod with one container; waits up to 5 s for it to run, leaving it to the test to see if it did. */
export async function postPod(
  admin: SimClient,
  namespace: string,
  name: string,
  container: { name: string; image: string },
): Promise<void> {
  const pods = `/api/v1/namespaces/${namespace}/pods`;
  const body = { apiVersion: 'v1', kind: 'Pod', metadata: { name }, spec: { containers: [container] } };
  expect((await admin.request({ method: 'POST', path: pods, body })).status).toBe(201);
  for (let i = 0; i < 100; i++) {
    const r = await admin.request({ path: `${pods}/${name}` });
    if (r.json.status?.phase === 'Running') break;
    await sleep(50);
  }
}

/** The answer to a WebSocket upgrade: a refusal's status, Content-Type and body, or 101 (the socket then closed). */
export function upgradeAnswer(
  url: string,
  protocols: string[] | undefined,
  opts: { ca: string; token: string },
): Promise<{ status: number; contentType?: string; body: string }> {
  return new Promise((resolve) => {
    const sock = new WebSocket(url, protocols, {
      ca: opts.ca,
      headers: { Authorization: `Bearer ${opts.token}` },
    });
    sock.on('unexpected-response', (_req, res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () => {
        const body = Buffer.concat(chunks).toString();
        resolve({ status: res.statusCode ?? 0, contentType: res.headers['content-type'], body });
      });
    });
    sock.on('open', () => {
      sock.terminate();
      resolve({ status: 101, body: '' });
    });
    sock.on('error', () => {});
  });
}
