import { describe, expect, it } from 'vitest';
import { ActionError } from '../../../src/errors.js';
import { cleanDockerEnv, runProcess } from '../../../src/util/process.js';

const env = { PATH: process.env.PATH };

describe('runProcess', () => {
  it('streams every line as it comes and keeps the tail of stderr', async () => {
    const lines: string[] = [];
    const r = await runProcess(
      'sh',
      ['-c', 'for i in 1 2 3 4 5; do echo out$i; echo err$i >&2; done; exit 3'],
      {
        env,
        tailLines: 2,
        onLine: (l, s) => lines.push(`${s}:${l}`),
      },
    );
    expect(r.code).toBe(3);
    expect(r.stderrTail).toEqual(['err4', 'err5']);
    expect(lines.filter((l) => l.startsWith('stdout:'))).toEqual([
      'stdout:out1',
      'stdout:out2',
      'stdout:out3',
      'stdout:out4',
      'stdout:out5',
    ]);
  });

  it('passes arguments without a shell: metacharacters from a PR stay text', async () => {
    const r = await runProcess('printf', ['%s', '$(touch /tmp/pwned); `id` | rm -rf /'], {
      env,
      captureStdout: true,
    });
    expect(r.stdout).toBe('$(touch /tmp/pwned); `id` | rm -rf /');
  });

  it('a missing program is a clear error', async () => {
    const err = await runProcess('no-such-program-xyz', [], { env }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ActionError);
    expect((err as Error).message).toBe('no-such-program-xyz is not installed or not on PATH');
  });
});

describe('cleanDockerEnv', () => {
  it('drops DOCKER_* and COMPOSE_* settings of the runner and points DOCKER_HOST at the tunnel', () => {
    const out = cleanDockerEnv(
      {
        PATH: '/bin',
        DOCKER_HOST: 'unix:///var/run/docker.sock',
        DOCKER_TLS_VERIFY: '1',
        COMPOSE_FILE: 'x.yml',
      },
      'tcp://127.0.0.1:41234',
    );
    expect(out).toEqual({ PATH: '/bin', DOCKER_HOST: 'tcp://127.0.0.1:41234' });
  });
});
