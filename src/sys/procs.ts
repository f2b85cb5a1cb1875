// Host processes we started, named by pid and start time so that a recycled
// pid is never mistaken for ours (and never killed).
import { readFile } from 'node:fs/promises';

export interface ProcessRef {
  readonly pid: number;
  /** Field 22 of /proc/<pid>/stat: clock ticks since boot. */
  readonly startTime: string;
}

export interface ProcessTable {
  /** The process's start time, or undefined when no such process runs. */
  startTime(pid: number): Promise<string | undefined>;
  /** Sends a signal; false when the process is gone. */
  kill(pid: number, signal: NodeJS.Signals | 0): boolean;
}

export class RealProcessTable implements ProcessTable {
  async startTime(pid: number): Promise<string | undefined> {
    try {
      const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
      // The command name (field 2) may hold spaces: split after its ')'.
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (rest[0] === 'Z') return undefined; // a zombie has finished
      return rest[19];
    } catch {
      return undefined;
    }
  }

  kill(pid: number, signal: NodeJS.Signals | 0): boolean {
    try {
      process.kill(pid, signal);
      return true;
    } catch {
      return false;
    }
  }
}

export async function refOf(table: ProcessTable, pid: number): Promise<ProcessRef | undefined> {
  const startTime = await table.startTime(pid);
  return startTime === undefined ? undefined : { pid, startTime };
}

/** Whether `ref` still names the same running process. */
export async function isRunning(table: ProcessTable, ref: ProcessRef): Promise<boolean> {
  return (await table.startTime(ref.pid)) === ref.startTime;
}

/** SIGKILLs `ref` if it is still ours, then waits (up to `timeoutMs`) for it to go. */
export async function killAndWait(table: ProcessTable, ref: ProcessRef, timeoutMs = 5000): Promise<boolean> {
  if (!(await isRunning(table, ref))) return true;
  table.kill(ref.pid, 'SIGKILL');
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!(await isRunning(table, ref))) return true;
    await new Promise((r) => setTimeout(r, 10));
  }
  return false;
}
