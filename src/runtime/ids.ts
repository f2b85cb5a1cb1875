// Sandbox and container ids: what the agent accepts, and short enough that
// the sockets under <state_dir>/<id>/ fit in a Unix socket path.
import { randomBytes } from 'node:crypto';
import { HakoError } from '../errors.js';

export const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

export function checkId(id: string, what = 'container id'): string {
  if (!ID_PATTERN.test(id)) {
    throw new HakoError(
      'INVALID_ARGUMENT',
      `${what} ${JSON.stringify(id)} must be 1 to 128 characters of [A-Za-z0-9_.-], starting with a letter or digit`,
    );
  }
  return id;
}

export function newId(): string {
  return randomBytes(8).toString('hex');
}

/** sun_path holds 108 bytes including the terminating NUL. */
export const MAX_SOCKET_PATH = 107;

export function checkSocketPath(path: string): string {
  if (Buffer.byteLength(path) > MAX_SOCKET_PATH) {
    throw new HakoError(
      'INVALID_ARGUMENT',
      `socket path ${path} is longer than ${MAX_SOCKET_PATH} bytes: use a shorter state_dir or id`,
    );
  }
  return path;
}
