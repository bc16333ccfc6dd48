import { existsSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { composeUp } from '../../../src/compose/run.js';
import type { runProcess } from '../../../src/util/process.js';
import { captureLog } from '../../integration/harness.js';

const project = { workingDirectory: '/w', files: [], profiles: [], envFiles: [], projectName: 'shop-pr-1' };
const AUTH = Buffer.from('robot:s3cr3t-registry-password').toString('base64');

/** A job's Docker config as docker/login-action and docker/setup-buildx-action leave it. */
function jobDockerConfig(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'job-docker-config-'));
  writeFileSync(
    path.join(dir, 'config.json'),
    JSON.stringify({
      auths: { 'registry.example.com': { auth: AUTH } },
      credHelpers: { '123456789012.dkr.ecr.eu-west-1.amazonaws.com': 'ecr-login' },
      currentContext: 'elsewhere',
      aliases: { builder: 'buildx' },
      proxies: { default: { httpProxy: 'http://proxy.example:3128' } },
    }),
  );
  mkdirSync(path.join(dir, 'buildx', 'instances'), { recursive: true });
  writeFileSync(
    path.join(dir, 'buildx', 'current'),
    JSON.stringify({ Key: 'unix:///var/run/docker.sock', Name: 'builder-1', Global: false }),
  );
  return dir;
}

interface Seen {
  env: NodeJS.ProcessEnv;
  config: Record<string, unknown>;
  mode: number;
  dirMode: number;
}

describe("compose's Docker config", () => {
  it("carries the job's registry logins in a private 0600 file that is gone afterwards, and selects no builder", async () => {
    const jobDir = jobDockerConfig();
    let seen: Seen | undefined;
    const run = (async (_cmd, _args, opts) => {
      const dir = opts.env.DOCKER_CONFIG!;
      const file = path.join(dir, 'config.json');
      seen = {
        env: opts.env,
        config: JSON.parse(readFileSync(file, 'utf8')),
        mode: statSync(file).mode & 0o777,
        dirMode: statSync(dir).mode & 0o777,
      };
      return { code: 0, stdout: '', stderrTail: [] };
    }) as typeof runProcess;
    const log = captureLog();
    await composeUp({
      project,
      model: { name: 'p', services: { web: {} } },
      env: { PATH: '/usr/bin', DOCKER_HOST: 'tcp://127.0.0.1:2375', BUILDX_BUILDER: 'builder-1' },
      jobEnv: {
        DOCKER_CONFIG: jobDir,
        BUILDX_BUILDER: 'builder-1',
        BUILDKIT_HOST: 'tcp://buildkit:1234',
        RUNNER_TEMP: tmpdir(),
      },
      log,
      run,
    });
    expect(seen).toBeDefined();
    const { env, config, mode, dirMode } = seen!;
    expect(env.DOCKER_CONFIG).not.toBe(jobDir);
    expect(env.DOCKER_HOST).toBe('tcp://127.0.0.1:2375');
    expect(env).not.toHaveProperty('BUILDX_BUILDER');
    expect(env).not.toHaveProperty('BUILDKIT_HOST');
    expect(env).not.toHaveProperty('DOCKER_CONTEXT');
    // Logins as the job made them; no context, no proxies, no aliases; the job's plugins still found.
    expect(config).toEqual({
      auths: { 'registry.example.com': { auth: AUTH } },
      credHelpers: { '123456789012.dkr.ecr.eu-west-1.amazonaws.com': 'ecr-login' },
      cliPluginsExtraDirs: [path.join(jobDir, 'cli-plugins')],
    });
    expect(existsSync(path.join(env.DOCKER_CONFIG!, 'buildx'))).toBe(false);
    expect(mode).toBe(0o600);
    expect(dirMode).toBe(0o700);
    expect(existsSync(env.DOCKER_CONFIG!)).toBe(false);
    expect(log.lines.join('\n')).not.toContain(AUTH);
  });

  it('is removed when compose fails too', async () => {
    let dir = '';
    const run = (async (_cmd, args, opts) => {
      dir = opts.env.DOCKER_CONFIG!;
      if (args.includes('up')) return { code: 1, stdout: '', stderrTail: ['failed to solve: x'] };
      return { code: 0, stdout: '', stderrTail: [] };
    }) as typeof runProcess;
    await expect(
      composeUp({
        project,
        model: { name: 'p', services: { web: {} } },
        env: {},
        jobEnv: { DOCKER_CONFIG: jobDockerConfig() },
        log: captureLog(),
        run,
      }),
    ).rejects.toThrow(/docker compose build failed/);
    expect(dir).toMatch(/preevy-docker-config-/);
    expect(existsSync(dir)).toBe(false);
  });

  it('uses ~/.docker without DOCKER_CONFIG, and a job without a config gets an empty one', async () => {
    const home = mkdtempSync(path.join(tmpdir(), 'home-'));
    mkdirSync(path.join(home, '.docker'));
    writeFileSync(
      path.join(home, '.docker', 'config.json'),
      JSON.stringify({ credsStore: 'pass', auths: { 'ghcr.io': {} } }),
    );
    const configs: Array<Record<string, unknown>> = [];
    const run = (async (_cmd, _args, opts) => {
      configs.push(JSON.parse(readFileSync(path.join(opts.env.DOCKER_CONFIG!, 'config.json'), 'utf8')));
      return { code: 0, stdout: '', stderrTail: [] };
    }) as typeof runProcess;
    const up = (jobEnv: NodeJS.ProcessEnv) =>
      composeUp({ project, model: { name: 'p', services: {} }, env: {}, jobEnv, log: captureLog(), run });
    await up({ HOME: home });
    await up({ HOME: mkdtempSync(path.join(tmpdir(), 'home-')) });
    expect(configs[0]).toMatchObject({ credsStore: 'pass', auths: { 'ghcr.io': {} } });
    expect(configs[1]).not.toHaveProperty('auths');
  });

  it('a config.json that is not JSON is a warning that does not quote it', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'job-docker-config-'));
    writeFileSync(path.join(dir, 'config.json'), `{"auths": {"r": {"auth": "${AUTH}"}`);
    const log = captureLog();
    const run = (async () => ({ code: 0, stdout: '', stderrTail: [] })) as unknown as typeof runProcess;
    await composeUp({
      project,
      model: { name: 'p', services: {} },
      env: {},
      jobEnv: { DOCKER_CONFIG: dir },
      log,
      run,
    });
    expect(log.lines.join('\n')).toMatch(/config\.json is not a JSON object/);
    expect(log.lines.join('\n')).not.toContain(AUTH);
  });
});
