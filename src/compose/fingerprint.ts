/**
 * What a deploy depends on, as one hash: an `up` whose fingerprint is the one recorded by the last successful
 * deploy of the environment, and whose services all run, has nothing to do (see bridge/deploy.ts).
 *
 * It covers what compose would act on: the model (interpolated, rewritten, ports pinned: every service
 * setting), the content of the uploaded files, and the content of every local build context. A build context
 * is read as BuildKit reads it: without what its `.dockerignore` leaves out (the `.git` and `node_modules` a
 * context of `.` usually holds); the Dockerfile and the ignore file always count. A context that is not a
 * local directory (a Git or HTTP URL), or one too large to hash quickly, gives no fingerprint: such a project
 * is always built.
 *
 * What it leaves out on purpose, as `docker compose up` without `--pull` does: newer versions of the images
 * named by tag, which neither a cached build nor `up` would fetch. A service that asks for them every time
 * (`pull_policy: always` or `build`, or `build.pull: true`) gives no fingerprint: its project always deploys.
 */
import { createHash, type Hash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { lstat, opendir, readlink } from 'node:fs/promises';
import path from 'node:path';
import dockerignore from '@balena/dockerignore';
import { rec } from '../kube/shapes.js';
import type { ComposeModel } from './model.js';
import { fileSha256, type UploadPlan } from './upload.js';

// The package's types declare an ES default export; at run time its module.exports is the factory itself.
const ignore = dockerignore as unknown as typeof dockerignore.default;

/** Beyond these, a context costs more to hash than a cached build costs to run. */
const MAX_CONTEXT_FILES = 20_000;
const MAX_CONTEXT_BYTES = 512 * 1024 * 1024;

/** The name of the file, next to the manifest in the docker host, that holds the last deploy's fingerprint. */
export const STAMP = '.preevy-deployed';

class TooLarge extends Error {}

/**
 * The fingerprint of a deploy, hex; undefined when it cannot be told (see above). `plan`: after the upload
 * (or planned with nothing to send), so that every file's hash is known.
 */
export async function deployFingerprint(model: ComposeModel, plan: UploadPlan): Promise<string | undefined> {
  const hash = createHash('sha256');
  hash.update('preevy-deploy-1\n');
  hash.update(JSON.stringify(model));
  for (const e of plan.entries) {
    if (e.type === 'file' && e.sha256 === undefined) return undefined;
    hash.update(`\n${e.type} ${JSON.stringify(e.name)} ${e.mode & 0o7777} ${e.sha256 ?? e.linkname ?? ''}`);
  }
  const budget = { files: MAX_CONTEXT_FILES, bytes: MAX_CONTEXT_BYTES };
  try {
    for (const [name, service] of Object.entries(model.services).sort(([a], [b]) => a.localeCompare(b))) {
      const build = rec(service.build);
      if (service.pull_policy === 'always' || service.pull_policy === 'build' || build?.pull === true)
        return undefined;
      if (!build) continue;
      const context = typeof build.context === 'string' ? build.context : undefined;
      if (!context || !(await isDirectory(context))) return undefined;
      hash.update(`\nservice ${JSON.stringify(name)}`);
      await hashContext(
        hash,
        context,
        typeof build.dockerfile === 'string' ? build.dockerfile : 'Dockerfile',
        budget,
      );
      const extra = rec(build.additional_contexts) ?? {};
      for (const [key, value] of Object.entries(extra).sort(([a], [b]) => a.localeCompare(b))) {
        // docker-image:// and service: contexts are names, already in the model.
        if (typeof value !== 'string' || /^[a-z-]+:\/\//.test(value) || value.startsWith('service:'))
          continue;
        if (!(await isDirectory(value))) return undefined;
        hash.update(`\nadditional ${JSON.stringify(key)}`);
        await hashTree(hash, value, () => false, budget);
      }
    }
  } catch (err) {
    if (err instanceof TooLarge) return undefined;
    throw err;
  }
  return hash.digest('hex');
}

async function isDirectory(p: string): Promise<boolean> {
  if (!path.isAbsolute(p)) return false;
  return (await lstat(p).catch(() => undefined))?.isDirectory() ?? false;
}

function readText(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** BuildKit's rule: `<Dockerfile>.dockerignore` next to the Dockerfile wins over the context's `.dockerignore`. */
async function hashContext(
  hash: Hash,
  context: string,
  dockerfile: string,
  budget: { files: number; bytes: number },
): Promise<void> {
  const dockerfilePath = path.resolve(context, dockerfile);
  const rules =
    readText(`${dockerfilePath}.dockerignore`) ?? readText(path.join(context, '.dockerignore')) ?? '';
  hash.update(`\ndockerfile ${dockerfile} ${readText(dockerfilePath) ?? ''}\nignore ${rules}`);
  const ig = ignore().add(rules.split(/\r?\n/));
  // With an exception (`!`), a file under an ignored directory may still be sent: every directory is walked.
  const prune = !rules.split(/\r?\n/).some((l) => l.trim().startsWith('!'));
  await hashTree(hash, context, (rel, dir) => (dir && !prune ? false : ig.ignores(rel)), budget);
}

async function hashTree(
  hash: Hash,
  root: string,
  ignored: (rel: string, dir: boolean) => boolean,
  budget: { files: number; bytes: number },
): Promise<void> {
  const walk = async (dir: string): Promise<void> => {
    const names: string[] = [];
    for await (const d of await opendir(dir)) names.push(d.name);
    names.sort();
    for (const n of names) {
      const local = path.join(dir, n);
      const rel = path.relative(root, local).split(path.sep).join('/');
      const st = await lstat(local);
      if (ignored(rel, st.isDirectory())) continue;
      if (--budget.files < 0) throw new TooLarge();
      if (st.isDirectory()) {
        hash.update(`\nd ${JSON.stringify(rel)} ${st.mode & 0o7777}`);
        await walk(local);
      } else if (st.isSymbolicLink()) {
        hash.update(`\nl ${JSON.stringify(rel)} ${await readlink(local)}`);
      } else if (st.isFile()) {
        budget.bytes -= st.size;
        if (budget.bytes < 0) throw new TooLarge();
        hash.update(`\nf ${JSON.stringify(rel)} ${st.mode & 0o7777} ${await fileSha256(local)}`);
      }
    }
  };
  await walk(root);
}
