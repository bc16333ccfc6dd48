import { describe, expect, it } from 'vitest';
import type { ComposeModel } from '../../../src/compose/model.js';
import { rewriteForDockerHost } from '../../../src/compose/rewrite.js';
import { ActionError } from '../../../src/errors.js';
import { thrownBy } from '../support.js';

const WD = '/work/repo';
const model = (over: Partial<ComposeModel> = {}): ComposeModel => ({
  name: 'shop-pr-1',
  services: {
    web: {
      build: { context: `${WD}/app` },
      volumes: [
        { type: 'bind', source: `${WD}/conf`, target: '/etc/conf', read_only: true },
        { type: 'volume', source: 'data', target: '/data' },
        { type: 'tmpfs', target: '/tmp' },
        { type: 'bind', source: '/var/run/docker.sock', target: '/var/run/docker.sock' },
      ],
    },
  },
  secrets: { token: { file: `${WD}/secrets/token.txt` } },
  ...over,
});

describe('rewriteForDockerHost', () => {
  it('points bind sources and secret files into the docker host and lists them for upload', () => {
    const r = rewriteForDockerHost(model(), { workingDirectory: WD, envId: 'shop-pr-1' });
    expect(r.remoteDir).toBe('/var/lib/preevy/projects/shop-pr-1');
    const vols = r.model.services.web!.volumes!;
    expect(vols[0]).toMatchObject({ source: '/var/lib/preevy/projects/shop-pr-1/conf', read_only: true });
    expect(vols[1]).toEqual({ type: 'volume', source: 'data', target: '/data' });
    expect(vols[2]).toEqual({ type: 'tmpfs', target: '/tmp' });
    expect(vols[3]!.source).toBe('/var/run/docker.sock');
    expect(r.model.secrets!.token!.file).toBe('/var/lib/preevy/projects/shop-pr-1/secrets/token.txt');
    expect(r.uploads).toEqual(['conf', 'secrets/token.txt']);
  });

  it('does not change its input', () => {
    const m = model();
    const before = structuredClone(m);
    rewriteForDockerHost(m, { workingDirectory: WD, envId: 'x' });
    expect(m).toEqual(before);
  });

  it('refuses every path outside the working directory, naming each, unless allowed', () => {
    const m = model({
      services: {
        web: {
          build: { context: '/etc' },
          volumes: [{ type: 'bind', source: '/home/runner/.ssh', target: '/ssh' }],
        },
      },
      secrets: { key: { file: `${WD}/../outside.txt` } },
    });
    const msg = thrownBy(ActionError, () =>
      rewriteForDockerHost(m, { workingDirectory: WD, envId: 'x' }),
    ).userMessage;
    expect(msg).toContain('service "web" build.context: /etc');
    expect(msg).toContain('service "web" volume /ssh: /home/runner/.ssh');
    expect(msg).toContain('secret "key"');
    expect(msg).toContain('allow-outside-paths');
    const allowed = rewriteForDockerHost(m, { workingDirectory: WD, envId: 'x', allowOutside: true });
    expect(allowed.model.services.web!.volumes![0]!.source).toBe(
      '/var/lib/preevy/projects/x/_outside/home/runner/.ssh',
    );
  });
});
