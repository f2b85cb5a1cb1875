// CLI exit codes for Hako's own failures, as docker and podman use them:
// 125 the runtime failed, 126 the command cannot be run, 127 it does not
// exist. A container's own exit status passes through unchanged.
import { HakoError } from '../errors.js';

export const EXIT_RUNTIME_FAILURE = 125;
export const EXIT_CANNOT_EXECUTE = 126;
export const EXIT_NOT_FOUND = 127;

export function exitCodeFor(e: unknown): number {
  if (e instanceof HakoError) {
    if (e.code === 'EXECUTABLE_NOT_FOUND') return EXIT_NOT_FOUND;
    if (e.code === 'EXECUTABLE_PERMISSION') return EXIT_CANNOT_EXECUTE;
  }
  return EXIT_RUNTIME_FAILURE;
}

/** The signal number behind a Node signal name. */
export function signalNumber(name: NodeJS.Signals): number {
  const n = (
    {
      SIGHUP: 1,
      SIGINT: 2,
      SIGQUIT: 3,
      SIGKILL: 9,
      SIGUSR1: 10,
      SIGUSR2: 12,
      SIGTERM: 15,
      SIGWINCH: 28,
    } as Partial<Record<NodeJS.Signals, number>>
  )[name];
  if (n === undefined) throw new HakoError('INVALID_ARGUMENT', `unsupported signal ${name}`);
  return n;
}
