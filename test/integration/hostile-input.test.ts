import { mkdirSync, mkdtempSync, readFileSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { up } from '../../src/commands/up.js';
import { ActionError, errorMessage } from '../../src/errors.js';
import type { Inputs } from '../../src/inputs.js';
import { useSim } from '../e2e/support.js';
import {
  ctxFor,
  expectRejects,
  hasCompose,
  inputsFor,
  NAMESPACE,
  template,
  templateText,
  userObjects,
} from './harness.js';

/** A PR's compose project next to a runner "home" holding a kubeconfig, the way a checkout sits on a runner. */
function runnerWorkspace(files: Record<string, string>, links: Record<string, string> = {}) {
  const root = realpathSync(mkdtempSync(path.join(tmpdir(), 'hostile-')));
  const home = path.join(root, 'home/runner');
  mkdirSync(path.join(home, '.kube'), { recursive: true });
  const secret = `runner-kube-token-${Math.random().toString(36).slice(2)}`;
  writeFileSync(path.join(home, '.kube/config'), `TOKEN=${secret}\n`);
  const wd = path.join(root, 'work/shop');
  for (const [f, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(wd, f)), { recursive: true });
    writeFileSync(path.join(wd, f), text.replaceAll('$RUNNER_HOME', home));
  }
  for (const [f, target] of Object.entries(links)) {
    mkdirSync(path.dirname(path.join(wd, f)), { recursive: true });
    symlinkSync(target.replaceAll('$RUNNER_HOME', home), path.join(wd, f));
  }
  return { wd, home, secret };
}

/** Every case fails before the cluster sees a write, without echoing a credential. */
describe('hostile input is refused before anything is applied', () => {
  const kube = useSim();

  // The environment's lock (a Lease) is taken and given back around every run; nothing else may be written.
  const writes = () =>
    kube.sim.audit.filter(
      (a) => !['GET', 'HEAD', 'OPTIONS'].includes(a.method) && !a.path.includes('/leases'),
    ).length;

  async function refused(over: Partial<Inputs>, ...patterns: RegExp[]): Promise<string> {
    const objects = [...userObjects(kube.sim).keys()].sort();
    const before = writes();
    const err = await expectRejects(up(inputsFor(kube.sim, over), ctxFor(9)));
    expect(err).toBeInstanceOf(ActionError);
    const msg = errorMessage(err);
    for (const p of patterns) expect(msg).toMatch(p);
    expect(writes()).toBe(before);
    expect([...userObjects(kube.sim).keys()].sort()).toEqual(objects);
    for (const ns of [NAMESPACE, 'other', 'kube-system', 'default']) {
      expect(
        kube.sim.store.list('', 'pods', { namespace: ns, labelSelector: 'preevy.dev/env-id=shop-pr-9' }),
      ).toEqual([]);
    }
    expect(msg).not.toContain(kube.sim.adminToken);
    return msg;
  }

  describe('templates', () => {
    it('overriding the namespace variable does not move objects out of the namespace', async () => {
      const file = template('full.yaml.njk', {
        '{# A template': '{% set namespace = "kube-system" %}\n{# A template',
      });
      await refused({ template: file }, /kube-system/, /previews/);
    });

    it('a ClusterRoleBinding to cluster-admin', async () => {
      const file = template('full.yaml.njk', {
        '---\napiVersion: v1\nkind: Service\n': `---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: {{ id }}-admin
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}
subjects: [{kind: ServiceAccount, name: {{ id }}-sa, namespace: {{ namespace }}}]
---
apiVersion: v1
kind: Service
`,
      });
      await refused({ template: file }, /ClusterRoleBinding\/.*-admin/, /cluster-scoped/i);
    });

    it('a Namespace, and a RoleBinding in kube-system', async () => {
      const file = template('full.yaml.njk', {
        '---\napiVersion: v1\nkind: Service\n': `---
apiVersion: v1
kind: Namespace
metadata: {name: {{ id }}-ns}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: {{ id }}-rb, namespace: kube-system}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}
subjects: [{kind: ServiceAccount, name: default, namespace: {{ namespace }}}]
---
apiVersion: v1
kind: Service
`,
      });
      await refused({ template: file }, /Namespace\/.*-ns/, /RoleBinding\/.*-rb/, /kube-system/);
    });

    it('a v1 List that carries objects for another namespace', async () => {
      const file = templateText(`${templateTextOf('full.yaml.njk')}
---
apiVersion: v1
kind: List
metadata: {name: sneaky}
items:
  - apiVersion: v1
    kind: Secret
    metadata: {name: x, namespace: kube-system}
`);
      await refused({ template: file }, /List/);
    });
  });

  describe('kubeconfigs that would run a program', () => {
    const withUser = (user: Record<string, unknown>) => {
      const kc = parse(kube.sim.kubeconfig({ namespace: NAMESPACE })) as { users: Array<{ user: unknown }> };
      kc.users[0]!.user = user;
      return stringify(kc);
    };

    it('an exec credential plugin, refused before any request', async () => {
      const audit = kube.sim.audit.length;
      await refused(
        {
          kubeconfig: withUser({
            exec: {
              apiVersion: 'client.authentication.k8s.io/v1',
              command: '/bin/sh',
              args: ['-c', 'touch /tmp/pwned'],
            },
          }),
        },
        /exec plugin/,
        /allow-kubeconfig-exec/,
      );
      expect(kube.sim.audit.length).toBe(audit);
    });

    it('an auth-provider, refused before any request', async () => {
      const audit = kube.sim.audit.length;
      await refused(
        {
          kubeconfig: withUser({
            'auth-provider': {
              name: 'oidc',
              config: { 'id-token': 'provider-secret-token', 'refresh-token': 'r' },
            },
          }),
        },
        /auth-provider "oidc"/,
        /allow-kubeconfig-exec/,
      );
      expect(kube.sim.audit.length).toBe(audit);
    });
  });

  describe.skipIf(!hasCompose)('compose projects that reach the runner', () => {
    const composeInputs = (wd: string): Partial<Inputs> => ({ workingDirectory: wd, composeFiles: [] });

    it("an env_file of the runner's kubeconfig, named directly", async () => {
      const { wd, secret } = runnerWorkspace({
        'compose.yaml': 'services:\n  web:\n    image: busybox\n    env_file: $RUNNER_HOME/.kube/config\n',
      });
      const msg = await refused(
        composeInputs(wd),
        /env_file/,
        /\.kube\/config is outside the working directory/,
      );
      expect(msg).not.toContain(secret);
    });

    it('an env_file through a symlinked directory, and one through a variable set in .env', async () => {
      const { wd, secret } = runnerWorkspace(
        {
          'compose.yaml':
            // biome-ignore lint/suspicious/noTemplateCurlyInString: compose interpolation, not a JS template
            'services:\n  web:\n    image: busybox\n    env_file: [config/config, "${KUBE_DIR}/config"]\n',
          '.env': 'KUBE_DIR=../../home/runner/.kube\n',
        },
        { config: '$RUNNER_HOME/.kube' },
      );
      const msg = await refused(
        composeInputs(wd),
        /leads through a symlink to .*\.kube\/config/,
        /home\/runner\/\.kube\/config is outside/,
      );
      expect(msg).not.toContain(secret);
    });

    it('a build context of the parent directory, a Dockerfile of the runner, a bind through a link', async () => {
      const { wd } = runnerWorkspace(
        {
          'compose.yaml': [
            'services:',
            '  up:',
            '    build: ..',
            '  df:',
            '    build: {context: ., dockerfile: $RUNNER_HOME/.kube/config}',
            '  bind:',
            '    image: busybox',
            '    volumes: ["./kube/config:/c:ro"]',
          ].join('\n'),
        },
        { kube: '$RUNNER_HOME/.kube' },
      );
      await refused(
        composeInputs(wd),
        /service "up" build\.context: .* is outside/,
        /service "df" build\.dockerfile: .*\.kube\/config is outside/,
        /service "bind" volume \/c: .*kube\/config leads through a symlink/,
      );
    });

    it('a symlink deep in a bind-mounted directory, found before the cluster is touched', async () => {
      const { wd } = runnerWorkspace(
        {
          'compose.yaml': 'services:\n  web:\n    image: busybox\n    volumes: ["./site:/www:ro"]\n',
          'site/index.html': 'hi',
        },
        { 'site/a/b/c/kubeconfig': '$RUNNER_HOME/.kube/config' },
      );
      await refused(composeInputs(wd), /site\/a\/b\/c\/kubeconfig is a symlink to .*\.kube\/config, outside/);
    });

    it('compose-policy strict refuses a privileged service and a bind of the Docker socket, listing both', async () => {
      const { wd } = runnerWorkspace({
        'compose.yaml': stringify({
          services: {
            root: { image: 'busybox', privileged: true },
            sock: { image: 'docker', volumes: ['/var/run/docker.sock:/var/run/docker.sock'] },
          },
        }),
      });
      await refused(
        { ...composeInputs(wd), composePolicy: 'strict' },
        /compose-policy is strict/,
        /service "root": privileged: true/,
        /service "sock": volumes: \/var\/run\/docker\.sock:\/var\/run\/docker\.sock/,
      );
    });
  });
});

function templateTextOf(name: string): string {
  return readFileSync(path.join(path.dirname(new URL(import.meta.url).pathname), 'templates', name), 'utf8');
}
