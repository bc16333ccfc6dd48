// Rebuilds the bundle into a temporary folder and compares it with the committed dist/,
// so a change to src/ that was not rebuilt fails CI instead of shipping stale code.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const out = mkdtempSync(path.join(tmpdir(), 'check-dist-'));

function files(dir, base = dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(path.join(dir, e.name), base) : [path.relative(base, path.join(dir, e.name))],
  );
}

try {
  execFileSync('npx', ['ncc', 'build', 'src/index.ts', '--minify', '--license', 'licenses.txt', '-o', out], {
    cwd: root,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  // The template sandbox's child, a bundle of its own (src/template/sandbox.ts says why).
  execFileSync(
    'npx',
    ['ncc', 'build', 'src/template/sandbox-child.ts', '--minify', '-o', path.join(out, 'render')],
    { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] },
  );
  const built = files(out).sort();
  const committed = files(path.join(root, 'dist')).sort();
  const problems = [];
  for (const f of new Set([...built, ...committed])) {
    if (!built.includes(f)) problems.push(`dist/${f} is committed but no longer built`);
    else if (!committed.includes(f)) problems.push(`dist/${f} is built but not committed`);
    else if (!readFileSync(path.join(out, f)).equals(readFileSync(path.join(root, 'dist', f))))
      problems.push(`dist/${f} differs from a fresh build`);
  }
  if (problems.length > 0) {
    console.error(
      `dist/ does not match the source:\n  ${problems.join('\n  ')}\nRun \`npm run build\` and commit dist/.`,
    );
    process.exit(1);
  }
  console.log(`dist/ matches the source (${built.length} files).`);
} finally {
  rmSync(out, { recursive: true, force: true });
}
