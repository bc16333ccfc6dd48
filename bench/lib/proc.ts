import fs from 'node:fs';

/** USER_HZ: the unit of /proc/<pid>/stat times, 100 on every Linux ABI. */
const TICKS_PER_SECOND = 100;

/** User + system CPU seconds a live process has used so far. */
export function cpuSeconds(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name, which may itself contain spaces and parentheses.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

/** CPU seconds the whole machine has spent busy so far (all cores; /proc/stat less idle and iowait). */
export function machineBusySeconds(): number {
  const line = fs.readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
  const t = line.trim().split(/\s+/).slice(1).map(Number);
  const total = t.reduce((a, b) => a + b, 0);
  return (total - (t[3] ?? 0) - (t[4] ?? 0)) / TICKS_PER_SECOND;
}
