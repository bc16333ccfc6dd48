import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { envLabels, newInstanceId } from '../../../src/identity.js';
import type { TypeRef } from '../../../src/kube/types.js';
import { prepareManifests, type TemplateContext } from '../../../src/template/index.js';
import { bundledTemplatePath } from '../bundled-templates.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const NS = 'previews';
const id = newInstanceId('shop-pr-7', () => 'x9y8z');
const base: TemplateContext = { namespace: NS, id, envId: 'shop-pr-7', labels: envLabels('shop-pr-7', id) };
const scopeOf = (t: TypeRef) =>
  (t.kind === 'Namespace' ? 'Cluster' : 'Namespaced') as 'Cluster' | 'Namespaced';

type Json = Record<string, unknown>;
function podOf(name: string, context: TemplateContext): Json {
  const file = bundledTemplatePath(name, ROOT)!;
  const m = prepareManifests({ file, context, namespace: NS, scopeOf });
  return (m.dockerHost.spec as Json).template as Json;
}
const resources = (pod: Json) => (((pod.spec as Json).containers as Json[])[0]!.resources ?? {}) as Json;
const dockerData = (pod: Json) =>
  ((pod.spec as Json).volumes as Json[]).find((v) => v.name === 'docker-data')?.emptyDir as Json | undefined;

describe.each(['default', 'rootless-sysbox'])('bundled template %s: the environment disk', (name) => {
  it('requests and limits the container ephemeral storage to storage-size', () => {
    const r = resources(podOf(name, { ...base, storageSize: '35Gi' }));
    expect((r.requests as Json)['ephemeral-storage']).toBe('35Gi');
    expect((r.limits as Json)['ephemeral-storage']).toBe('35Gi');
  });

  it('defaults to 20Gi for a context without storageSize (a Preevy-style context)', () => {
    const r = resources(podOf(name, base));
    expect((r.requests as Json)['ephemeral-storage']).toBe('20Gi');
    expect((r.limits as Json)['ephemeral-storage']).toBe('20Gi');
  });
});

describe('default template: the docker data volume', () => {
  it('has storage-size as its sizeLimit, 20Gi by default', () => {
    expect(dockerData(podOf('default', { ...base, storageSize: '100G' }))).toEqual({ sizeLimit: '100G' });
    expect(dockerData(podOf('default', base))).toEqual({ sizeLimit: '20Gi' });
  });

  it('writes an awkward value as one YAML scalar (the API server then refuses it, not the YAML)', () => {
    expect(dockerData(podOf('default', { ...base, storageSize: '1Gi\nkind: Secret' }))).toEqual({
      sizeLimit: '1Gi\nkind: Secret',
    });
  });
});
