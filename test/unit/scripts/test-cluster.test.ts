/**
 * scripts/test-cluster.mjs: `npm run test:cluster` never passes by running nothing: without a cluster named it
 * refuses, saying how to name one.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const SCRIPT = path.join(import.meta.dirname, '../../../scripts/test-cluster.mjs');

function run(env: Record<string, string | undefined>) {
  const { PREVIEW_TEST_KUBECONFIG: _, ...rest } = process.env;
  return spawnSync(process.execPath, [SCRIPT], {
    encoding: 'utf8',
    env: { ...rest, ...env } as NodeJS.ProcessEnv,
  });
}

describe('npm run test:cluster', () => {
  it('refuses with no cluster named, saying how to name one', () => {
    const r = run({});
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/no cluster named/);
    expect(r.stderr).toMatch(/PREVIEW_TEST_KUBECONFIG/);
    expect(r.stdout).not.toMatch(/passed/);
  });

  it('refuses a kubeconfig it cannot read', () => {
    const r = run({ PREVIEW_TEST_KUBECONFIG: '/nonexistent/kubeconfig.yaml' });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/\/nonexistent\/kubeconfig\.yaml cannot be read/);
  });
});
