import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { cleanStale, SIM_DOCKER_ROOT, startEngine } from './engines.js';
import { ensureBusyboxImage } from './images.js';
import { dockerUnavailable, leftovers, runContainer } from './support.js';

const unavailable = dockerUnavailable();

describe.skipIf(unavailable)(
  `leftovers of crashed runs${unavailable ? ` (skipped: ${unavailable})` : ''}`,
  () => {
    it('cleanStale removes an engine whose owner died, running containers and all', async () => {
      const engine = await startEngine({ name: 'test/crashed' });
      try {
        await ensureBusyboxImage(engine);
        await runContainer(engine, { cmd: ['sleep', '1000'] });
        // Pretend the process that owns the engine crashed: its claim now names a dead pid.
        const dead = spawnSync('true').pid;
        fs.writeFileSync(
          path.join(SIM_DOCKER_ROOT, 'claims', String(engine.index)),
          JSON.stringify({ pid: dead, start: '0', name: 'test/crashed', nonce: 'crashed' }),
        );
        expect(cleanStale()).toContain(engine.index);
        // dockerd is this process's child here (in a real crash it is not): it is reaped once the loop runs.
        await engine.exited;
        expect(leftovers(engine)).toEqual([]);
      } finally {
        // Harmless after the sweep: nothing left and the claim is not ours any more.
        await engine.stop();
      }
    });

    it('refuses an index that a live engine holds', async () => {
      const engine = await startEngine({ name: 'test/holder', dockerd: false });
      try {
        await expect(startEngine({ name: 'test/intruder', index: engine.index })).rejects.toThrow(
          /in use by pid \d+ \(test\/holder\)/,
        );
      } finally {
        await engine.stop();
      }
      expect(leftovers(engine)).toEqual([]);
    });
  },
);
