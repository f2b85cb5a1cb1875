// Where a sandbox's sockets and logs go. A Unix socket path holds at most
// 107 bytes, and callers choose long state roots and ids (docker:
// /var/run/docker/runtime-runc/moby/<64 hex>). The sandbox's own directory
// is used when its socket paths fit; otherwise a short directory named by
// the hash of the sandbox directory.
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { MAX_SOCKET_PATH } from './ids.js';

export const SHORT_RUN_ROOT = '/run/hako-run';
/** The longest socket name a sandbox creates in its run directory. */
const LONGEST_SOCKET = 'agent.sock';

/**
 * Where a sandbox's user-mode network daemon (passt, which runs as nobody)
 * binds its socket: outside the run directory, which nobody cannot enter.
 */
export const NET_RUN_ROOT = '/run/hako-net';

export function netDirFor(sandboxDir: string): string {
  return join(NET_RUN_ROOT, createHash('sha256').update(sandboxDir).digest('hex').slice(0, 24));
}

export function runDirFor(sandboxDir: string): string {
  if (Buffer.byteLength(join(sandboxDir, LONGEST_SOCKET)) <= MAX_SOCKET_PATH) return sandboxDir;
  return join(SHORT_RUN_ROOT, createHash('sha256').update(sandboxDir).digest('hex').slice(0, 24));
}
