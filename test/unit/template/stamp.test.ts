import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../../../src/kube/types.js';
import { applyOrder, deleteOrder, stampManifests, templateHash } from '../../../src/template/stamp.js';
import { kubeObject as o } from '../support.js';

const opts = {
  envId: 'shop-pr-7',
  id: 'shop-pr-7-abcde',
  templateHash: '0123456789abcdef',
  createdAt: new Date(Date.UTC(2025, 5, 1, 12, 0, 0)),
  deployedBy: 'https://github.com/acme/shop/actions/runs/99',
  pr: 7,
};

const ENV_LABELS = {
  'preevy.dev/env-id': 'shop-pr-7',
  'preevy.dev/instance': 'shop-pr-7-abcde',
  'app.kubernetes.io/managed-by': 'preevy-kube-action',
  'app.kubernetes.io/instance': 'shop-pr-7-abcde',
};

const selector = { matchLabels: { app: 'dind' } };

const at = (v: unknown, ...keys: Array<string | number>): unknown =>
  keys.reduce<unknown>((cur, k) => (cur as Record<string | number, unknown> | undefined)?.[k], v);

function dockerHost(): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'dind', labels: { 'app.kubernetes.io/component': 'docker-host', team: 'web' } },
    spec: {
      selector: structuredClone(selector),
      template: {
        metadata: { labels: { app: 'dind' } },
        spec: { containers: [{ name: 'docker', image: 'd' }] },
      },
    },
  };
}

describe('stampManifests', () => {
  const input: KubeObject[] = [
    o('ConfigMap', 'cfg', 'v1', { metadata: { name: 'cfg', annotations: { mine: 'kept' } } }),
    dockerHost(),
    o('StatefulSet', 'db', 'apps/v1', {
      spec: {
        selector: structuredClone(selector),
        template: { spec: { containers: [] } },
        volumeClaimTemplates: [{ metadata: { name: 'data' }, spec: {} }],
      },
    }),
    o('CronJob', 'tick', 'batch/v1', {
      spec: { jobTemplate: { spec: { template: { metadata: { labels: { job: 'tick' } }, spec: {} } } } },
    }),
  ];
  const snapshot = structuredClone(input);
  const out = stampManifests(input, opts);

  it('labels every object so the environment can be found', () => {
    for (const obj of out) expect(obj.metadata.labels).toMatchObject(ENV_LABELS);
    expect(out[1]?.metadata.labels).toMatchObject({
      'app.kubernetes.io/component': 'docker-host',
      team: 'web',
    });
  });

  it('labels pod templates, claim templates and job templates, keeping their own labels', () => {
    expect(at(out[1], 'spec', 'template', 'metadata', 'labels')).toEqual({ app: 'dind', ...ENV_LABELS });
    expect(at(out[2], 'spec', 'template', 'metadata', 'labels')).toEqual(ENV_LABELS);
    expect(at(out[2], 'spec', 'volumeClaimTemplates', 0, 'metadata')).toEqual({
      name: 'data',
      labels: ENV_LABELS,
    });
    expect(at(out[3], 'spec', 'jobTemplate', 'metadata', 'labels')).toEqual(ENV_LABELS);
    expect(at(out[3], 'spec', 'jobTemplate', 'spec', 'template', 'metadata', 'labels')).toEqual({
      job: 'tick',
      ...ENV_LABELS,
    });
  });

  it('never touches selectors', () => {
    expect(at(out[1], 'spec', 'selector')).toEqual(selector);
    expect(at(out[2], 'spec', 'selector')).toEqual(selector);
  });

  it('annotates every object with creation time, template hash, run and PR', () => {
    for (const obj of out) {
      expect(obj.metadata.annotations).toMatchObject({
        'preevy.dev/created-at': '2025-06-01T12:00:00.000Z',
        'preevy.dev/template-hash': '0123456789abcdef',
        'preevy.dev/deployed-by': 'https://github.com/acme/shop/actions/runs/99',
        'preevy.dev/pr': '7',
      });
    }
    expect(out[0]?.metadata.annotations?.mine).toBe('kept');
  });

  it('records every kind of the environment on the docker host only, for teardown', () => {
    expect(out[1]?.metadata.annotations?.['preevy.dev/all-types']).toBe(
      'apps/v1/Deployment,apps/v1/StatefulSet,batch/v1/CronJob,v1/ConfigMap',
    );
    for (const i of [0, 2, 3])
      expect(out[i]?.metadata.annotations).not.toHaveProperty('preevy.dev/all-types');
  });

  it('does not mutate its input', () => {
    expect(input).toEqual(snapshot);
  });

  it('keeps the original creation time when given as a string', () => {
    const [again] = stampManifests([o('ConfigMap', 'c')], {
      ...opts,
      createdAt: '2024-01-01T00:00:00Z',
      pr: undefined,
    });
    expect(again?.metadata.annotations?.['preevy.dev/created-at']).toBe('2024-01-01T00:00:00Z');
    expect(again?.metadata.annotations).not.toHaveProperty('preevy.dev/pr');
  });
});

describe('templateHash', () => {
  it('is 16 hex chars that change with the rendered text', () => {
    expect(templateHash('a')).toMatch(/^[0-9a-f]{16}$/);
    expect(templateHash('a')).toBe(templateHash('a'));
    expect(templateHash('a')).not.toBe(templateHash('b'));
  });
});

describe('applyOrder / deleteOrder', () => {
  const objs = [
    o('Ingress', 'ing', 'networking.k8s.io/v1'),
    o('Deployment', 'web', 'apps/v1'),
    o('Service', 'svc'),
    o('NetworkPolicy', 'np', 'networking.k8s.io/v1'),
    o('ConfigMap', 'c2'),
    o('Job', 'migrate', 'batch/v1'),
    o('ServiceAccount', 'sa'),
    o('ConfigMap', 'c1'),
    o('Secret', 's'),
    o('RoleBinding', 'rb', 'rbac.authorization.k8s.io/v1'),
    o('Role', 'r', 'rbac.authorization.k8s.io/v1'),
    o('PersistentVolumeClaim', 'pvc'),
    o('PodDisruptionBudget', 'pdb', 'policy/v1'),
    o('Deployment', 'dind', 'apps/v1'),
    o('constructor', 'odd', 'example.com/v1'),
  ];
  const names = (list: KubeObject[]) => list.map((x) => x.metadata.name);

  it('creates what pods depend on first and what points at workloads last, stable within a group', () => {
    expect(names(applyOrder(objs))).toEqual([
      'sa',
      's',
      'c2',
      'c1',
      'pvc',
      'r',
      'rb',
      'svc',
      'np',
      'odd',
      'web',
      'migrate',
      'dind',
      'ing',
      'pdb',
    ]);
  });

  it('deletes in reverse', () => {
    expect(names(deleteOrder(objs))).toEqual(names(applyOrder(objs)).reverse());
  });
});
