// Prints each end-to-end file's duration and outcome, then one closing line for the whole suite
// from vitest's JSON reports: "tests: N passed, N failed".
import { existsSync, readFileSync } from 'node:fs';
import { relative } from 'node:path';

let passed = 0;
let failed = 0;
let skipped = 0;
for (const file of process.argv.slice(2)) {
  if (!existsSync(file)) {
    console.error(`test-summary: ${file} is missing (that suite did not run)`);
    failed++;
    continue;
  }
  const report = JSON.parse(readFileSync(file, 'utf8'));
  if (/e2e/.test(file)) {
    for (const result of report.testResults ?? []) {
      const seconds = ((result.endTime - result.startTime) / 1000).toFixed(1).padStart(6);
      console.log(`${seconds} s  ${result.status === 'passed' ? 'ok  ' : 'FAIL'}  ${relative(process.cwd(), result.name)}`);
    }
  }
  passed += report.numPassedTests;
  failed += report.numFailedTests;
  skipped += report.numPendingTests + report.numTodoTests;
}
console.log(`tests: ${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed > 0 || passed === 0 ? 1 : 0);
