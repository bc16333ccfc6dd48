import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { containersDiffer } from '../../../src/bridge/running.js';
import type { ComposeModel } from '../../../src/compose/model.js';

interface Container {
  service: string;
  state?: string;
  status?: string;
  oneoff?: boolean;
}

/** Against a fake Docker API that lists `containers` and records the label filter it was asked for. */
describe('containersDiffer', () => {
  let containers: Container[] = [];
  let filters: string[] = [];
  let server: http.Server;
  let host: string;
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://docker');
      filters.push(url.searchParams.get('filters') ?? '');
      res.setHeader('content-type', 'application/json');
      res.end(
        JSON.stringify(
          containers.map((c) => ({
            Labels: {
              'com.docker.compose.project': 'shop-pr-1',
              'com.docker.compose.service': c.service,
              ...(c.oneoff ? { 'com.docker.compose.oneoff': 'True' } : {}),
            },
            State: c.state ?? 'running',
            Status: c.status ?? 'Up 2 minutes',
          })),
        ),
      );
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    host = `tcp://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const model: ComposeModel = {
    name: 'shop-pr-1',
    services: {
      web: { image: 'web', deploy: { replicas: 2 } },
      api: { image: 'api', healthcheck: { test: ['CMD', 'true'] } },
      off: { image: 'off', scale: 0 },
    },
  };
  const check = (list: Container[]) => {
    containers = list;
    filters = [];
    return containersDiffer(host, 'shop-pr-1', model);
  };

  it('is satisfied by every replica running, healthy where checked, one-off containers aside', async () => {
    expect(
      await check([
        { service: 'web' },
        { service: 'web' },
        { service: 'api', status: 'Up 1 minute (healthy)' },
        { service: 'web', state: 'exited', oneoff: true },
      ]),
    ).toBeUndefined();
    expect(JSON.parse(filters[0] ?? '{}')).toEqual({ label: ['com.docker.compose.project=shop-pr-1'] });
  });

  it('names what differs: a missing replica, an exited or unhealthy container, an orphan', async () => {
    const api = { service: 'api', status: 'Up (healthy)' };
    expect(await check([{ service: 'web' }, api])).toBe('service web: 1 of 2 container(s) running');
    expect(await check([{ service: 'web' }, { service: 'web', state: 'exited' }, api])).toBe(
      'service web: 1 of 2 container(s) running',
    );
    expect(
      await check([{ service: 'web' }, { service: 'web' }, { service: 'api', status: 'Up (unhealthy)' }]),
    ).toBe('service api: 0 of 1 container(s) running and healthy');
    expect(await check([{ service: 'web' }, { service: 'web' }, api, { service: 'old' }])).toBe(
      'containers of services no longer in the project: old',
    );
  });
});
