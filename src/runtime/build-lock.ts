// The lock on making one VM template: a file naming its holder (owner-tag.ts),
// written whole before it exists under its name (a temporary file, then a
// hard link), so that it is never seen empty. A lock whose holder is gone is
// taken over; one whose holder runs is not waited for: the caller boots.
// Two starts that both end up building (a takeover race) only waste work:
// a complete template is never replaced (templates.ts).
import { randomBytes } from 'node:crypto';
import { link, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { HakoError } from '../errors.js';
import type { ProcessTable } from '../sys/procs.js';
import { ownTag, tagGone } from './owner-tag.js';

async function tryTake(lock: string, tag: string): Promise<boolean> {
  const temp = `${lock}.${tag}-${randomBytes(4).toString('hex')}`;
  await writeFile(temp, tag, { mode: 0o600 });
  try {
    await link(temp, lock);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    return false;
  } finally {
    await rm(temp, { force: true });
  }
}

export async function withBuildLock<T>(
  procs: ProcessTable,
  root: string,
  key: string,
  fn: () => Promise<T>,
): Promise<T> {
  const tag = await ownTag(procs);
  const lock = join(root, `.lock-${key}`);
  if (!(await tryTake(lock, tag))) {
    const holder = await readFile(lock, 'utf8').catch(() => '');
    if (holder !== '' && !(await tagGone(procs, holder))) {
      throw new HakoError(
        'VM_START_FAILED',
        `this VM template is being made by process ${holder.split('.')[0]}`,
      );
    }
    // The holder died (or the lock vanished meanwhile): one more try.
    if (holder !== '' && (await readFile(lock, 'utf8').catch(() => '')) === holder)
      await rm(lock, { force: true });
    if (!(await tryTake(lock, tag))) {
      throw new HakoError('VM_START_FAILED', 'another process took over a stale lock on this VM template');
    }
  }
  try {
    return await fn();
  } finally {
    // Removed only while it is still ours.
    if ((await readFile(lock, 'utf8').catch(() => '')) === tag) await rm(lock, { force: true });
  }
}
