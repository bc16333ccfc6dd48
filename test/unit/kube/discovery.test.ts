import { describe, expect, it } from 'vitest';
import { scopeResolver } from '../../../src/kube/discovery.js';
import { FakeKube } from '../support.js';

describe('discovery', () => {
  it('scopeOf and a synchronous resolver', async () => {
    const k = new FakeKube();
    expect(await k.scopeOf({ apiVersion: 'v1', kind: 'ConfigMap' })).toBe('Namespaced');
    expect(await k.scopeOf({ apiVersion: 'v1', kind: 'Namespace' })).toBe('Cluster');
    expect(await k.scopeOf({ apiVersion: 'nope/v1', kind: 'X' })).toBeUndefined();
    const resolve = await scopeResolver(k, [{ apiVersion: 'apps/v1', kind: 'Deployment' }]);
    expect(resolve({ apiVersion: 'apps/v1', kind: 'Deployment' })).toBe('Namespaced');
    expect(resolve({ apiVersion: 'v1', kind: 'Secret' })).toBeUndefined();
  });
});
