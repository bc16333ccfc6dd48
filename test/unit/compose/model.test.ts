import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadComposeModel } from '../../../src/compose/model.js';
import { ActionError } from '../../../src/errors.js';
import { hasCompose } from '../support.js';

function project(files: Record<string, string>): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'compose-'));
  for (const [f, text] of Object.entries(files)) writeFileSync(path.join(dir, f), text);
  return dir;
}

// `docker compose config` needs no Docker engine: only the compose plugin (installed by scripts/setup.sh).
describe.skipIf(!hasCompose)('loadComposeModel', () => {
  const env = { PATH: process.env.PATH, HOME: process.env.HOME };

  it('loads the model with absolute paths, the project name and the selected profile', async () => {
    const dir = project({
      'compose.yaml':
        'services:\n  web:\n    image: busybox:local\n    volumes: ["./conf:/c"]\n  debug:\n    image: busybox:local\n    profiles: [debug]\n',
    });
    const base = { workingDirectory: dir, files: [], envFiles: [], projectName: 'shop-pr-1' };
    const m = await loadComposeModel({ ...base, profiles: [] }, env);
    expect(m.name).toBe('shop-pr-1');
    expect(Object.keys(m.services)).toEqual(['web']);
    expect(m.services.web!.volumes![0]!.source).toBe(path.join(dir, 'conf'));
    const withDebug = await loadComposeModel({ ...base, profiles: ['debug'] }, env);
    expect(Object.keys(withDebug.services).sort()).toEqual(['debug', 'web']);
  });

  it("a compose file that does not parse fails with compose's own message, naming the file", async () => {
    const dir = project({ 'compose.yaml': 'services:\n  web:\n    image: [unclosed\n' });
    const err = await loadComposeModel(
      { workingDirectory: dir, files: [], profiles: [], envFiles: [], projectName: 'p' },
      env,
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ActionError);
    expect((err as ActionError).message).toMatch(/compose\.yaml/);
    expect((err as ActionError).hint).toMatch(/compose-files/);
  });
});
