// A Unix socket only our uid can connect to, from the moment it exists:
// bound under a umask that leaves it 0600 (bind is synchronous in Node, so
// no other file of ours is created meanwhile with that umask, and one
// would only be more private), in a directory of ours, then checked. The
// kernel applies the file's mode at every connect: that is the peer check
// (Node cannot read SO_PEERCRED).
import { lstat } from 'node:fs/promises';
import type { Server } from 'node:net';
import { HakoError } from '../errors.js';

export async function listenPrivate(server: Server, path: string): Promise<void> {
  const listening = new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.once('listening', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const old = process.umask(0o177);
  try {
    server.listen(path);
  } finally {
    process.umask(old);
  }
  await listening;
  const s = await lstat(path);
  if (!s.isSocket() || (s.mode & 0o077) !== 0 || s.uid !== (process.getuid?.() ?? 0)) {
    server.close();
    throw new HakoError('INTERNAL', `socket ${path} is not private (mode ${(s.mode & 0o777).toString(8)})`);
  }
}
