/**
 * Reading the compose project ignores the job's own Docker client setup: a current context (docker/setup-buildx-
 * action, `docker context use`) that does not exist here would otherwise make `docker compose config` fail.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { prepareCompose } from '../../../src/compose/prepare.js';
import { noopLog } from '../../../src/util/log.js';

const saved = { HOME: process.env.HOME, DOCKER_CONFIG: process.env.DOCKER_CONFIG };
beforeEach(() => {
  const home = mkdtempSync(path.join(tmpdir(), 'job-home-'));
  mkdirSync(path.join(home, '.docker'));
  writeFileSync(path.join(home, '.docker/config.json'), JSON.stringify({ currentContext: 'gone-builder' }));
  process.env.HOME = home;
  delete process.env.DOCKER_CONFIG;
});
afterEach(() => {
  process.env.HOME = saved.HOME;
  if (saved.DOCKER_CONFIG !== undefined) process.env.DOCKER_CONFIG = saved.DOCKER_CONFIG;
});

describe('prepareCompose with the job Docker config', () => {
  it('reads the project although the job selected a context that does not exist here', async () => {
    const wd = mkdtempSync(path.join(tmpdir(), 'proj-'));
    writeFileSync(path.join(wd, 'compose.yaml'), 'services:\n  web:\n    image: busybox:local\n');
    const prepared = await prepareCompose(
      { workingDirectory: wd, files: [], profiles: [], envFiles: [], projectName: 'p' },
      { allowOutside: false, log: noopLog },
    );
    expect(Object.keys(prepared.model.services)).toEqual(['web']);
  });
});
