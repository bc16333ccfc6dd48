import { randomBytes } from 'node:crypto';
import {
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { describeWithDocker, NAMESPACE } from '../integration/harness.js';
import { selfSignedCert } from '../sim/kube/certs.js';
import { dockerJson } from '../sim/kubelet/docker/api.js';
import { SIM_DOCKER_ROOT } from '../sim/kubelet/docker/engines.js';
import { tcp } from '../sim/kubelet/docker/support.js';
import { ACTION_ROOT, OWNER, REPO, runAction, useDockerSimAndGitHub } from './support.js';

const GITHUB_TOKEN = `ghs_${randomBytes(18).toString('hex')}`;
const PR = 73;
const ENV_ID = `${REPO}-pr-${PR}`;
/** Files above this are not the action's (Docker images, other tests' data): not read. */
const MAX_SCAN_BYTES = 16 * 1024 * 1024;

/** A random value of 32 characters that occurs nowhere by chance. */
const secret = () => randomBytes(24).toString('base64url');

/** Every regular file below `dir` (symlinks not followed), with `keep` deciding by path and mtime. */
function files(dir: string, keep: (file: string, mtimeMs: number) => boolean = () => true): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    let names: string[];
    try {
      names = readdirSync(d);
    } catch {
      return;
    }
    for (const name of names) {
      const p = path.join(d, name);
      let st: ReturnType<typeof lstatSync>;
      try {
        st = lstatSync(p);
      } catch {
        continue;
      }
      if (st.isDirectory()) walk(p);
      else if (st.isFile() && st.size <= MAX_SCAN_BYTES && keep(p, st.mtimeMs)) out.push(p);
    }
  };
  walk(dir);
  return out;
}

function read(file: string): string {
  try {
    return readFileSync(file, 'latin1');
  } catch {
    return '';
  }
}

/**
 * The action's whole footprint on one deploy of a compose project with a file secret and an env-file secret,
 * deployed with a kubeconfig holding a token and a client key: nothing of either leaves for anywhere it is not
 * meant to be (the secret file is uploaded for its service; the env value reaches the container).
 */
describeWithDocker('secrets stay where they belong', () => {
  const sims = useDockerSimAndGitHub(GITHUB_TOKEN, {
    network: { defaultCertificateHosts: ['*.preview.test'] },
  });

  it('a deploy leaks no kubeconfig credential or compose secret to the log, outputs, PR, cluster, pod or disk', async () => {
    const fileSecret = secret();
    const envSecret = secret();
    const workspace = realpathSync(mkdtempSync(path.join(tmpdir(), 'secrets-ws-')));
    const project: Record<string, string> = {
      'compose.yaml': [
        'services:',
        '  app:',
        '    image: busybox:local',
        '    command: ["httpd", "-f", "-p", "80", "-h", "/www"]',
        '    ports: ["80"]',
        '    env_file: app.env',
        '    secrets: [api_key]',
        '    volumes: ["./site:/www:ro"]',
        'secrets:',
        '  api_key:',
        '    file: ./secrets/api_key.txt',
      ].join('\n'),
      'app.env': `APP_PASSWORD=${envSecret}\n`,
      'secrets/api_key.txt': fileSecret,
      'site/index.html': 'hello\n',
    };
    for (const [f, text] of Object.entries(project)) {
      mkdirSync(path.dirname(path.join(workspace, f)), { recursive: true });
      writeFileSync(path.join(workspace, f), text);
    }

    // The simulator asks for no client certificate: the key is loaded by the action and must go nowhere.
    const client = await selfSignedCert('/CN=preevy-e2e-client', ['preevy-e2e-client']);
    const kc = parse(sims.sim.kubeconfig({ namespace: NAMESPACE })) as {
      users: Array<{ user: Record<string, string> }>;
    };
    const keyData = Buffer.from(client.keyPem).toString('base64');
    kc.users[0]!.user['client-certificate-data'] = Buffer.from(client.certPem).toString('base64');
    kc.users[0]!.user['client-key-data'] = keyData;
    const token = kc.users[0]!.user.token!;
    expect(token).toBe(sims.sim.adminToken);

    const secrets: Record<string, string> = {
      'kubeconfig token': token,
      'kubeconfig token (base64)': Buffer.from(token).toString('base64'),
      'client key (base64)': keyData,
      'GitHub token': GITHUB_TOKEN,
      'compose file secret': fileSecret,
      'env file secret': envSecret,
    };
    client.keyPem
      .split('\n')
      .filter((l) => l.length >= 16 && !l.startsWith('-----'))
      .forEach((l, i) => {
        secrets[`client key PEM line ${i + 1}`] = l;
      });

    const runnerTemp = mkdtempSync(path.join(tmpdir(), 'secrets-runner-temp-'));
    const home = mkdtempSync(path.join(tmpdir(), 'secrets-home-'));
    const outputFile = path.join(runnerTemp, 'github_output');
    const summaryFile = path.join(runnerTemp, 'step_summary');
    writeFileSync(outputFile, '');
    writeFileSync(summaryFile, '');
    sims.gh.addPullRequest({ owner: OWNER, repo: REPO, number: PR, headSha: 'c'.repeat(40) });
    // mtimes are compared a second early: some filesystems keep whole seconds.
    const start = Date.now() - 1_000;
    const run = await runAction({
      inputs: {
        kubeconfig: stringify(kc),
        namespace: NAMESPACE,
        'ready-timeout': '2m',
        domain: 'preview.test',
        'github-token': GITHUB_TOKEN,
      },
      workspace,
      event: { action: 'opened', number: PR, headSha: 'c'.repeat(40) },
      env: {
        GITHUB_API_URL: sims.gh.url,
        RUNNER_TEMP: runnerTemp,
        HOME: home,
        GITHUB_OUTPUT: outputFile,
        GITHUB_STEP_SUMMARY: summaryFile,
      },
    });
    expect(run.stdout).not.toMatch(/::error::/);
    expect(run.code).toBe(0);

    // The secrets were really used, so finding them nowhere else means something.
    const pod = sims.sim.store
      .list('', 'pods', { namespace: NAMESPACE, labelSelector: `preevy.dev/env-id=${ENV_ID}` })
      .find((p) => p.metadata.labels?.['app.kubernetes.io/component'] === 'docker-host')!;
    const engine = sims.backend.engineFor(`${NAMESPACE}/${pod.metadata.name}`)!;
    const uploadRoot = path.join(engine.podRoot, 'preevy');
    const secretFile = path.join(uploadRoot, 'projects', ENV_ID, 'secrets/api_key.txt');
    expect(read(secretFile)).toBe(fileSecret);
    const containers = await dockerJson<Array<{ Id: string; Labels: Record<string, string> }>>(
      tcp(engine),
      'GET',
      '/containers/json',
    );
    const app = containers.find((c) => c.Labels['com.docker.compose.service'] === 'app')!;
    const inspected = await dockerJson<{
      Config: { Env: string[] };
      Mounts: Array<{ Destination: string }>;
    }>(tcp(engine), 'GET', `/containers/${app.Id}/json`);
    expect(inspected.Config.Env).toContain(`APP_PASSWORD=${envSecret}`);
    expect(inspected.Mounts.map((m) => m.Destination)).toContain('/run/secrets/api_key');

    // Everything the action produced, by where it went.
    const places: Record<string, string> = {
      // The runner consumes ::add-mask:: lines: they register secrets, and are never shown.
      log: run.stdout
        .split('\n')
        .filter((l) => !l.startsWith('::add-mask::'))
        .join('\n'),
      GITHUB_OUTPUT: read(outputFile),
      GITHUB_STEP_SUMMARY: read(summaryFile),
      'GitHub requests': JSON.stringify(sims.gh.audit),
      'PR comments': JSON.stringify(sims.gh.comments(OWNER, REPO, PR)),
      deployments: JSON.stringify(sims.gh.deployments(OWNER, REPO)),
    };
    expect(places['PR comments']).toContain('The preview environment is ready');
    for (const t of sims.sim.store.types) {
      if (!t.verbs.includes('list') || t.resource.includes('/')) continue;
      places[`cluster ${t.resource}`] = JSON.stringify(sims.sim.store.list(t.group, t.resource, {}));
    }
    const uploaded = files(uploadRoot).filter((f) => f !== secretFile);
    expect(uploaded.map((f) => path.relative(uploadRoot, f)).sort()).toEqual([
      `projects/${ENV_ID}/.preevy-deployed`,
      `projects/${ENV_ID}/.preevy-upload-manifest.json`,
      `projects/${ENV_ID}/site/index.html`,
    ]);
    for (const f of uploaded) places[`pod file ${path.relative(uploadRoot, f)}`] = read(f);
    for (const f of [...files(runnerTemp), ...files(home)]) places[`runner file ${f}`] = read(f);
    // Files created or changed on the runner during the run, in the checkout and /tmp: not the project's own
    // files (they hold the secrets by design), nor the simulated pods' Docker data (a container's config holds
    // its environment).
    const sources = new Set(Object.keys(project).map((f) => path.join(workspace, f)));
    const written = (f: string, mtimeMs: number) =>
      mtimeMs >= start && !sources.has(f) && !f.startsWith(`${SIM_DOCKER_ROOT}/`);
    for (const f of [...files(workspace, written), ...files(tmpdir(), written)]) {
      places[`runner file ${f}`] ??= read(f);
    }
    expect(Object.keys(places).length).toBeGreaterThan(10);

    const leaks: string[] = [];
    for (const [what, value] of Object.entries(secrets)) {
      for (const [where, text] of Object.entries(places))
        if (text.includes(value)) leaks.push(`${what} in ${where}`);
    }
    expect(leaks).toEqual([]);
  });

  /**
   * A template that runs code (issue: templates render without powers): with `allow-pull-request-target`
   * a PR's template, or one copied from elsewhere. Its payload would put the action's environment
   * (INPUT_KUBECONFIG, INPUT_GITHUB-TOKEN) into a ConfigMap and the PR comment; it is refused instead,
   * at its line, and neither the kubeconfig token nor the GitHub token reaches anything.
   */
  it.each([
    ['template', 'preview/env.yaml.njk'],
    ['comment-template', 'preview/comment.md.njk'],
  ])('a hostile %s reads no secret into the cluster, the PR, the log or the outputs', async (input, file) => {
    const workspace = realpathSync(mkdtempSync(path.join(tmpdir(), 'secrets-hostile-')));
    const loot = 'range.constructor("return JSON.stringify(process.env)")()';
    const bundled = readFileSync(path.join(ACTION_ROOT, 'templates/default.yaml.njk'), 'utf8');
    const project: Record<string, string> = {
      'compose.yaml': 'services:\n  app:\n    image: busybox:local\n    command: ["sleep", "3600"]\n',
      'preview/exposure.yaml.njk': readFileSync(
        path.join(ACTION_ROOT, 'templates/exposure.yaml.njk'),
        'utf8',
      ),
      'preview/env.yaml.njk': `${bundled}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: loot\ndata:\n  env: {{ ${loot} | dump }}\n`,
      'preview/comment.md.njk': `Ready: {{ urlTable }}\n{{ ${loot} }}\n`,
    };
    for (const [f, text] of Object.entries(project)) {
      mkdirSync(path.dirname(path.join(workspace, f)), { recursive: true });
      writeFileSync(path.join(workspace, f), text);
    }
    const kubeconfig = sims.sim.kubeconfig({ namespace: NAMESPACE });
    const token = (parse(kubeconfig) as { users: Array<{ user: { token: string } }> }).users[0]!.user.token;
    const number = input === 'template' ? PR + 1 : PR + 2;
    sims.gh.addPullRequest({ owner: OWNER, repo: REPO, number, headSha: 'd'.repeat(40) });
    const run = await runAction({
      inputs: {
        kubeconfig,
        namespace: NAMESPACE,
        'ready-timeout': '2m',
        'github-token': GITHUB_TOKEN,
        [input]: file,
      },
      workspace,
      event: { action: 'opened', number, headSha: 'd'.repeat(40) },
      env: { GITHUB_API_URL: sims.gh.url },
    });
    const places: Record<string, string> = {
      log: run.stdout
        .split('\n')
        .filter((l) => !l.startsWith('::add-mask::'))
        .join('\n'),
      outputs: JSON.stringify(run.outputs),
      summary: run.summary,
      'GitHub requests': JSON.stringify(sims.gh.audit),
      'PR comments': JSON.stringify(sims.gh.comments(OWNER, REPO, number)),
    };
    for (const t of sims.sim.store.types) {
      if (!t.verbs.includes('list') || t.resource.includes('/')) continue;
      places[`cluster ${t.resource}`] = JSON.stringify(sims.sim.store.list(t.group, t.resource, {}));
    }
    const leaks: string[] = [];
    for (const [what, value] of Object.entries({
      'kubeconfig token': token,
      'GitHub token': GITHUB_TOKEN,
    }))
      for (const [where, text] of Object.entries(places))
        if (text.includes(value)) leaks.push(`${what} in ${where}`);
    expect(leaks).toEqual([]);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(
      new RegExp(`${path.basename(file)}:\\d+: \`constructor\` is refused in templates`),
    );
  });
});
