import { defineConfig } from 'vitest/config';

/**
 * The Docker bridge's suites that go through the simulated kubelet's WebSocket endpoints run a second time with
 * frames cut and grouped at random across reads (test/sim/kubelet/wire.ts): a real cluster's framing varies from
 * open to open, and a client that depends on one grouping breaks on real clusters (two lost bytes per connection).
 */
const WIRE_SENSITIVE = ['test/cluster/bridge.test.ts', 'test/integration/bad-docker-host.test.ts'];

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Integration tests start servers and Docker engines; two cores do not gain from more workers.
    maxWorkers: 2,
    restoreMocks: true,
    // The JSON report is what .ci/run counts (scripts/test-summary.mjs): vitest's own numbers, not a log's.
    reporters: ['default', 'json'],
    outputFile: { json: '.vitest/report.json' },
    projects: [
      // One project per test tree, each with its npm script (test:unit, ...): `npm run test:unit` is the quick loop.
      { extends: true, test: { name: 'unit', include: ['test/unit/**/*.test.ts'] } },
      { extends: true, test: { name: 'integration', include: ['test/integration/**/*.test.ts'] } },
      { extends: true, test: { name: 'e2e', include: ['test/e2e/**/*.test.ts'] } },
      // The suites that drive a cluster through test/cluster/fixture.ts: the in-process simulator here;
      // `npm run test:cluster` runs them against the cluster PREVIEW_TEST_KUBECONFIG names.
      { extends: true, test: { name: 'cluster', include: ['test/cluster/**/*.test.ts'] } },
      { extends: true, test: { name: 'sim', include: ['test/sim/**/*.test.ts'] } },
      {
        extends: true,
        test: { name: 'wire-split', include: WIRE_SENSITIVE, env: { PREEVY_SIM_WIRE: 'split' } },
      },
    ],
  },
});
