import { describe, expect, it } from 'vitest';
import { type ComposeProject, filesReadByCompose, loadComposeModel } from '../../../src/compose/model.js';
import type { ProcessOptions, ProcessResult } from '../../../src/util/process.js';

// biome-ignore lint/suspicious/noTemplateCurlyInString: compose interpolation, not a JS template
const WRITTEN = '${X}.env';

/** Inputs with shell metacharacters: each must stay one argument, as written. */
const project: ComposeProject = {
  workingDirectory: '/w/my project;$(id)',
  files: ['compose.yaml', 'over ride;`id`.yaml'],
  profiles: ['debug|tee /tmp/x', '&& rm -rf /'],
  envFiles: ['.env $(whoami)'],
  projectName: 'shop-pr-7',
};

function recorder(stdout: (args: string[]) => unknown) {
  const calls: Array<{ command: string; args: string[]; opts: ProcessOptions }> = [];
  const run = async (command: string, args: string[], opts: ProcessOptions): Promise<ProcessResult> => {
    calls.push({ command, args, opts });
    return { code: 0, stdout: JSON.stringify(stdout(args)), stderrTail: [] };
  };
  return { calls, run };
}

/** The selection's env file, name and directory: the probe of the env files' paths keeps these. */
const envAndProject = [
  '--env-file',
  '.env $(whoami)',
  '--project-name',
  'shop-pr-7',
  '--project-directory',
  '/w/my project;$(id)',
];
const selection = [
  '--file',
  'compose.yaml',
  '--file',
  'over ride;`id`.yaml',
  '--profile',
  'debug|tee /tmp/x',
  '--profile',
  '&& rm -rf /',
  ...envAndProject,
];

describe('docker compose argv', () => {
  it('keeps every input one argument and runs in the working directory, without a shell', async () => {
    const { calls, run } = recorder(() => ({ name: 'p', services: { web: { image: 'x' } } }));
    await loadComposeModel(project, { PATH: '/bin' }, run);
    expect(calls).toHaveLength(1);
    expect(calls[0]!.command).toBe('docker');
    expect(calls[0]!.args).toEqual(['compose', ...selection, 'config', '--format', 'json']);
    expect(calls[0]!.opts).toMatchObject({ cwd: project.workingDirectory, captureStdout: true });
    expect(calls[0]!.opts.timeoutMs).toBeGreaterThan(0);
  });

  it('reads the env files without interpolation, and interpolates their paths through compose on stdin', async () => {
    const { calls, run } = recorder((args) =>
      args.includes('-')
        ? { name: 'p', services: { probe: { labels: { v0: '/w/x.env' } } } }
        : {
            name: 'p',
            services: {
              'hostile--name': {
                env_file: [{ path: args.includes('--no-path-resolution') ? WRITTEN : `/w/${WRITTEN}` }],
              },
            },
          },
    );
    const reads = await filesReadByCompose(project, { PATH: '/bin' }, run);
    expect(reads).toEqual([
      { where: 'service "hostile--name" env_file', path: '/w/x.env', written: WRITTEN },
    ]);
    expect(calls.map((c) => c.args.slice(-3))).toEqual([
      ['--format', 'json', '--no-interpolate'],
      ['json', '--no-interpolate', '--no-path-resolution'],
      ['config', '--format', 'json'],
    ]);
    const probe = calls[2]!;
    expect(probe.args).toEqual(['compose', '--file', '-', ...envAndProject, 'config', '--format', 'json']);
    expect(JSON.parse(probe.opts.input!)).toEqual({
      name: 'shop-pr-7',
      services: { probe: { image: 'probe', labels: { v0: WRITTEN } } },
    });
  });
});
