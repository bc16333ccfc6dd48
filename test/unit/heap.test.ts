/**
 * src/heap.ts sets V8 flags at run time. V8 ignores a flag it does not know, with an "unrecognized flag" line on
 * stderr: this checks that Node's V8 knows them, and that setting them prints nothing.
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { V8_FLAGS } from '../../src/heap.js';

describe('limitMemory', () => {
  it("sets flags that this Node's V8 knows, silently", () => {
    const options = spawnSync(process.execPath, ['--v8-options'], { encoding: 'utf8' }).stdout;
    for (const flag of V8_FLAGS) expect(options).toContain(`  ${flag.replace(/=.*$/, '')} `);
    const run = spawnSync(
      process.execPath,
      [
        '-e',
        `const v8 = require('node:v8'); for (const f of ${JSON.stringify(V8_FLAGS)}) v8.setFlagsFromString(f);`,
      ],
      { encoding: 'utf8' },
    );
    expect(run.status).toBe(0);
    expect(run.stderr).toBe('');
  });
});
