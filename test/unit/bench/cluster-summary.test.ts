import { describe, expect, it } from 'vitest';
import { deploySummary, type Round } from '../../../bench/cluster-deploy.js';
import { tunnelSummary } from '../../../bench/cluster-tunnel.js';
import type { ActionRunResult } from '../../../bench/lib/action-run.js';

const MB200 = 200_000_000;

function run(ms: number, phases: Record<string, number> = {}): ActionRunResult {
  return {
    code: 0,
    ms,
    firstLineMs: 400,
    peakRss: 150_000_000,
    phases: Object.entries(phases).map(([name, p]) => ({ name, ms: p })),
    outputs: {},
    tail: '',
  };
}

describe('the cluster tunnel benchmark summary', () => {
  it('prints every way with the ratios of throughput against kubectl and direct', () => {
    const lines = tunnelSummary(
      MB200,
      { tunnel: [2000, 2100, 1900], kubectl: [4000, 4200, 3800], direct: [1000, 900, 1100] },
      [],
    ).join('\n');
    expect(lines).toContain('tunnel (openTunnel, WebSocket port-forward)      2.00  100.0  2.00 2.10 1.90');
    expect(lines).toContain('kubectl port-forward pod/X :2375');
    expect(lines).toContain('tunnel / kubectl port-forward throughput: 2.00');
    expect(lines).toContain('tunnel / direct throughput: 0.50  (target >= 0.5: ok)');
    expect(lines).toContain('kubectl port-forward / direct throughput: 0.25');
  });

  it('prints the reason of a skipped way instead of its ratio', () => {
    const lines = tunnelSummary(MB200, { tunnel: [2000], direct: [500] }, [
      'kubectl: kubectl is not on PATH',
    ]);
    const text = lines.join('\n');
    expect(text).not.toContain('kubectl port-forward throughput');
    expect(text).toContain('tunnel / direct throughput: 0.25  (target >= 0.5: MISSED)');
    expect(lines.at(-1)).toBe('skipped, kubectl: kubectl is not on PATH');
  });
});

describe('the cluster deploy benchmark summary', () => {
  const phases = {
    'Wait for the Docker host': 3000,
    'Connect to Docker': 100,
    'Upload the files': 200,
    'Build and start the services': 4000,
  };
  it('compares the first up with its own wait for the docker host plus compose through each way', () => {
    const rounds: Round[] = [
      { first: run(10_000, phases), second: run(2000), compose: { kubectl: 5000, direct: 4000 } },
    ];
    const text = deploySummary(rounds, new Map()).join('\n');
    expect(text).toContain(
      'first up / (its wait for the docker host + docker compose up --build through kubectl port-forward): 1.25  (target <= 1.3: ok)',
    );
    expect(text).toContain(
      'first up / (its wait for the docker host + docker compose up --build through direct (pod IP:2375)): 1.43  (target <= 1.3: MISSED)',
    );
    expect(text).toContain(
      "the action's tunnel part / docker compose up --build through kubectl port-forward: 0.86",
    );
    expect(text).toContain('second up, nothing changed / first up: 0.20  (target <= 0.3: ok)');
  });

  it('says which baselines were skipped and why, and still gives the action alone', () => {
    const rounds: Round[] = [{ first: run(10_000, phases), second: run(5000), compose: {} }];
    const lines = deploySummary(rounds, new Map([['direct', '10.0.0.1:2375 is not reachable']]));
    const text = lines.join('\n');
    expect(text).not.toContain('first up / (');
    expect(text).toContain('second up, nothing changed / first up: 0.50  (target <= 0.3: MISSED)');
    expect(lines.at(-1)).toBe('skipped, direct: 10.0.0.1:2375 is not reachable');
  });
});
