// `npm run test:cluster`: the cluster suites (test/cluster) against the cluster PREVIEW_TEST_KUBECONFIG names (an
// admin kubeconfig: kind, k3s, a cloud cluster, or `npm run sim`). Ends with the plain line
//   tests: N passed, N failed, N skipped
// and refuses to run without a cluster: the in-process simulator's run is `npm test`'s, not this one's.
import { spawnSync } from 'node:child_process';
import { accessSync, constants, rmSync } from 'node:fs';

const file = process.env.PREVIEW_TEST_KUBECONFIG;
if (!file) {
  console.error(
    [
      'npm run test:cluster: no cluster named.',
      'Set PREVIEW_TEST_KUBECONFIG to the kubeconfig file of a cluster-admin, for example:',
      '  kind get kubeconfig --name preevy >/tmp/kind.yaml && PREVIEW_TEST_KUBECONFIG=/tmp/kind.yaml npm run test:cluster',
      '  npm run sim -- --kubeconfig /tmp/sim.yaml &  PREVIEW_TEST_KUBECONFIG=/tmp/sim.yaml npm run test:cluster',
      'README "Contributing" says what the suites need on a cluster. `npm test` runs them on the simulator.',
    ].join('\n'),
  );
  process.exit(2);
}
try {
  accessSync(file, constants.R_OK);
} catch {
  console.error(`npm run test:cluster: PREVIEW_TEST_KUBECONFIG=${file} cannot be read`);
  process.exit(2);
}

const report = '.vitest/cluster-report.json';
rmSync(report, { force: true });
const run = spawnSync(
  'npx',
  [
    'vitest',
    'run',
    '--project',
    'cluster',
    `--outputFile.json=${report}`,
    // A real cluster pulls, schedules and starts dockerd: a test with several deploys takes minutes, not seconds.
    '--testTimeout=600000',
    '--hookTimeout=300000',
    ...process.argv.slice(2),
  ],
  { stdio: 'inherit' },
);
const summary = spawnSync(process.execPath, ['scripts/test-summary.mjs', report], { stdio: 'inherit' });
process.exit(run.status || summary.status || 0);
