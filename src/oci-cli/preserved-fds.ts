// runc's --preserve-fds N: the caller's descriptors 3 … 3+N-1 become the
// process's. A VM cannot receive host descriptors, so each is relayed: the
// process gets a pipe at the same number, and Hako copies between that pipe
// and the caller's descriptor. What can be relayed is a pipe (or FIFO) or a
// regular file, opened for reading or for writing; anything else (a socket,
// a device, a descriptor open both ways) is refused with an error naming it.
// The process sees a pipe either way: it cannot seek, and no second process
// shares the file offset.
import { createReadStream, createWriteStream, fstatSync, readFileSync, readlinkSync } from 'node:fs';
import { HakoError, messageOf } from '../errors.js';
import type { ExtraFd, ProcessIo } from '../runtime/process-io.js';
import type { StdioEntry } from './spawn-helper.js';

/** Most descriptors preserved (the agent's limit). */
export const MAX_PRESERVED_FDS = 32;
/** Where a helper (relay, exec relay) holds the preserved descriptors: after its report pipe and the caller's stdout and stderr. */
export const HELPER_FD_BASE = 6;

/** What the checks need of the OS. */
export interface FdPort {
  /** The descriptor's file type, or undefined if it is not open. */
  kind(
    fd: number,
  ): 'fifo' | 'file' | 'socket' | 'character device' | 'directory' | 'special file' | undefined;
  /** O_ACCMODE of its open flags: 0 read, 1 write, 2 both. */
  accessMode(fd: number): number;
  /** What it refers to, as /proc shows it (socket:[123], anon_inode:[eventpoll], a path). */
  describe(fd: number): string;
}

export const realFdPort: FdPort = {
  kind(fd) {
    let st;
    try {
      st = fstatSync(fd);
    } catch {
      return undefined;
    }
    if (st.isFIFO()) return 'fifo';
    if (st.isFile()) return 'file';
    if (st.isSocket()) return 'socket';
    if (st.isCharacterDevice()) return 'character device';
    if (st.isDirectory()) return 'directory';
    return 'special file';
  },
  accessMode(fd) {
    const text = readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8');
    const flags = /^flags:\s+([0-7]+)$/m.exec(text)?.[1];
    return flags === undefined ? 2 : parseInt(flags, 8) & 3;
  },
  describe(fd) {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      return 'unknown';
    }
  },
};

function bad(message: string): HakoError {
  return new HakoError('INVALID_ARGUMENT', message);
}

/** Checks `--preserve-fds value` against this process's descriptors; returns each one's direction. */
export function preservedFds(value: string | undefined, port: FdPort = realFdPort): ExtraFd[] {
  if (value === undefined || value === '0') return [];
  if (!/^\d{1,3}$/.test(value) || Number(value) > MAX_PRESERVED_FDS)
    throw bad(`--preserve-fds ${value}: not a count from 0 to ${MAX_PRESERVED_FDS}`);
  const out: ExtraFd[] = [];
  for (let fd = 3; fd < 3 + Number(value); fd++) {
    const kind = port.kind(fd);
    if (kind === undefined) throw bad(`--preserve-fds ${value}: descriptor ${fd} is not open`);
    if (kind !== 'fifo' && kind !== 'file') {
      // Unless the caller passed it, this process's own (Node's event loop) holds the number.
      throw bad(
        `--preserve-fds ${value}: descriptor ${fd} is ${port.describe(fd)} (a ${kind}), not a pipe or a regular file: only those can be relayed into the VM`,
      );
    }
    const mode = port.accessMode(fd);
    if (mode !== 0 && mode !== 1) {
      throw bad(
        `--preserve-fds ${value}: descriptor ${fd} is open for reading and writing; a relay carries one direction, so open it for one`,
      );
    }
    out.push({ output: mode === 1 });
  }
  return out;
}

/** The directions as a helper's argument ("w,r,…"), and back. */
export function encodeFds(fds: readonly ExtraFd[]): string {
  return fds.map((f) => (f.output ? 'w' : 'r')).join(',');
}

export function decodeFds(text: string | undefined): ExtraFd[] {
  if (text === undefined || text === '') return [];
  const parts = text.split(',');
  if (parts.length > MAX_PRESERVED_FDS || parts.some((p) => p !== 'w' && p !== 'r'))
    throw new HakoError('INVALID_ARGUMENT', `--extra-fds ${text}: not a list of w and r`);
  return parts.map((p) => ({ output: p === 'w' }));
}

/** A helper's `stdio` with this process's descriptors 3, 4, … added at HELPER_FD_BASE, …. */
export function withPreservedFds(stdio: readonly StdioEntry[], fds: readonly ExtraFd[]): StdioEntry[] {
  if (fds.length === 0) return [...stdio];
  const padded: StdioEntry[] = [...stdio];
  while (padded.length < HELPER_FD_BASE) padded.push('ignore');
  return [...padded, ...fds.map((_, i) => 3 + i)];
}

/**
 * Relays each descriptor this process holds at `base + i` to and from the
 * process's fd 3 + i, until the process's side ends. Resolves when every
 * output has been copied out.
 */
export function relayFds(
  io: ProcessIo,
  fds: readonly ExtraFd[],
  base: number,
  warn: (m: string) => void,
): Promise<void> {
  const outputs: Promise<void>[] = [];
  fds.forEach((f, i) => {
    const fd = base + i;
    if (f.output) {
      const sink = createWriteStream('/dev/null', { fd, autoClose: true });
      sink.on('error', () => undefined);
      outputs.push(
        io
          .pipeOutput(3 + i, sink)
          .catch((e: unknown) => warn(`descriptor ${3 + i}: ${messageOf(e)}`))
          .finally(() => sink.end()),
      );
    } else {
      const source = createReadStream('/dev/null', { fd, autoClose: true });
      io.pipeInput(source, { fd: 3 + i }).catch((e: unknown) => warn(`descriptor ${3 + i}: ${messageOf(e)}`));
    }
  });
  return Promise.all(outputs).then(() => undefined);
}
