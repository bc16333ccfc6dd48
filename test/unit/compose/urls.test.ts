import { describe, expect, it } from 'vitest';
import type { ComposeModel } from '../../../src/compose/model.js';
import {
  checkDistinctHosts,
  loadBalancerUrls,
  pinPorts,
  serviceUrls,
  shortenLabel,
} from '../../../src/compose/urls.js';

const model: ComposeModel = {
  name: 'p',
  services: {
    web: { ports: [{ target: 80, published: '8080' }, { target: 9000 }] },
    api: { ports: [{ target: 3000 }] },
  },
};

describe('pinPorts', () => {
  it('keeps published ports and pins random ones, the same on every push', () => {
    const a = pinPorts(model);
    const b = pinPorts(structuredClone(model));
    expect(a.ports).toEqual(b.ports);
    expect(a.ports.find((p) => p.target === 80)?.published).toBe(8080);
    for (const p of a.ports.filter((x) => x.target !== 80)) {
      expect(p.published).toBeGreaterThanOrEqual(30000);
      expect(p.published).toBeLessThan(32768);
    }
    expect(a.model.services.api!.ports![0]!.published).toBe(
      String(a.ports.find((p) => p.service === 'api')!.published),
    );
    expect(model.services.api!.ports![0]!.published).toBeUndefined();
  });
});

describe('serviceUrls', () => {
  const ports = pinPorts(model).ports;
  it('renders the default template into valid hostnames', () => {
    const urls = serviceUrls(ports, {
      template: 'https://{service}-{port}-{envId}.{domain}',
      envId: 'shop-pr-1',
      domain: 'preview.example.com',
    });
    expect(urls.map((u) => u.url)).toContain('https://web-80-shop-pr-1.preview.example.com');
    expect(urls).toHaveLength(3);
  });

  it('sanitizes hostile service names and shortens long labels with a hash', () => {
    const urls = serviceUrls(
      [{ service: 'Evil<script>_$(id)', target: 80, published: 80, protocol: 'tcp' }],
      {
        template: 'https://{service}-{port}-{envId}.{domain}',
        envId: 'x'.repeat(63),
        domain: 'example.com',
      },
    );
    const label = urls[0]!.host.split('.')[0]!;
    expect(label.length).toBeLessThanOrEqual(63);
    expect(label).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
    expect(label.startsWith('evil-script-id-80-')).toBe(true);
    expect(shortenLabel(label)).toBe(label);
  });
});

describe('checkDistinctHosts', () => {
  it('refuses two ports that would share a host name, naming both', () => {
    const ports = [
      { service: 'my_api', target: 80, published: 30001, protocol: 'tcp' },
      { service: 'my-api', target: 80, published: 30002, protocol: 'tcp' },
    ];
    const urls = serviceUrls(ports, {
      template: 'https://{service}-{port}-{envId}.{domain}',
      envId: 'e',
      domain: 'x.io',
    });
    expect(() => checkDistinctHosts(urls)).toThrow(/same host my-api-80-e\.x\.io to my_api:80 and my-api:80/);
    expect(() => checkDistinctHosts(urls.slice(0, 1))).not.toThrow();
  });
});

describe('loadBalancerUrls', () => {
  it('points every TCP port at the balancer address and its published port', () => {
    const ports = [
      { service: 'web', target: 80, published: 8000, protocol: 'tcp' },
      { service: 'dns', target: 53, published: 30053, protocol: 'udp' },
    ];
    expect(loadBalancerUrls(ports, '203.0.113.7')).toEqual([
      { service: 'web', port: 80, published: 8000, host: '203.0.113.7', url: 'http://203.0.113.7:8000' },
    ]);
    expect(loadBalancerUrls(ports, '2001:db8::1')[0]!.url).toBe('http://[2001:db8::1]:8000');
  });
});
