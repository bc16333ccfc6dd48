import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { pruneDocker } from '../../../src/bridge/prune.js';

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;
let server: http.Server | undefined;

/** A stand-in dockerd: answers the two prune requests as `handler` says, and records them. */
async function dockerd(handler: Handler): Promise<{ host: string; seen: string[] }> {
  const seen: string[] = [];
  server = http.createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    handler(req, res);
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  return { host: `tcp://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

afterEach(async () => {
  const s = server;
  server = undefined;
  if (s) await new Promise((r) => s.close(r));
});

const capture = () => {
  const lines: string[] = [];
  return {
    lines,
    log: {
      info: (m: string) => void lines.push(m),
      warning: (m: string) => void lines.push(`warning: ${m}`),
      debug: () => {},
    },
  };
};

describe('pruneDocker', () => {
  it('asks dockerd to keep half of storage-size of build cache and to remove dangling images, and logs what went', async () => {
    const d = await dockerd((req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(
        req.url!.startsWith('/build/prune')
          ? JSON.stringify({ CachesDeleted: ['a', 'b'], SpaceReclaimed: 3 * 2 ** 30 })
          : JSON.stringify({
              ImagesDeleted: [{ Untagged: 'x' }, { Deleted: 'sha256:1' }],
              SpaceReclaimed: 5 * 2 ** 20,
            }),
      );
    });
    const { lines, log } = capture();
    const result = await pruneDocker(d.host, { size: '20Gi', bytes: 20 * 2 ** 30 }, log);
    expect(result).toEqual({ cacheBytes: 3 * 2 ** 30, images: 1, imageBytes: 5 * 2 ** 20 });
    const keep = String(10 * 2 ** 30);
    expect(d.seen.sort()).toEqual([
      `POST /build/prune?keep-storage=${keep}&reserved-space=${keep}&max-used-space=${keep}`,
      `POST /images/prune?filters=${encodeURIComponent('{"dangling":["true"]}')}`,
    ]);
    expect(lines).toEqual([
      "Pruned the environment's Docker: 3 GiB of build cache above 10 GiB (20Gi storage-size, half kept for the next build), 1 dangling image(s) (5 MiB).",
    ]);
  });

  it('a prune that fails is a warning, never an error', async () => {
    const d = await dockerd((_req, res) => {
      res.statusCode = 500;
      res.end('{"message":"a prune operation is already running"}');
    });
    const { lines, log } = capture();
    await expect(pruneDocker(d.host, { size: '20Gi', bytes: 20 * 2 ** 30 }, log)).resolves.toBeUndefined();
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^warning: Could not prune the environment's Docker: the build cache: POST \/build\/prune: HTTP 500: .*already running.*; the dangling images: POST \/images\/prune: HTTP 500/,
    );
  });

  it('nothing listening is a warning too', async () => {
    const d = await dockerd(() => {});
    await new Promise((r) => server!.close(r));
    server = undefined;
    const { lines, log } = capture();
    await expect(pruneDocker(d.host, { size: '1Gi', bytes: 2 ** 30 }, log)).resolves.toBeUndefined();
    expect(lines[0]).toMatch(/^warning: Could not prune the environment's Docker: .*ECONNREFUSED/);
  });
});
