// Starts one of Hako's own helper processes (relay, exec relay): the `hako`
// executable with a hidden command, the caller's global options, the given
// stdio, and a report pipe on fd 3. Detached: it outlives the command.
//
// A detached helper must not hold the caller's stdout and stderr longer
// than the container does: a caller reading them to EOF (a test harness,
// `$(hako run -d …)`) would wait for the container's end. So the helper's
// own fds 1 and 2 are /dev/null, and the caller's come at CALLER_FDS, as
// streams the helper closes when the process's output ends.
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { Writable } from 'node:stream';
import { CappedLog } from '../sys/capped-log.js';
import { join } from 'node:path';
import type { GlobalOptions } from '../cli/wiring.js';
import { repoDir } from '../home.js';

export function globalArgs(g: GlobalOptions, root: string): string[] {
  return [
    '--root',
    root,
    ...(g.config !== undefined ? ['--config', g.config] : []),
    ...(g.log !== undefined ? ['--log', g.log] : []),
    '--log-format',
    g.logFormat,
    ...(g.debug ? ['--debug'] : []),
  ];
}

/** Where a detached helper finds the caller's stdout and stderr. */
const CALLER_FDS = { stdout: 4, stderr: 5 } as const;

/** One of a helper's stdio entries: a kind, or a descriptor of this process. */
export type StdioEntry = 'ignore' | 'inherit' | 'pipe' | number;

/** The stdio of a detached helper: the caller's stdin; its stdout and stderr at CALLER_FDS, unless a terminal is handed over instead. */
export function helperStdio(consoleSocket: boolean): StdioEntry[] {
  return consoleSocket
    ? ['ignore', 'ignore', 'ignore', 'pipe']
    : ['inherit', 'ignore', 'ignore', 'pipe', 1, 2];
}

/** Where a process's output goes, and whether to close it when the output ends. */
export interface CallerOutputs {
  readonly stdout: Writable;
  readonly stderr: Writable;
  /** Close each when its stream ends (a detached helper's copies of the caller's). */
  readonly closeAtEnd: boolean;
}

/** This process's own stdout and stderr (a foreground command). */
export function ownOutputs(): CallerOutputs {
  return { stdout: process.stdout, stderr: process.stderr, closeAtEnd: false };
}

/** In a detached helper: the caller's stdout and stderr (helperStdio). */
export function callerOutputs(): CallerOutputs {
  // Writes go through the thread pool: a caller that stops reading blocks a
  // thread, never this process's event loop.
  const open = (fd: number) => createWriteStream('/dev/null', { fd, autoClose: true });
  return { stdout: open(CALLER_FDS.stdout), stderr: open(CALLER_FDS.stderr), closeAtEnd: true };
}

/** Most a detached container's log holds (it lives with the state, often on tmpfs). */
export const MAX_CONTAINER_LOG = 16 << 20;

/** A docker-style detached container's stdout and stderr, both into its log. */
export function logOutputs(path: string): CallerOutputs {
  const log = new CappedLog(path, MAX_CONTAINER_LOG);
  const sink = () => {
    log.retain();
    return new Writable({
      write(chunk: Buffer, _enc, done) {
        log.write(chunk);
        done();
      },
      final(done) {
        log.close();
        done();
      },
    });
  };
  return { stdout: sink(), stderr: sink(), closeAtEnd: true };
}

/**
 * Starts `hako ARGS` detached; with `wrapper` (e.g. `unshare --net --`),
 * through it: the wrapper executes hako in its place, so the pid is hako's.
 */
export function spawnHelper(
  args: readonly string[],
  stdio: StdioOptions,
  wrapper: readonly string[] = [],
  env?: Readonly<Record<string, string>>,
): ChildProcess {
  const hako = join(repoDir(), 'bin', 'hako');
  const [cmd, ...rest] = wrapper.length > 0 ? [...wrapper, hako, ...args] : [hako, ...args];
  return spawn(cmd ?? hako, rest, {
    stdio,
    detached: true,
    ...(env ? { env: { ...process.env, ...env } } : {}),
  });
}
