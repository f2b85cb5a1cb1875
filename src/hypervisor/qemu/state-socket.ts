// Saving a VM template's state without `exec:` (which has QEMU spawn a
// shell): QEMU migrates to a Unix socket we serve (`unix:` URI), and we
// write what it sends to the state file. A confined QEMU reaches the socket
// only in a directory of its own uid's (vmmDir), made here for the save
// and removed after it.
import { createWriteStream } from 'node:fs';
import { constants } from 'node:fs';
import { lchown, mkdir, open, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { vmmDir, VMM_DIRS } from '../../confinement/vmm-uids.js';
import { HakoError, messageOf } from '../../errors.js';

/** Largest saved state accepted (a VM's device state is well under 1 MiB; RAM is not in it). */
const MAX_STATE_BYTES = 64 << 20;

export interface StateReceiver {
  /** The `migrate` URI for QEMU. */
  readonly uri: string;
  /** Settles once QEMU's stream ended and all of it is in the file. */
  readonly received: Promise<number>;
  close(): Promise<void>;
}

/** Serves one migration stream into `statePath` (created, never a link). */
export async function receiveState(
  statePath: string,
  scratch: string,
  uid: number | undefined,
): Promise<StateReceiver> {
  let dir = scratch;
  if (uid !== undefined) {
    await mkdir(VMM_DIRS, { recursive: true, mode: 0o711 });
    dir = vmmDir(uid);
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { mode: 0o700 });
    await lchown(dir, uid, uid);
  }
  const path = join(dir, 'migrate.sock');
  const file = await open(
    statePath,
    constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
    0o600,
  );
  const server = createServer();
  const received = new Promise<number>((resolve, reject) => {
    server.once('connection', (socket) => {
      server.close();
      let bytes = 0;
      socket.on('data', (b: Buffer) => {
        bytes += b.length;
        if (bytes > MAX_STATE_BYTES) socket.destroy(new Error(`more than ${MAX_STATE_BYTES} bytes`));
      });
      pipeline(socket, createWriteStream('', { fd: file.fd, autoClose: false })).then(
        () => resolve(bytes),
        (e: unknown) => reject(new HakoError('VM_START_FAILED', `receiving the VM state: ${messageOf(e)}`)),
      );
    });
  });
  received.catch(() => undefined);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, resolve);
  });
  if (uid !== undefined) await lchown(path, uid, uid);
  return {
    uri: `unix:${path}`,
    received,
    close: async () => {
      server.close();
      await file.close().catch(() => undefined);
      await rm(uid !== undefined ? dir : path, { recursive: true, force: true });
    },
  };
}
