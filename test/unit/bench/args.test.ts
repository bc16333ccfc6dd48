import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { BenchArgsError, parseBenchArgs } from '../../../bench/lib/args.js';
import { directToPod, kubectlPortForward } from '../../../bench/lib/ways.js';

const dir = mkdtempSync(path.join(tmpdir(), 'bench-args-'));
const kubeconfig = path.join(dir, 'kubeconfig.yaml');
writeFileSync(kubeconfig, 'apiVersion: v1\nkind: Config\n');

function error(argv: string[]): BenchArgsError {
  try {
    parseBenchArgs(argv);
  } catch (err) {
    if (err instanceof BenchArgsError) return err;
    throw err;
  }
  throw new Error(`no error for ${argv.join(' ')}`);
}

describe('npm run bench arguments', () => {
  it('runs every simulator benchmark without arguments, and --only picks some', () => {
    expect(parseBenchArgs([])).toMatchObject({
      mode: 'sim',
      only: ['tunnel', 'deploy', 'upload', 'build', 'down', 'cold'],
    });
    expect(parseBenchArgs(['--only=tunnel,cold', '--tsx'])).toMatchObject({
      mode: 'sim',
      only: ['tunnel', 'cold'],
      tsx: true,
    });
  });

  it('targets a cluster with a kubeconfig file and a namespace, with small sizes when asked', () => {
    const args = parseBenchArgs([
      '--kubeconfig',
      kubeconfig,
      '--namespace',
      'previews',
      '--size-mb',
      '5',
      '--rounds=1',
    ]);
    expect(args).toMatchObject({
      mode: 'cluster',
      only: ['tunnel', 'deploy'],
      kubeconfigFile: kubeconfig,
      kubeconfig: 'apiVersion: v1\nkind: Config\n',
      namespace: 'previews',
      bytes: 5_000_000,
      rounds: 1,
    });
  });

  it('names the missing flag: a namespace without a kubeconfig, a kubeconfig without a namespace', () => {
    expect(error(['--namespace', 'previews']).message).toMatch(/^--kubeconfig is missing/);
    const e = error(['--kubeconfig', kubeconfig]);
    expect(e.message).toMatch(/^--namespace is missing/);
    expect(e.hint).toContain('--namespace NS');
  });

  it('names the kubeconfig file that cannot be read, and the reason', () => {
    const missing = path.join(dir, 'nope.yaml');
    const e = error(['--kubeconfig', missing, '--namespace', 'previews']);
    expect(e.message).toBe(`--kubeconfig: cannot read ${missing} (ENOENT)`);
    expect(error(['--kubeconfig', dir, '--namespace', 'previews']).message).toContain('(EISDIR)');
  });

  it('rejects a namespace that is not a DNS label', () => {
    expect(error(['--kubeconfig', kubeconfig, '--namespace', 'Previews_1']).message).toBe(
      '--namespace: "Previews_1" is not a namespace name',
    );
  });

  it('rejects simulator-only benchmarks against a cluster, saying which run where', () => {
    const e = error(['--kubeconfig', kubeconfig, '--namespace', 'p', '--only=tunnel,upload']);
    expect(e.message).toContain('--only: unknown benchmark upload against a cluster');
    expect(e.hint).toBe('known: tunnel, deploy');
  });

  it('rejects a --kubectl that is not an executable, a bad size, and cluster flags without a cluster', () => {
    expect(error(['--kubectl', path.join(dir, 'kubectl')]).message).toContain('--kubectl:');
    expect(error(['--kubectl', kubeconfig]).message).toContain('is not an executable file');
    expect(error(['--kubeconfig', kubeconfig, '--namespace', 'p', '--size-mb', '0']).message).toContain(
      '--size-mb: "0"',
    );
    expect(error(['--rounds', '2']).message).toContain('--rounds is for a run against a cluster');
    expect(error(['--kubeconfg', kubeconfig]).message).toContain("'--kubeconfg'");
  });
});

describe("the baselines' ways to the pod", () => {
  it('skips the kubectl baseline with the reason when there is no kubectl', async () => {
    const way = await kubectlPortForward({
      kubectl: undefined,
      kubeconfigFile: kubeconfig,
      namespace: 'p',
      pod: 'x',
    });
    expect(way).toEqual({ ok: false, reason: expect.stringContaining('kubectl is not on PATH') });
  });

  it("skips the kubectl baseline with kubectl's own error when the port-forward fails", async () => {
    const fake = path.join(dir, 'kubectl-fails');
    writeFileSync(
      fake,
      '#!/bin/sh\necho \'error: pods "x" is forbidden: cannot create resource "pods/portforward"\' >&2\nexit 1\n',
    );
    chmodSync(fake, 0o755);
    const way = await kubectlPortForward({
      kubectl: fake,
      kubeconfigFile: kubeconfig,
      namespace: 'p',
      pod: 'x',
    });
    expect(way.ok).toBe(false);
    if (!way.ok) {
      expect(way.reason).toContain('port-forward pod/x :2375` failed: it exited (code 1)');
      expect(way.reason).toContain('cannot create resource "pods/portforward"');
    }
  });

  it('skips the direct baseline when the pod IP does not answer, and says why it may not', async () => {
    // A loopback address where nothing listens: tests send nothing beyond this machine.
    const way = await directToPod('127.0.0.254', 300);
    expect(way.ok).toBe(false);
    if (!way.ok) {
      expect(way.reason).toContain('127.0.0.254:2375 is not reachable from this machine');
      expect(way.reason).toContain('listens on 127.0.0.1 only');
    }
    expect(await directToPod(undefined)).toEqual({ ok: false, reason: expect.stringContaining('no IP') });
  });
});
