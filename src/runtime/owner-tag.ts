// Names that say which process made a file: `<pid>.<start time>-…`. The
// start time (from /proc) tells a process that died from a later one that
// got its pid, so leftovers of the dead are found and those of the living kept.
import type { ProcessTable } from '../sys/procs.js';

/** This process's tag, or undefined when its start time cannot be read. */
export async function ownTag(procs: ProcessTable): Promise<string | undefined> {
  const start = await procs.startTime(process.pid);
  return start === undefined ? undefined : `${process.pid}.${start}`;
}

/** Whether the process that `name` starts with (`<pid>.<start>-…` or the bare tag) is gone. */
export async function tagGone(procs: ProcessTable, name: string): Promise<boolean> {
  const m = /^(\d+)\.(\d+)(?:-|$)/.exec(name);
  if (!m?.[1] || !m[2]) return false;
  return (await procs.startTime(Number(m[1]))) !== m[2];
}
