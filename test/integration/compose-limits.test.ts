import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { composeEnv, loadComposeModel } from '../../src/compose/model.js';
import { ActionError } from '../../src/errors.js';
import { type ProcessOptions, runProcess } from '../../src/util/process.js';
import { hasCompose } from './harness.js';

function project(compose: string) {
  const wd = mkdtempSync(path.join(tmpdir(), 'hostile-compose-'));
  writeFileSync(path.join(wd, 'compose.yaml'), compose);
  return { workingDirectory: wd, files: [], profiles: [], envFiles: [], projectName: 'p' };
}

/** The processes whose command line names the directory (compose gets it as --project-directory). */
function processesOf(dir: string): string[] {
  try {
    return execFileSync('pgrep', ['-f', dir], { encoding: 'utf8' }).trim().split('\n').filter(Boolean);
  } catch {
    return [];
  }
}

const env = composeEnv({ PATH: process.env.PATH, HOME: process.env.HOME });
/** The production limits, made small so the tests are quick. */
const limited =
  (over: Partial<ProcessOptions>): typeof runProcess =>
  (command, args, opts) =>
    runProcess(command, args, { ...opts, ...over });

describe.skipIf(!hasCompose)('a hostile compose file', () => {
  it('whose aliases expand without end is stopped at the time limit, compose plugin included', async () => {
    const lines = ['x-a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]'];
    for (let i = 1; i <= 9; i++)
      lines.push(
        `x-a${i}: &a${i} [${Array(10)
          .fill(`*a${i - 1}`)
          .join(', ')}]`,
      );
    const p = project(`${lines.join('\n')}\nservices:\n  web:\n    image: busybox\n`);
    const start = performance.now();
    const err = await loadComposeModel(p, env, limited({ timeoutMs: 3_000 })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ActionError);
    expect((err as ActionError).message).toMatch(
      /could not load compose\.yaml: docker compose did not finish/,
    );
    expect((err as ActionError).hint).toMatch(/aliases/);
    expect(performance.now() - start).toBeLessThan(10_000);
    // The docker CLI and its compose plugin ignore SIGTERM while compose spins: the group gets SIGKILL.
    for (let i = 0; i < 40 && processesOf(p.workingDirectory).length > 0; i++) await sleep(250);
    expect(processesOf(p.workingDirectory)).toEqual([]);
  });

  it('whose model is huge is refused once its output passes the limit', async () => {
    const depth = 1_500;
    const p = project(
      `x-deep: ${'['.repeat(depth)}${']'.repeat(depth)}\nservices:\n  web:\n    image: busybox\n`,
    );
    const err = await loadComposeModel(p, env, limited({ maxStdoutBytes: 1024 * 1024 })).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ActionError);
    expect((err as ActionError).message).toMatch(/printed more than 1048576 bytes/);
  });
});
