/**
 * The README's first command ends in `npm run demo`: the bundled action (dist/index.js, which CI checks against
 * the source) through a PR's opened, synchronize and closed on the simulators. Its own checks decide its exit
 * code (the services answer, nothing but the tombstone is left); this test runs it as a user would.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { dockerUnavailable } from '../sim/kubelet/docker/support.js';
import { ACTION_ROOT, runNode } from './support.js';

const skip = dockerUnavailable();

describe.skipIf(skip !== undefined)(`the demo${skip ? ` (skipped: ${skip})` : ''}`, () => {
  it('deploys, updates and removes a PR environment, and exits 0', async () => {
    const { code, out } = await runNode(['--import', 'tsx', path.join(ACTION_ROOT, 'scripts/demo.ts')]);
    expect(code, out.slice(-4000)).toBe(0);
    expect(out).toMatch(
      /GET https:\/\/web-80-shop-pr-42\.preview\.test\/index\.html -> 200 Hello from the preview/,
    );
    expect(out).toMatch(/-> 200 Hello again, after a push,/);
    expect(out).toContain('objects of shop-pr-42 after close: none');
    expect(out).toContain('The preview environment was deleted');
  }, 300_000);
});
