// Names that say which process made a file: `<pid>.<start time>-…`. The
// start time (from /proc) tells a process that died from a later one that
// got its pid, so leftovers of the dead are found and those of the living kept.
import { HakoError } from '../errors.js';
import type { ProcessTable } from '../sys/procs.js';

/** This process's tag. */
export async function ownTag(procs: ProcessTable): Promise<string> {
  const start = await procs.startTime(process.pid);
  if (start === undefined) throw new HakoError('VM_START_FAILED', "cannot read this process's start time");
  return `${process.pid}.${start}`;
}

/** Whether the process that `name` starts with (`<pid>.<start>-…` or the bare tag) is gone. */
export async function tagGone(procs: ProcessTable, name: string): Promise<boolean> {
  const m = /^(\d+)\.(\d+)(?:-|$)/.exec(name);
  if (!m?.[1] || !m[2]) return false;
  return (await procs.startTime(Number(m[1]))) !== m[2];
}
