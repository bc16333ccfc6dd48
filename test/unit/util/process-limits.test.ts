import { describe, expect, it } from 'vitest';
import { ActionError } from '../../../src/errors.js';
import { runProcess } from '../../../src/util/process.js';

const env = { PATH: process.env.PATH };

describe('runProcess captured stdout', () => {
  it('is bounded: a program printing without end is stopped with an error', async () => {
    const start = performance.now();
    const err = await runProcess('sh', ['-c', 'yes preevy'], {
      env,
      captureStdout: true,
      maxStdoutBytes: 1024 * 1024,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ActionError);
    expect((err as Error).message).toBe('sh -c printed more than 1048576 bytes; stopped it');
    expect(performance.now() - start).toBeLessThan(10_000);
  });

  it('has a default bound', async () => {
    const err = await runProcess('sh', ['-c', 'head -c 40000000 /dev/zero'], {
      env,
      captureStdout: true,
    }).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/printed more than 33554432 bytes/);
  });

  it('keeps characters that straddle two chunks whole', async () => {
    // 65535 ASCII bytes, then 3-byte characters: the first one splits at the 64 KiB pipe chunk boundary.
    const r = await runProcess('sh', ['-c', "head -c 65535 /dev/zero | tr '\\0' a; printf '€€€'"], {
      env,
      captureStdout: true,
    });
    expect(r.stdout.length).toBe(65535 + 3);
    expect(r.stdout.endsWith('€€€')).toBe(true);
    expect(r.stdout).not.toContain('\ufffd');
  });
});
