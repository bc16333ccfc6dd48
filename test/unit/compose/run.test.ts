import { describe, expect, it } from 'vitest';
import { composeUp } from '../../../src/compose/run.js';
import type { runProcess } from '../../../src/util/process.js';
import { captureLog } from '../../integration/harness.js';

const project = { workingDirectory: '/w', files: [], profiles: [], envFiles: [], projectName: 'shop-pr-1' };

describe('composeUp', () => {
  it("prints the build's output between stop-commands markers, so PR text cannot run workflow commands", async () => {
    const log = captureLog();
    const run = (async (_cmd, _args, opts) => {
      opts?.onLine?.('::set-output name=url::https://evil.example', 'stdout');
      opts?.onLine?.('step 1 ##[add-mask]x', 'stdout');
      return { code: 0, stdout: '', stderrTail: [] };
    }) as typeof runProcess;
    await composeUp({ project, model: { name: 'p', services: { web: {} } }, env: {}, log, run });
    const first = log.lines[0]!;
    const token = /^::stop-commands::(.+)$/.exec(first)?.[1];
    expect(token).toMatch(/^[0-9a-f-]{36}$/);
    expect(log.lines.at(-1)).toBe(`::${token}::`);
    expect(log.lines.slice(1, -1)).toContain('::set-output name=url::https://evil.example');
  });

  it('asks for the logs of a service named like an option after `--`', async () => {
    const calls: string[][] = [];
    const run = (async (_cmd, args) => {
      calls.push(args);
      if (args.includes('up')) return { code: 1, stdout: '', stderrTail: ['failed'] };
      if (args.includes('ps'))
        return { code: 0, stdout: '{"Service":"--follow","State":"exited","ExitCode":1}\n', stderrTail: [] };
      return { code: 0, stdout: 'last line\n', stderrTail: [] };
    }) as typeof runProcess;
    await expect(
      composeUp({
        project,
        model: { name: 'p', services: { '--follow': {} } },
        env: {},
        log: captureLog(),
        run,
      }),
    ).rejects.toThrow(/Last log lines of --follow:\nlast line/);
    const logs = calls.find((a) => a.includes('logs'))!;
    expect(logs.slice(-2)).toEqual(['--', '--follow']);
  });
});
