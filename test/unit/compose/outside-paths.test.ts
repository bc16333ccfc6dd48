import { mkdirSync, mkdtempSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  type ComposeModel,
  type ComposeProject,
  composeEnv,
  filesReadByCompose,
  loadComposeModel,
} from '../../../src/compose/model.js';
import { prepareCompose } from '../../../src/compose/prepare.js';
import { checkRunnerReads, followLinks, rewriteForDockerHost } from '../../../src/compose/rewrite.js';
import { checkUploadRoots, planUpload } from '../../../src/compose/upload.js';
import { ActionError, InputError } from '../../../src/errors.js';
import { getInputs } from '../../../src/inputs.js';
import { noopLog } from '../../../src/util/log.js';
import { hasCompose, thrownBy } from '../support.js';

/** A working directory (real path) with files and symlinks, and a runner "home" outside it with a kubeconfig. */
function workspace(files: Record<string, string> = {}, links: Record<string, string> = {}) {
  const root = realpathSync(mkdtempSync(path.join(tmpdir(), 'outside-')));
  const home = path.join(root, 'home');
  mkdirSync(path.join(home, '.kube'), { recursive: true });
  writeFileSync(path.join(home, '.kube/config'), 'TOKEN=runner-token-abcdef\n');
  const wd = path.join(root, 'repo');
  mkdirSync(wd);
  for (const [f, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(wd, f)), { recursive: true });
    writeFileSync(path.join(wd, f), text);
  }
  for (const [f, target] of Object.entries(links)) {
    mkdirSync(path.dirname(path.join(wd, f)), { recursive: true });
    symlinkSync(target.replaceAll('$HOME', home), path.join(wd, f));
  }
  return { wd, home };
}

const thrown = (fn: () => unknown): ActionError => thrownBy(ActionError, fn);

async function rejected(p: Promise<unknown>): Promise<ActionError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ActionError);
  return err as ActionError;
}

const project = (wd: string, over: Partial<ComposeProject> = {}): ComposeProject => ({
  workingDirectory: wd,
  files: [],
  profiles: [],
  envFiles: [],
  projectName: 'shop-pr-1',
  ...over,
});

describe('followLinks', () => {
  it('follows links as far as the path exists, dangling ones by their text, and spots loops', () => {
    const { wd, home } = workspace({}, { kube: '$HOME/.kube', dangling: '/nonexistent/dir', loop: 'loop' });
    expect(followLinks(path.join(wd, 'kube/config'))).toBe(path.join(home, '.kube/config'));
    expect(followLinks(path.join(wd, 'kube/missing/x'))).toBe(path.join(home, '.kube/missing/x'));
    expect(followLinks(path.join(wd, 'dangling/a'))).toBe('/nonexistent/dir/a');
    expect(followLinks(path.join(wd, 'plain/file'))).toBe(path.join(wd, 'plain/file'));
    expect(followLinks(path.join(wd, 'loop'))).toBeUndefined();
  });
});

describe('rewriteForDockerHost: paths through symlinks', () => {
  it('refuses bind sources, secrets, configs, build contexts and Dockerfiles that lead outside through a link', () => {
    const { wd, home } = workspace(
      { 'app/Dockerfile': 'FROM x\n' },
      { kube: '$HOME/.kube', 'app/linked.Dockerfile': '$HOME/.kube/config', ctx: '$HOME', sock: '/var/run' },
    );
    const m: ComposeModel = {
      name: 'p',
      services: {
        web: {
          build: { context: path.join(wd, 'app'), dockerfile: 'linked.Dockerfile' },
          volumes: [
            { type: 'bind', source: path.join(wd, 'kube'), target: '/k' },
            { type: 'bind', source: path.join(wd, 'kube/config'), target: '/c' },
            { type: 'bind', source: path.join(wd, 'sock/docker.sock'), target: '/var/run/docker.sock' },
          ],
        },
        other: { build: { context: path.join(wd, 'ctx') } },
      },
      secrets: { s: { file: path.join(wd, 'kube/config') } },
      configs: { c: { file: path.join(wd, 'kube/config') } },
    };
    const msg = thrown(() => rewriteForDockerHost(m, { workingDirectory: wd, envId: 'x' })).userMessage;
    const via = (p: string) => `leads through a symlink to ${p}, outside the working directory`;
    expect(msg).toContain(
      `service "web" build.dockerfile: ${path.join(wd, 'app/linked.Dockerfile')} ${via(path.join(home, '.kube/config'))}`,
    );
    expect(msg).toContain(
      `service "web" volume /k: ${path.join(wd, 'kube')} ${via(path.join(home, '.kube'))}`,
    );
    expect(msg).toContain(`service "web" volume /c: ${path.join(wd, 'kube/config')}`);
    expect(msg).toContain(`service "web" volume /var/run/docker.sock: ${path.join(wd, 'sock/docker.sock')}`);
    expect(msg).toContain(`service "other" build.context: ${path.join(wd, 'ctx')} ${via(home)}`);
    expect(msg).toContain(`service "other" build.dockerfile: ${path.join(wd, 'ctx/Dockerfile')}`);
    expect(msg).toContain('secret "s"');
    expect(msg).toContain('config "c"');
    expect(msg).not.toContain(`build.context: ${path.join(wd, 'app')}`);
    expect(() =>
      rewriteForDockerHost(m, { workingDirectory: wd, envId: 'x', allowOutside: true }),
    ).not.toThrow();
  });

  it('refuses a Dockerfile, additional context or SSH key outside, and forwarding the SSH agent', () => {
    const { wd } = workspace({ 'app/Dockerfile': 'FROM x\n', 'keys/id': 'k' });
    const m: ComposeModel = {
      name: 'p',
      services: {
        web: {
          build: {
            context: path.join(wd, 'app'),
            dockerfile: '../../home/.kube/config',
            additional_contexts: { up: path.dirname(wd), img: 'docker-image://alpine', svc: 'service:db' },
            ssh: { default: null, key: '/home/runner/.ssh/id_rsa', ok: path.join(wd, 'keys/id') },
          },
        },
        inline: { build: { context: path.join(wd, 'app'), dockerfile_inline: 'FROM x' } },
        remote: { build: { context: 'https://github.com/acme/app.git#main' } },
      },
    };
    const msg = thrown(() => rewriteForDockerHost(m, { workingDirectory: wd, envId: 'x' })).userMessage;
    expect(msg).toContain(
      `service "web" build.dockerfile: ${path.resolve(wd, '../home/.kube/config')} is outside`,
    );
    expect(msg).toContain(`service "web" build.additional_contexts.up: ${path.dirname(wd)} is outside`);
    expect(msg).toContain('service "web" build.ssh.key: /home/runner/.ssh/id_rsa is outside');
    expect(msg).toContain('service "web" build.ssh.default: forwards the runner\'s SSH agent');
    expect(msg).not.toMatch(/img|svc|build\.ssh\.ok|"inline"|"remote"/);
  });

  it("refuses secrets and configs that read the action's credentials from the environment, even when outside paths are allowed", () => {
    const m: ComposeModel = {
      name: 'p',
      services: { web: { image: 'x' } },
      secrets: { kc: { environment: 'INPUT_KUBECONFIG' }, ok: { environment: 'API_KEY' } },
      configs: { oidc: { environment: 'ACTIONS_ID_TOKEN_REQUEST_TOKEN' } },
    };
    const err = thrown(() =>
      rewriteForDockerHost(m, { workingDirectory: '/w', envId: 'x', allowOutside: true }),
    );
    expect(err.message).toContain('secret "kc": environment INPUT_KUBECONFIG');
    expect(err.message).toContain('config "oidc": environment ACTIONS_ID_TOKEN_REQUEST_TOKEN');
    expect(err.message).not.toContain('API_KEY');
  });

  it('drops variables that compose left without a value, so a later run cannot fill them from its environment', () => {
    const m: ComposeModel = {
      name: 'p',
      services: { web: { image: 'x', environment: { INPUT_KUBECONFIG: null, UNSET: null, A: '1', E: '' } } },
    };
    const r = rewriteForDockerHost(m, { workingDirectory: '/w', envId: 'x' });
    expect(r.model.services.web!.environment).toEqual({ A: '1', E: '' });
  });
});

describe('planUpload and checkUploadRoots: symlinks', () => {
  it('refuse a root under a linked directory, a dangling link leading outside, and a link loop', async () => {
    const { wd, home } = workspace(
      { 'conf/app.ini': 'a=1\n' },
      {
        kube: '$HOME/.kube',
        'conf/token': '/var/run/secrets/kubernetes.io/serviceaccount/token',
        'conf/inside': 'app.ini',
        'conf/dangling-inside': 'not-yet.ini',
        'conf/loop': 'loop',
      },
    );
    const roots = ['kube/config', 'conf'];
    for (const check of [
      () => planUpload({ workingDirectory: wd, roots }),
      () => checkUploadRoots({ workingDirectory: wd, roots }),
    ]) {
      const msg = (await rejected(check())).message;
      expect(msg).toContain(
        `${path.join(wd, 'kube/config')} leads through a symlink to ${path.join(home, '.kube/config')}`,
      );
      expect(msg).toMatch(
        // /var/run is itself a link to /run on many systems.
        /conf\/token is a symlink to (\/var)?\/run\/secrets\/kubernetes.io\/serviceaccount\/token, outside/,
      );
      expect(msg).toContain(`${path.join(wd, 'conf/loop')} is a symlink loop`);
      expect(msg).not.toMatch(/inside|app\.ini/);
    }
    await expect(
      checkUploadRoots({ workingDirectory: wd, roots: ['conf/app.ini', 'missing'] }),
    ).rejects.toThrow('missing does not exist');
    await expect(
      checkUploadRoots({ workingDirectory: wd, roots, allowOutside: true }),
    ).resolves.toBeUndefined();
  });
});

describe.skipIf(!hasCompose)('files compose reads on the runner', () => {
  const env = composeEnv({ PATH: process.env.PATH, HOME: process.env.HOME });

  it('finds env_file and label_file entries, as written and through variables, before compose reads them', async () => {
    const { wd, home } = workspace(
      {
        'compose.yaml': [
          'services:',
          '  web:',
          '    image: busybox',
          // biome-ignore lint/suspicious/noTemplateCurlyInString: compose interpolation, not a JS template
          '    env_file: [app.env, "${ENV_DIR}/x.env", "${HOME_ENV:-/abs}/y.env", {path: opt.env, required: false}]',
          '    label_file: labels.txt',
          '  sub:',
          '    extends: {file: sub/base.yaml, service: base}',
        ].join('\n'),
        // biome-ignore lint/suspicious/noTemplateCurlyInString: compose interpolation, not a JS template
        'sub/base.yaml': 'services:\n  base:\n    image: busybox\n    env_file: ../${SUB:-sub}.env\n',
        '.env': 'ENV_DIR=../home/.kube\n',
        'app.env': 'A=1\n',
      },
      {},
    );
    const reads = await filesReadByCompose(project(wd), env);
    expect(reads.map((r) => `${r.where} ${r.path}`).sort()).toEqual(
      [
        `service "sub" env_file ${path.join(wd, 'sub.env')}`,
        `service "web" env_file ${path.join(wd, 'app.env')}`,
        `service "web" env_file ${path.join(home, '.kube/x.env')}`,
        'service "web" env_file /abs/y.env',
        `service "web" env_file ${path.join(wd, 'opt.env')}`,
        `service "web" label_file ${path.join(wd, 'labels.txt')}`,
      ].sort(),
    );
    const msg = thrown(() => checkRunnerReads(reads, { workingDirectory: wd, envId: 'x' })).message;
    expect(msg).toContain(`service "web" env_file: ${path.join(home, '.kube/x.env')} is outside`);
    expect(msg).toContain('service "web" env_file: /abs/y.env is outside');
    expect(msg.match(/^ {2}- /gm)).toHaveLength(2);
  });

  it('prepareCompose refuses an env file of the runner, directly or through a link, before compose reads it', async () => {
    for (const [entry, links] of [
      ['$HOME/.kube/config', {}],
      ['kube.env', { 'kube.env': '$HOME/.kube/config' }],
      ['envs/config', { envs: '$HOME/.kube' }],
    ] as const) {
      const { wd, home } = workspace(
        { 'compose.yaml': `services:\n  web:\n    image: busybox\n    env_file: ${JSON.stringify(entry)}\n` },
        links,
      );
      writeFileSync(
        path.join(wd, 'compose.yaml'),
        `services:\n  web:\n    image: busybox\n    env_file: ${JSON.stringify(entry.replace('$HOME', home))}\n`,
      );
      let read = 0;
      const err = await rejected(
        prepareCompose(project(wd), { allowOutside: false, log: noopLog }).then(() => read++),
      );
      expect(err.message).toContain('env_file');
      expect(err.message).toContain(path.join(home, '.kube'));
      expect(err.message).not.toContain('runner-token-abcdef');
      // Allowed, the content is read (and would be sent): the check is what kept it back.
      const allowed = await prepareCompose(project(wd), { allowOutside: true, log: noopLog });
      expect(allowed.model.services.web!.environment).toEqual({ TOKEN: 'runner-token-abcdef' });
    }
  });

  it('prepareCompose refuses compose files that include or extend a file outside, at any depth, before compose reads it', async () => {
    const shared = (home: string) => {
      writeFileSync(
        path.join(home, 'shared.yaml'),
        'services:\n  stolen:\n    image: busybox\n    environment: { TOKEN: runner-token-abcdef }\n',
      );
      return path.join(home, 'shared.yaml');
    };
    const cases: Array<{
      what: string;
      files: (home: string) => Record<string, string>;
      links?: Record<string, string>;
      names: string;
    }> = [
      {
        what: 'include of an absolute path',
        files: (home) => ({
          'compose.yaml': `include: [${JSON.stringify(shared(home))}]\nservices:\n  web:\n    image: busybox\n`,
        }),
        names: 'compose.yaml: include',
      },
      {
        what: 'include through a link',
        files: (home) => {
          shared(home);
          return {
            'compose.yaml': 'include:\n  - path: lib/shared.yaml\nservices:\n  web:\n    image: busybox\n',
          };
        },
        links: { lib: '$HOME' },
        names: 'compose.yaml: include',
      },
      {
        what: 'extends.file in an included file',
        files: (home) => ({
          'compose.yaml': 'include: [inner/compose.yaml]\nservices:\n  web:\n    image: busybox\n',
          'inner/compose.yaml': `services:\n  api:\n    extends:\n      file: ${JSON.stringify(path.relative(path.join(home, '../repo/inner'), shared(home)))}\n      service: stolen\n`,
        }),
        names: 'inner/compose.yaml: service "api" extends.file',
      },
      {
        what: "an included project's .env",
        files: () => ({
          'compose.yaml': 'include: [inner/compose.yaml]\nservices:\n  web:\n    image: busybox\n',
          'inner/compose.yaml': 'services:\n  api:\n    image: busybox\n    environment: [TOKEN]\n',
        }),
        links: { 'inner/.env': '$HOME/.kube/config' },
        names: 'compose.yaml: include (its .env)',
      },
    ];
    for (const c of cases) {
      const root = realpathSync(mkdtempSync(path.join(tmpdir(), 'outside-')));
      const home = path.join(root, 'home');
      mkdirSync(path.join(home, '.kube'), { recursive: true });
      writeFileSync(path.join(home, '.kube/config'), 'TOKEN=runner-token-abcdef\n');
      const wd = path.join(root, 'repo');
      for (const [f, text] of Object.entries(c.files(home))) {
        mkdirSync(path.dirname(path.join(wd, f)), { recursive: true });
        writeFileSync(path.join(wd, f), text);
      }
      for (const [f, target] of Object.entries(c.links ?? {}))
        symlinkSync(target.replace('$HOME', home), path.join(wd, f));
      const err = await rejected(prepareCompose(project(wd), { allowOutside: false, log: noopLog }));
      expect(err.message, c.what).toContain(c.names);
      expect(err.message, c.what).toContain(home);
      expect(err.message, c.what).not.toContain('runner-token-abcdef');
      // Allowed, compose reads it and the token reaches the model: the check is what kept it back.
      const allowed = await prepareCompose(project(wd), { allowOutside: true, log: noopLog });
      expect(JSON.stringify(allowed.model), c.what).toContain('runner-token-abcdef');
    }
  });

  it('follows include and extends inside the working directory', async () => {
    const { wd } = workspace({
      'compose.yaml':
        'include: [parts/db.yaml]\nservices:\n  web:\n    extends: { file: parts/base.yaml, service: base }\n',
      'parts/db.yaml': 'services:\n  db:\n    image: busybox\n',
      'parts/base.yaml': 'services:\n  base:\n    image: busybox\n    command: ["true"]\n',
    });
    const prepared = await prepareCompose(project(wd), { allowOutside: false, log: noopLog });
    expect(Object.keys(prepared.model.services).sort()).toEqual(['db', 'web']);
  });

  it("refuses the project's own files when the checkout links them outside: compose files, .env, env files", async () => {
    const { wd, home } = workspace(
      { 'real.yaml': 'services:\n  web:\n    image: busybox\n' },
      {
        'compose.yaml': '$HOME/.kube/config',
        '.env': '$HOME/.kube/config',
        'preview.env': '$HOME/.kube/config',
      },
    );
    const err = await rejected(
      prepareCompose(project(wd, { envFiles: ['preview.env'] }), { allowOutside: false, log: noopLog }),
    );
    const via = `leads through a symlink to ${path.join(home, '.kube/config')}`;
    expect(err.message).toContain(`compose file compose.yaml: ${path.join(wd, 'compose.yaml')} ${via}`);
    expect(err.message).toContain(`env file preview.env: ${path.join(wd, 'preview.env')} ${via}`);
    expect(err.message).toContain(`.env: ${path.join(wd, '.env')} ${via}`);
    expect(err.message).not.toContain('runner-token-abcdef');
    // The same files, when they are the project's own, are fine.
    const ok = workspace({ 'compose.yaml': 'services:\n  web:\n    image: busybox\n', '.env': 'A=1\n' });
    await expect(
      prepareCompose(project(ok.wd), { allowOutside: false, log: noopLog }),
    ).resolves.toBeDefined();
  });

  it("never lets compose interpolate or pass on the action's inputs and the runner's tokens", async () => {
    const { wd } = workspace({
      'compose.yaml': [
        'services:',
        '  web:',
        '    image: busybox',
        '    environment:',
        // biome-ignore lint/suspicious/noTemplateCurlyInString: compose interpolation, not a JS template
        '      - KC=${INPUT_KUBECONFIG:-none}',
        '      - INPUT_GITHUB-TOKEN',
        '      - ACTIONS_ID_TOKEN_REQUEST_TOKEN',
        // biome-ignore lint/suspicious/noTemplateCurlyInString: compose interpolation, not a JS template
        '      - KEPT=${KEPT}',
        '      - KEPT2',
      ].join('\n'),
    });
    const runnerEnv = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      INPUT_KUBECONFIG: 'kubeconfig-secret',
      'INPUT_GITHUB-TOKEN': 'ghs_secret',
      ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'oidc-secret',
      KEPT: 'k',
      KEPT2: 'k2',
    };
    const m = await loadComposeModel(project(wd), composeEnv(runnerEnv));
    expect(m.services.web!.environment).toEqual({
      KC: 'none',
      KEPT: 'k',
      KEPT2: 'k2',
      'INPUT_GITHUB-TOKEN': null,
      ACTIONS_ID_TOKEN_REQUEST_TOKEN: null,
    });
    // The nulls would be filled from the environment of `compose up`: the rewrite drops them.
    const r = rewriteForDockerHost(m, { workingDirectory: wd, envId: 'x' });
    expect(r.model.services.web!.environment).toEqual({ KC: 'none', KEPT: 'k', KEPT2: 'k2' });
    expect(composeEnv({ ...runnerEnv, DOCKER_HOST: 'x' }, 'tcp://127.0.0.1:1')).toEqual({
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      KEPT: 'k',
      KEPT2: 'k2',
      DOCKER_HOST: 'tcp://127.0.0.1:1',
    });
  });
});

describe('input working-directory', () => {
  it('is refused when the checkout makes it a symlink leading out of the workspace', () => {
    const { wd, home } = workspace({}, { app: '$HOME', inside: '.' });
    const source = (values: Record<string, string>) => (name: string) => values[name] ?? '';
    const kubeconfig =
      'apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\ncurrent-context: x\n';
    const err = thrownBy(InputError, () => getInputs(source({ kubeconfig, 'working-directory': 'app' }), wd));
    expect(err.message).toBe(
      `Input "working-directory": ${path.join(wd, 'app')} leads through a symlink to ${home}, outside the workspace`,
    );
    expect(getInputs(source({ kubeconfig, 'working-directory': 'inside' }), wd).workingDirectory).toBe(
      path.join(wd, 'inside'),
    );
  });
});
