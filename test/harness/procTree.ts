/** Process-tree helpers: the end-to-end tests kill whole process trees, as a crash would. */
import { spawnSync } from 'node:child_process';

interface Row {
  pid: number;
  ppid: number;
  comm: string;
}

function table(): Row[] {
  const out = spawnSync('ps', ['-e', '-o', 'pid=,ppid=,comm=']).stdout.toString().trim().split('\n');
  return out.map((line) => line.trim().split(/\s+/)).map(([pid, ppid, comm]) => ({ pid: Number(pid), ppid: Number(ppid), comm: comm ?? '' }));
}

/** `pid` and every process below it. */
export function processTree(pid: number): Row[] {
  const rows = table();
  const below = new Set([pid]);
  for (let grew = true; grew;) {
    grew = false;
    for (const r of rows) {
      if (below.has(r.ppid) && !below.has(r.pid)) {
        below.add(r.pid);
        grew = true;
      }
    }
  }
  return rows.filter((r) => below.has(r.pid));
}

/** SIGKILL to a process and all its descendants at once. */
export function killTree(pid: number): void {
  for (const { pid: p } of processTree(pid)) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}
