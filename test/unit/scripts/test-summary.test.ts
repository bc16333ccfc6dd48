/**
 * scripts/test-summary.mjs: the last line of .ci/run is vitest's own count, and a run that executed nothing, or left
 * no report, fails instead of passing for one that did.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const SCRIPT = path.join(import.meta.dirname, '../../../scripts/test-summary.mjs');

function summary(...reports: Array<object | undefined>) {
  const dir = mkdtempSync(path.join(tmpdir(), 'summary-'));
  const files = reports.map((report, i) => {
    const file = path.join(dir, `report-${i}.json`);
    if (report) writeFileSync(file, JSON.stringify(report));
    return file;
  });
  const r = spawnSync(process.execPath, [SCRIPT, ...files], { encoding: 'utf8' });
  return { status: r.status, last: r.stdout.trimEnd().split('\n').at(-1), stderr: r.stderr };
}

const report = (passed: number, failed: number, pending: number, success = failed === 0) => ({
  numTotalTests: passed + failed + pending,
  numPassedTests: passed,
  numFailedTests: failed,
  numPendingTests: pending,
  numTodoTests: 0,
  success,
});

describe('test summary', () => {
  it('prints vitest counts as the plain line CI reads', () => {
    expect(summary(report(746, 0, 1))).toMatchObject({
      status: 0,
      last: 'tests: 746 passed, 0 failed, 1 skipped',
    });
  });

  it('fails on a failed test, and on a run with errors though every test passed', () => {
    expect(summary(report(10, 2, 0))).toMatchObject({
      status: 1,
      last: 'tests: 10 passed, 2 failed, 0 skipped',
    });
    expect(summary(report(10, 0, 0, false)).status).toBe(1);
  });

  it('fails when nothing ran or no report was left', () => {
    expect(summary(report(0, 0, 3))).toMatchObject({
      status: 1,
      last: 'tests: 0 passed, 0 failed, 3 skipped',
    });
    const none = summary(undefined);
    expect(none).toMatchObject({ status: 1, last: 'tests: 0 passed, 0 failed, 0 skipped' });
    expect(none.stderr).toMatch(/did not run/);
  });

  it('adds up several runs (npm test and the cluster suites), and fails if any ran nothing or failed', () => {
    expect(summary(report(700, 0, 1), report(18, 0, 1))).toMatchObject({
      status: 0,
      last: 'tests: 718 passed, 0 failed, 2 skipped',
    });
    expect(summary(report(700, 0, 1), report(17, 1, 1))).toMatchObject({
      status: 1,
      last: 'tests: 717 passed, 1 failed, 2 skipped',
    });
    expect(summary(report(700, 0, 1), undefined).status).toBe(1);
    expect(summary(report(700, 0, 1), report(0, 0, 4)).status).toBe(1);
  });

  it('.ci/run ends with the summary of the README test command', () => {
    const run = readFileSync(path.join(import.meta.dirname, '../../../.ci/run'), 'utf8')
      .trimEnd()
      .split('\n');
    expect(run.some((l) => l.startsWith('npm run ci'))).toBe(true);
    expect(run.findIndex((l) => l.includes('test-summary.mjs'))).toBeGreaterThan(
      run.findIndex((l) => l.startsWith('npm run ci')),
    );
  });
});
