// Prints vitest's own count of the given runs (their JSON reports, added up) as the last line, for CI:
//   tests: N passed, N failed, N skipped
// A run that executed nothing, or left no report, exits non-zero: it must not pass for one that did.
import { existsSync, readFileSync } from 'node:fs';

const files = process.argv.length > 2 ? process.argv.slice(2) : ['.vitest/report.json'];
const total = { passed: 0, failed: 0, skipped: 0 };
let ok = true;
for (const file of files) {
  if (!existsSync(file)) {
    console.error(`no vitest report at ${file}: the tests did not run`);
    ok = false;
    continue;
  }
  const r = JSON.parse(readFileSync(file, 'utf8'));
  total.passed += r.numPassedTests;
  total.failed += r.numFailedTests;
  total.skipped += (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
  if (r.numTotalTests === 0 || r.numPassedTests === 0) {
    console.error(`${file}: vitest ran no test`);
    ok = false;
  } else if (r.numFailedTests !== 0 || r.success === false) {
    ok = false;
  }
}
console.log(`tests: ${total.passed} passed, ${total.failed} failed, ${total.skipped} skipped`);
process.exit(ok ? 0 : 1);
