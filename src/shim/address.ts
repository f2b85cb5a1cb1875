// Where a shim daemon listens, and the `address` file containerd reads on
// restart. The socket name is the SHA-256 of containerd's address, the
// namespace and the group (pod) id, so every container of a pod reaches the
// same daemon and two containerds never collide.
import { createHash } from 'node:crypto';
import { connect } from 'node:net';
import { join } from 'node:path';
import { checkSocketPath } from '../runtime/ids.js';
import { writeNew } from '../sys/write-new.js';

/**
 * The daemons' sockets, in the state directory under a name no sandbox id
 * can have (ids start with a letter or digit), so that no sweep takes it
 * for a sandbox.
 */
export const SOCKETS_DIR = '.s';

export function socketPath(
  stateDir: string,
  containerdAddress: string,
  namespace: string,
  group: string,
): string {
  const hash = createHash('sha256').update(`${containerdAddress}/${namespace}/${group}`).digest('hex');
  return checkSocketPath(join(stateDir, SOCKETS_DIR, hash));
}

export function addressOf(path: string): string {
  return `unix://${path}`;
}

export function pathOf(address: string): string {
  return address.replace(/^unix:\/\//, '');
}

/** Writes <bundle>/address atomically. */
export async function writeAddressFile(bundle: string, address: string): Promise<void> {
  await writeNew(join(bundle, 'address'), address);
}

/** Whether something accepts connections on `path`. */
export function isListening(path: string, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    const timer = setTimeout(() => {
      s.destroy();
      resolve(false);
    }, timeoutMs);
    s.once('connect', () => {
      clearTimeout(timer);
      s.destroy();
      resolve(true);
    });
    s.once('error', () => {
      clearTimeout(timer);
      resolve(false);
    });
  });
}
