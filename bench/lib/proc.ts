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
