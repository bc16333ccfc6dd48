import { describe, expect, it } from 'vitest';
import { type ContainerSnapshot, leftAsTheyWere, servicesBinding } from '../../../src/bridge/refresh.js';
import type { ComposeModel } from '../../../src/compose/model.js';

const DIR = '/var/lib/preevy/projects/shop-pr-1';

const model: ComposeModel = {
  name: 'shop-pr-1',
  services: {
    web: { volumes: [{ type: 'bind', source: `${DIR}/site`, target: '/www' }] },
    proxy: { volumes: [{ type: 'bind', source: `${DIR}/nginx.conf`, target: '/etc/nginx/nginx.conf' }] },
    api: { secrets: [{ source: 'token' }], configs: [{ source: 'settings' }] },
    db: { volumes: [{ type: 'volume', source: 'data', target: '/data' }] },
    sock: { volumes: [{ type: 'bind', source: '/var/run/docker.sock', target: '/var/run/docker.sock' }] },
    all: { volumes: [{ type: 'bind', source: DIR, target: '/src' }] },
  },
  secrets: { token: { file: `${DIR}/secrets/token.txt` } },
  configs: { settings: { file: `${DIR}/settings.yaml` } },
};

describe('servicesBinding', () => {
  it('names the services whose bind sources, file secrets or file configs hold a changed path', () => {
    expect(servicesBinding(model, DIR, ['site/index.html'])).toEqual(['all', 'web']);
    expect(servicesBinding(model, DIR, ['nginx.conf'])).toEqual(['all', 'proxy']);
    expect(servicesBinding(model, DIR, ['secrets/token.txt'])).toEqual(['all', 'api']);
    expect(servicesBinding(model, DIR, ['settings.yaml'])).toEqual(['all', 'api']);
    // A sibling whose name starts like a bind source is not under it.
    expect(servicesBinding(model, DIR, ['site-old/x.html'])).toEqual(['all']);
    expect(servicesBinding(model, DIR, [])).toEqual([]);
  });
});

describe('leftAsTheyWere', () => {
  const snap = (o: Record<string, Array<[string, string]>>): ContainerSnapshot =>
    new Map(Object.entries(o).map(([s, l]) => [s, l.map(([id, state]) => ({ id, state }))]));

  it('keeps the services whose running containers up did not touch', () => {
    const before = snap({ web: [['a', 'running']], proxy: [['b', 'running']], api: [['c', 'exited']] });
    const after = snap({ web: [['a', 'running']], proxy: [['b2', 'running']], api: [['c', 'running']] });
    // proxy was recreated by up, api was started by it: both read their files just now.
    expect(leftAsTheyWere(['web', 'proxy', 'api', 'new'], before, after)).toEqual(['web']);
    // Without a reading from before, every one of them.
    expect(leftAsTheyWere(['web', 'proxy'], undefined, after)).toEqual(['web', 'proxy']);
  });
});
