// Prints vitest's own count of the last run (its JSON report) as the last line, for CI:
//   tests: N passed, N failed, N skipped
// A run that executed nothing, or left no report, exits non-zero: it must not pass for one that did.
import { existsSync, readFileSync } from 'node:fs';

const file = process.argv[2] ?? '.vitest/report.json';
let line = 'tests: 0 passed, 0 failed, 0 skipped';
let ok = false;
if (!existsSync(file)) {
  console.error(`no vitest report at ${file}: the tests did not run`);
} else {
  const r = JSON.parse(readFileSync(file, 'utf8'));
  const skipped = (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
  line = `tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${skipped} skipped`;
  if (r.numTotalTests === 0 || r.numPassedTests === 0) console.error('vitest ran no test');
  else ok = r.numFailedTests === 0 && r.success !== false;
}
console.log(line);
process.exit(ok ? 0 : 1);
