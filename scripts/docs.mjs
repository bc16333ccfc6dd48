// Writes the inputs and outputs tables of README.md from action.yml, between the
// `<!-- inputs:start -->`/`<!-- inputs:end -->` (and outputs) markers. `--check` fails when they differ.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');

export function tables(actionYaml) {
  const action = parse(actionYaml);
  const cell = (s) =>
    String(s ?? '')
      .trim()
      .replace(/\s+/g, ' ')
      .replace(/\|/g, '\\|');
  const inputs = Object.entries(action.inputs ?? {}).map(
    ([name, i]) =>
      `| \`${name}\` | ${i.required ? 'yes' : 'no'} | ${i.default === undefined ? '' : `\`${cell(i.default)}\``} | ${cell(i.description)} |`,
  );
  const outputs = Object.entries(action.outputs ?? {}).map(
    ([name, o]) => `| \`${name}\` | ${cell(o.description)} |`,
  );
  return {
    inputs: ['| input | required | default | description |', '|---|---|---|---|', ...inputs].join('\n'),
    outputs: ['| output | description |', '|---|---|', ...outputs].join('\n'),
  };
}

export function render(readme, actionYaml) {
  const t = tables(actionYaml);
  let out = readme;
  for (const [name, table] of Object.entries(t)) {
    const re = new RegExp(`(<!-- ${name}:start -->\\n)[\\s\\S]*?(<!-- ${name}:end -->)`);
    if (!re.test(out))
      throw new Error(`README.md has no <!-- ${name}:start --> ... <!-- ${name}:end --> markers`);
    out = out.replace(re, `$1${table}\n$2`);
  }
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const readmePath = path.join(root, 'README.md');
  const readme = readFileSync(readmePath, 'utf8');
  const next = render(readme, readFileSync(path.join(root, 'action.yml'), 'utf8'));
  if (process.argv.includes('--check')) {
    if (next !== readme) {
      console.error(
        'README.md inputs/outputs tables do not match action.yml: run `npm run docs` and commit.',
      );
      process.exit(1);
    }
  } else {
    writeFileSync(readmePath, next);
  }
}
