import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

describe('README', () => {
  it('documents every input and output of action.yml, as generated', () => {
    // Throws (exit 1) when the tables between the markers differ from what action.yml generates.
    execFileSync(process.execPath, ['scripts/docs.mjs', '--check'], { stdio: 'pipe' });
    const action = parse(readFileSync('action.yml', 'utf8')) as { inputs: object; outputs: object };
    const readme = readFileSync('README.md', 'utf8');
    for (const name of [...Object.keys(action.inputs), ...Object.keys(action.outputs)]) {
      expect(readme).toContain(`| \`${name}\` |`);
    }
  });

  it('starts with the demo and the test commands', () => {
    const lines = readFileSync('README.md', 'utf8').split('\n').slice(0, 6).join('\n');
    expect(lines).toContain('npm run demo');
    expect(lines).toContain('npm run ci');
  });
});
