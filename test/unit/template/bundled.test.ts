import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { envLabels, isDockerHost, newInstanceId } from '../../../src/identity.js';
import type { KubeObject, TypeRef } from '../../../src/kube/types.js';
import { prepareManifests, stampManifests, type TemplateContext } from '../../../src/template/index.js';
import { BUNDLED_TEMPLATES, bundledTemplatePath } from '../bundled-templates.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const NS = 'previews';
const id = newInstanceId(`${'a-long-repository-name-'.repeat(3)}-pr-123456`, () => 'x9y8z');
const envId = 'shop-pr-7';

const contexts: Record<string, TemplateContext> = {
  'a push without PR data': { namespace: NS, id, envId, labels: envLabels(envId, id) },
  'a PR with awkward text': {
    namespace: NS,
    id,
    envId,
    labels: envLabels(envId, id),
    pr: {
      number: 7,
      headSha: 'deadbeef',
      headRef: 'feat/it\'s: "quoted"',
      baseRef: 'main',
      repository: 'acme/shop',
      title: 'Fix: it\'s "broken"\n# not a comment',
    },
    services: [
      {
        name: 'web',
        port: 30080,
        targetPort: 80,
        host: 'web-80-shop-pr-7.example.com',
        url: 'https://web-80-shop-pr-7.example.com',
      },
    ],
    expose: 'ingress',
    domain: 'example.com',
  },
};

const scopeOf = (t: TypeRef) =>
  (t.kind === 'Namespace' ? 'Cluster' : 'Namespaced') as 'Cluster' | 'Namespaced';

type Json = Record<string, unknown>;
const at = (v: unknown, ...keys: Array<string | number>): unknown =>
  keys.reduce<unknown>((cur, k) => (cur as Record<string | number, unknown> | undefined)?.[k], v);

describe.each(BUNDLED_TEMPLATES)('bundled template %s', (name) => {
  const file = bundledTemplatePath(name, ROOT)!;

  describe.each(Object.entries(contexts))('with %s', (_, context) => {
    const m = prepareManifests({ file, context, namespace: NS, scopeOf });
    const host = m.dockerHost;
    const pod = at(host, 'spec', 'template', 'spec') as Json;
    const first = at(pod, 'containers', 0) as Json;

    it('renders and passes the contract, with one docker host Deployment', () => {
      expect(m.objects.filter(isDockerHost)).toEqual([host]);
      expect(host.metadata.namespace).toBe(NS);
      expect(host.metadata.name.length).toBeLessThanOrEqual(63);
    });

    it('runs a Docker image pinned to a version', () => {
      expect(first.image).toMatch(/^docker:\d+\.\d+\.\d+-dind$/);
      expect(first.image).not.toMatch(/latest/);
    });

    it("serves Docker on the pod's loopback port 2375 without TLS and on the unix socket, and is ready only when it answers there", () => {
      const argv = first.args as string[];
      expect(argv[0]).toBe('dockerd');
      // Not 0.0.0.0: every pod of the cluster could drive the privileged dockerd (issue 3).
      expect(argv).toContain('--host=tcp://127.0.0.1:2375');
      expect(argv.join(' ')).not.toMatch(/0\.0\.0\.0/);
      expect(argv).toContain('--host=unix:///var/run/docker.sock');
      expect(argv).toContain('--tls=false');
      // A tcpSocket probe dials the pod IP, where dockerd no longer listens.
      expect(at(first, 'readinessProbe', 'tcpSocket')).toBeUndefined();
      expect(at(first, 'readinessProbe', 'exec', 'command')).toEqual([
        'wget',
        '-q',
        '-O',
        '/dev/null',
        'http://127.0.0.1:2375/_ping',
      ]);
      expect(first.ports).toBeUndefined();
    });

    it("starts dockerd through the image's entrypoint with the MTU of the pod's interface for every network", () => {
      const [shell, flag, script, name] = first.command as string[];
      expect([shell, flag, name]).toEqual(['sh', '-c', 'dind-start']);
      // Run the start script as the container would, with an entrypoint that prints what it was given.
      const bin = mkdtempSync(path.join(tmpdir(), 'entrypoint-'));
      writeFileSync(path.join(bin, 'dockerd-entrypoint.sh'), '#!/bin/sh\nprintf "%s\\n" "$@"\n', {
        mode: 0o755,
      });
      const run = spawnSync('sh', ['-c', script!, name!, ...(first.args as string[])], {
        encoding: 'utf8',
        env: { PATH: `${bin}:/usr/bin:/bin` },
      });
      expect(run.status).toBe(0);
      let mtu: string | undefined;
      try {
        mtu = readFileSync('/sys/class/net/eth0/mtu', 'utf8').trim();
      } catch {
        // no eth0 here: the script must then leave dockerd's defaults
      }
      const mtuArgs = mtu
        ? [`--mtu=${mtu}`, `--default-network-opt=bridge=com.docker.network.driver.mtu=${mtu}`]
        : [];
      expect(run.stdout.trimEnd().split('\n')).toEqual([...(first.args as string[]), ...mtuArgs]);
    });

    it('keeps one pod with a stable selector and no API token', () => {
      expect(at(host, 'spec', 'replicas')).toBe(1);
      expect(at(host, 'spec', 'strategy', 'type')).toBe('Recreate');
      const matchLabels = at(host, 'spec', 'selector', 'matchLabels') as Record<string, string>;
      expect(matchLabels['app.kubernetes.io/instance']).toBe(id);
      expect(at(host, 'spec', 'template', 'metadata', 'labels')).toMatchObject(matchLabels);
      expect(pod.automountServiceAccountToken).toBe(false);
      expect(pod.enableServiceLinks).toBe(false);
    });

    it('has an upload directory and resource requests and limits', () => {
      const mounts = (first.volumeMounts as Json[]).map((v) => v.mountPath);
      expect(mounts).toContain('/var/lib/preevy');
      expect(at(first, 'resources', 'requests')).toBeDefined();
      expect(at(first, 'resources', 'limits')).toBeDefined();
    });

    it('still matches its selector after stamping', () => {
      const [stamped] = stampManifests([host], {
        envId,
        id,
        templateHash: m.hash,
        createdAt: new Date(),
        deployedBy: 'u',
      }) as [KubeObject];
      const matchLabels = at(stamped, 'spec', 'selector', 'matchLabels');
      expect(matchLabels).toEqual(at(host, 'spec', 'selector', 'matchLabels'));
      expect(at(stamped, 'spec', 'template', 'metadata', 'labels')).toMatchObject(matchLabels as Json);
    });
  });

  it('is deterministic for one context: the hash changes only when the output does', () => {
    const ctx = contexts['a push without PR data']!;
    const a = prepareManifests({ file, context: ctx, namespace: NS, scopeOf });
    const b = prepareManifests({ file, context: ctx, namespace: NS, scopeOf });
    const c = prepareManifests({
      file,
      context: { ...ctx, namespace: 'other' },
      namespace: 'other',
      scopeOf,
    });
    expect(a.hash).toBe(b.hash);
    expect(a.hash).not.toBe(c.hash);
  });
});

describe('default template', () => {
  const file = bundledTemplatePath('default', ROOT)!;
  const m = prepareManifests({ file, context: contexts['a push without PR data']!, namespace: NS, scopeOf });
  const pod = at(m.dockerHost, 'spec', 'template', 'spec') as Json;

  it('runs privileged with emptyDir storage for Docker and uploads', () => {
    expect(at(pod, 'containers', 0, 'securityContext', 'privileged')).toBe(true);
    const volumes = pod.volumes as Json[];
    expect(volumes.every((v) => v.emptyDir !== undefined)).toBe(true);
    const mounts = (at(pod, 'containers', 0, 'volumeMounts') as Json[]).map((v) => v.mountPath);
    expect(mounts).toEqual(['/var/lib/docker', '/var/lib/preevy']);
  });
});

describe('rootless-sysbox template', () => {
  const file = bundledTemplatePath('rootless-sysbox', ROOT)!;
  const m = prepareManifests({ file, context: contexts['a push without PR data']!, namespace: NS, scopeOf });
  const pod = at(m.dockerHost, 'spec', 'template', 'spec') as Json;

  it('runs unprivileged under the sysbox runtime with a user namespace', () => {
    expect(pod.runtimeClassName).toBe('sysbox-runc');
    expect(at(pod, 'containers', 0, 'securityContext', 'privileged')).toBeUndefined();
    expect(at(m.dockerHost, 'spec', 'template', 'metadata', 'annotations')).toEqual({
      'io.kubernetes.cri-o.userns-mode': 'auto:size=65536',
    });
  });
});

describe('bundledTemplatePath', () => {
  it('maps only the bundled names', () => {
    expect(bundledTemplatePath('default', '/a')).toBe(path.join('/a', 'templates', 'default.yaml.njk'));
    expect(bundledTemplatePath('./my.yaml.njk', '/a')).toBeUndefined();
  });
});

describe.each(BUNDLED_TEMPLATES)('exposure in the bundled template %s', (name) => {
  const file = bundledTemplatePath(name, ROOT)!;
  const services = [
    {
      name: 'api',
      port: 30100,
      targetPort: 8080,
      host: 'api-8080-shop-pr-7.pr.example.com',
      url: 'https://api-8080-shop-pr-7.pr.example.com',
    },
    {
      name: 'web',
      port: 8000,
      targetPort: 80,
      host: 'web-80-shop-pr-7.pr.example.com',
      url: 'https://web-80-shop-pr-7.pr.example.com',
    },
  ];
  const render = (extra: Partial<TemplateContext>) =>
    prepareManifests({
      file,
      context: { ...contexts['a push without PR data']!, services, ...extra },
      namespace: NS,
      scopeOf,
    }).objects;
  const kinds = (objects: KubeObject[]) => objects.map((o) => o.kind).sort();

  it('ingress: a ClusterIP Service on the published ports of the docker host pod, and one rule per URL', () => {
    const objects = render({ expose: 'ingress', ingressClass: 'nginx', tlsSecret: 'wildcard-tls' });
    expect(kinds(objects)).toEqual(['Deployment', 'Ingress', 'NetworkPolicy', 'Service']);
    const svc = objects.find((o) => o.kind === 'Service')!;
    const host = objects.find(isDockerHost)!;
    expect(at(svc, 'spec', 'type')).toBe('ClusterIP');
    // The Service must select the docker host's pod, or the Ingress has no endpoints.
    expect(at(host, 'spec', 'template', 'metadata', 'labels')).toMatchObject(
      at(svc, 'spec', 'selector') as Json,
    );
    expect(at(svc, 'spec', 'ports')).toEqual([
      { name: 'p30100', protocol: 'TCP', port: 30100, targetPort: 30100 },
      { name: 'p8000', protocol: 'TCP', port: 8000, targetPort: 8000 },
    ]);
    const ingress = objects.find((o) => o.kind === 'Ingress')!;
    expect(at(ingress, 'spec', 'ingressClassName')).toBe('nginx');
    expect(at(ingress, 'spec', 'tls')).toEqual([
      { secretName: 'wildcard-tls', hosts: services.map((s) => s.host) },
    ]);
    expect(at(ingress, 'spec', 'rules')).toEqual(
      services.map((s) => ({
        host: s.host,
        http: {
          paths: [
            {
              path: '/',
              pathType: 'Prefix',
              backend: { service: { name: svc.metadata.name, port: { number: s.port } } },
            },
          ],
        },
      })),
    );
    for (const o of objects) expect(o.metadata.namespace).toBe(NS);
    // Into the pod, only the published ports.
    const policy = objects.find((o) => o.kind === 'NetworkPolicy')!;
    expect(at(policy, 'spec', 'podSelector', 'matchLabels')).toEqual(at(svc, 'spec', 'selector'));
    expect(at(policy, 'spec', 'policyTypes')).toEqual(['Ingress']);
    expect(at(policy, 'spec', 'ingress')).toEqual([
      {
        ports: [
          { protocol: 'TCP', port: 30100 },
          { protocol: 'TCP', port: 8000 },
        ],
      },
    ]);
  });

  it('ingress without a class or TLS secret leaves both to the cluster', () => {
    const ingress = render({ expose: 'ingress' }).find((o) => o.kind === 'Ingress')!;
    expect(at(ingress, 'spec', 'ingressClassName')).toBeUndefined();
    expect(at(ingress, 'spec', 'tls')).toBeUndefined();
  });

  it('loadbalancer: one LoadBalancer Service and no Ingress', () => {
    const objects = render({ expose: 'loadbalancer' });
    expect(kinds(objects)).toEqual(['Deployment', 'NetworkPolicy', 'Service']);
    expect(
      at(
        objects.find((o) => o.kind === 'Service'),
        'spec',
        'type',
      ),
    ).toBe('LoadBalancer');
  });

  it('none, or no published ports: only the docker host, and nothing gets into its pod', () => {
    for (const objects of [render({ expose: 'none' }), render({ expose: 'ingress', services: [] })]) {
      expect(kinds(objects)).toEqual(['Deployment', 'NetworkPolicy']);
      expect(
        at(
          objects.find((o) => o.kind === 'NetworkPolicy'),
          'spec',
          'ingress',
        ),
      ).toEqual([]);
    }
  });

  it('a Preevy context (namespace and id only) renders the docker host and its closed NetworkPolicy', () => {
    const objects = prepareManifests({
      file,
      context: { namespace: NS, id, envId, labels: envLabels(envId, id) },
      namespace: NS,
      scopeOf,
    }).objects;
    expect(kinds(objects)).toEqual(['Deployment', 'NetworkPolicy']);
  });
});
