/** The machine a run was measured on, for the output: figures are ratios, but the context still matters. */
import { execFileSync } from 'node:child_process';
import os from 'node:os';

function dockerVersions(): string {
  try {
    return execFileSync('docker', ['version', '--format', 'docker CLI {{.Client.Version}}'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch (err) {
    // Without a local daemon (the usual case against a cluster) the command fails after printing the client's.
    const out = String((err as { stdout?: unknown }).stdout ?? '').trim();
    return out.startsWith('docker CLI ') ? out : 'docker CLI ?';
  }
}

export function machine(): string {
  const cpus = os.cpus();
  const load = os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' ');
  return `machine: ${cpus.length} × ${cpus[0]?.model.trim() ?? '?'}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}, ${dockerVersions()}; load average ${load}`;
}
