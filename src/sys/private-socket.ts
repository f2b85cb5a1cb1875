// A Unix socket only our uid can connect to, from the moment others can
// reach it: it is bound in a fresh directory of ours (mode 0700, so nobody
// else can reach it there), made 0600, then linked into place (failing,
// as a bind would, with EADDRINUSE when something is there), and checked. The process umask is never touched (it is process-wide). The
// kernel applies the file's mode at every connect: that is the peer check
// (Node cannot read SO_PEERCRED).
import { randomBytes } from 'node:crypto';
import { chmod, link, lstat, mkdir, rm } from 'node:fs/promises';
import type { Server } from 'node:net';
import { dirname, join } from 'node:path';
import { HakoError } from '../errors.js';

function listen(server: Server, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

export async function listenPrivate(server: Server, path: string): Promise<void> {
  // Short, so that it fits wherever `path` fits (sun_path is 108 bytes).
  const dir = join(dirname(path), `.${randomBytes(3).toString('hex')}`);
  await mkdir(dir, { mode: 0o700 });
  try {
    const born = join(dir, 's');
    await listen(server, born);
    await chmod(born, 0o600);
    await link(born, path).catch((e: NodeJS.ErrnoException) => {
      throw e.code === 'EEXIST' ? Object.assign(new Error(`${path} exists`), { code: 'EADDRINUSE' }) : e;
    });
  } catch (e) {
    server.close();
    throw e;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  // The server would unlink only the name it was bound at.
  server.once('close', () => void rm(path, { force: true }));
  const s = await lstat(path);
  if (!s.isSocket() || (s.mode & 0o077) !== 0 || s.uid !== (process.getuid?.() ?? 0)) {
    server.close();
    throw new HakoError('INTERNAL', `socket ${path} is not private (mode ${(s.mode & 0o777).toString(8)})`);
  }
}
