import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dockerJson } from './api.js';
import { type Engine, startEngine } from './engines.js';
import { ensureBusyboxImage } from './images.js';
import {
  collect,
  containerResult,
  dockerUnavailable,
  httpGet,
  leftovers,
  runContainer,
  tcp,
} from './support.js';
import { tarStream } from './tar.js';

const unavailable = dockerUnavailable();

describe.skipIf(unavailable)(
  `docker engines for pods${unavailable ? ` (skipped: ${unavailable})` : ''}`,
  () => {
    let a: Engine;
    let b: Engine;

    beforeAll(async () => {
      const t0 = Date.now();
      [a, b] = await Promise.all([
        startEngine({ name: 'test/engine-a' }),
        startEngine({ name: 'test/engine-b' }),
      ]);
      const t1 = Date.now();
      await Promise.all([ensureBusyboxImage(a), ensureBusyboxImage(b)]);
      console.info(
        `two engines started in ${t1 - t0} ms, busybox image built in both in ${Date.now() - t1} ms`,
      );
    });

    afterAll(async () => {
      await Promise.all([a?.stop(), b?.stop()]);
    });

    it('gives each engine its own address, netns and socket', () => {
      expect(a.ip).not.toBe(b.ip);
      expect(a.netns).not.toBe(b.netns);
      expect(a.socketPath).not.toBe(b.socketPath);
      expect(fs.existsSync(a.socketPath)).toBe(true);
      expect(a.tcpPort).toBe(2375);
    });

    it('answers on each engine ip with its own container on the same published port', async () => {
      const serve = (text: string) => [
        'sh',
        '-c',
        `mkdir -p /www && echo ${text} > /www/index.html && exec httpd -f -p 8080 -h /www`,
      ];
      await Promise.all([
        runContainer(a, { cmd: serve('from-engine-a'), ports: [8080] }),
        runContainer(b, { cmd: serve('from-engine-b'), ports: [8080] }),
      ]);
      expect((await httpGet(a.ip, 8080, '/index.html')).trim()).toBe('from-engine-a');
      expect((await httpGet(b.ip, 8080, '/index.html')).trim()).toBe('from-engine-b');
    });

    it('rebuilding the busybox image is a no-op', async () => {
      expect(await ensureBusyboxImage(a)).toBe(false);
    });

    it('exec tar x into the pod lands where the engine bind-mounts from', async () => {
      const untar = a.exec(['sh', '-c', 'mkdir -p /var/lib/preevy/x && tar x -C /var/lib/preevy/x'], {
        stdin: tarStream([
          { type: 'dir', name: 'sub' },
          { type: 'file', name: 'sub/hello.txt', data: 'hello through exec\n' },
        ]),
      });
      const res = await collect(untar);
      expect(res).toMatchObject({ code: 0, stderr: '' });
      // The pod's /var/lib/preevy is its own: the host's is only the (empty) mount point.
      expect(fs.existsSync(path.join(a.podRoot, 'preevy/x/sub/hello.txt'))).toBe(true);
      expect(fs.existsSync('/var/lib/preevy/x')).toBe(false);

      const id = await runContainer(a, {
        cmd: ['cat', '/data/sub/hello.txt'],
        binds: ['/var/lib/preevy/x:/data'],
        tty: true,
      });
      expect(await containerResult(a, id)).toEqual({ code: 0, output: 'hello through exec\r\n' });

      // Engine b has its own /var/lib/preevy: the same bind shows nothing there.
      const other = await runContainer(b, {
        cmd: ['ls', '/data'],
        binds: ['/var/lib/preevy/x:/data'],
        tty: true,
      });
      expect(await containerResult(b, other)).toEqual({ code: 0, output: '' });
    });

    it("exec reaches the pod's own docker socket and network", async () => {
      const res = await collect(a.exec(['sh', '-c', 'test -S /var/run/docker.sock && ip -o -4 addr show']));
      expect(res.code).toBe(0);
      expect(res.stdout).toContain(`${a.ip}/24`);
      expect(res.stdout).not.toContain(b.ip);
    });

    it('exec of a command missing from the pod fails like a spawn', async () => {
      const res = await collect(a.exec(['no-such-command', '--version']));
      expect(res.error?.code).toBe('ENOENT');
      expect(res.error?.message).toContain('exec: "no-such-command": executable file not found in $PATH');
    });

    it('stop() removes containers, processes, netns, veth, cgroups, mounts and directories', async () => {
      const containers = await dockerJson<unknown[]>(tcp(b), 'GET', '/containers/json?all=1');
      expect(containers.length).toBeGreaterThan(0);
      const t0 = Date.now();
      await Promise.all([a.stop(), b.stop()]);
      console.info(`two engines stopped in ${Date.now() - t0} ms`);
      expect(leftovers(a)).toEqual([]);
      expect(leftovers(b)).toEqual([]);
      expect(a.isRunning()).toBe(false);
      expect(() => a.exec(['true'])).toThrow(/not running/);
      await expect(a.stop()).resolves.toBeUndefined();
    });
  },
);
