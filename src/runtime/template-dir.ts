// The directory VM templates live in ([factory] template_path) and its
// housekeeping. It holds guest RAM, which clones run from, so it must be ours
// alone (another user who made it first could plant a template) and
// memory-backed (guest RAM must not be written back to a disk).
import { randomBytes } from 'node:crypto';
import { lstat, mkdir, open, readdir, readFile, rename, rm, stat, statfs } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { HakoError } from '../errors.js';
import type { ProcessTable } from '../sys/procs.js';

const TMPFS_MAGIC = 0x01021994;
const NOT_TMPFS = 'not on tmpfs (guest RAM would be written to a disk)';
/** Templates kept; older ones are removed once unused for PRUNE_AFTER_MS. */
const KEEP = 4;
const PRUNE_AFTER_MS = 10 * 60_000;
/** How long a template that failed to be made is not tried again. */
export const RETRY_AFTER_MS = 5 * 60_000;

const refuse = (root: string, why: string) =>
  new HakoError('HOST_NOT_READY', `VM template directory ${root}: ${why}`);

/** Makes the template directory, or checks the one there: ours, 0700, on tmpfs. */
export async function secureRoot(root: string): Promise<void> {
  const parent = await lstat(dirname(root)).catch(() => undefined);
  if (!parent?.isDirectory()) throw refuse(root, `${dirname(root)} is not a directory`);
  // Others may write to the parent only if it is sticky (/dev/shm): they
  // could otherwise put another directory in our directory's place.
  if ((parent.mode & 0o022) !== 0 && (parent.mode & 0o1000) === 0) {
    throw refuse(root, `${dirname(root)} is writable by others and not sticky`);
  }
  const notTmpfs = async (p: string) => (await statfs(p)).type !== TMPFS_MAGIC;
  if ((await lstat(root).catch(() => undefined)) === undefined) {
    // Made only where it would be on tmpfs (a mount on it would be made elsewhere).
    if (await notTmpfs(dirname(root))) throw refuse(root, NOT_TMPFS);
    await mkdir(root, { mode: 0o700 }).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'EEXIST') throw refuse(root, e.message);
    });
  }
  const s = await lstat(root);
  if (!s.isDirectory()) throw refuse(root, 'not a directory');
  if (s.uid !== process.geteuid?.()) throw refuse(root, `owned by uid ${s.uid}, not by us`);
  if ((s.mode & 0o077) !== 0) throw refuse(root, `mode ${(s.mode & 0o777).toString(8)}, not 700`);
  if (await notTmpfs(root)) throw refuse(root, NOT_TMPFS);
}

/** Bytes free on the template directory's filesystem. */
export async function freeBytes(root: string): Promise<number> {
  const s = await statfs(root);
  return s.bavail * s.bsize;
}

/** Whether the process `name` begins with (`<pid>-…`) is gone. */
async function ownerGone(procs: ProcessTable, name: string): Promise<boolean> {
  const pid = Number(/^(\d+)-/.exec(name)?.[1] ?? NaN);
  return Number.isInteger(pid) && pid !== process.pid && (await procs.startTime(pid)) === undefined;
}

/**
 * Runs `fn` holding the lock on making template `key`, which names its
 * holder by pid and start time. A lock whose holder is gone is taken over;
 * one whose holder runs is not waited for: the caller boots instead.
 */
export async function withBuildLock<T>(
  procs: ProcessTable,
  root: string,
  key: string,
  fn: () => Promise<T>,
): Promise<T> {
  const lock = join(root, `.lock-${key}`);
  const me = `${process.pid} ${(await procs.startTime(process.pid)) ?? ''}`;
  for (let attempt = 0; ; attempt++) {
    try {
      const h = await open(lock, 'wx', 0o600);
      await h.writeFile(me);
      await h.close();
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) throw e;
      const [pid, started] = (await readFile(lock, 'utf8').catch(() => '')).split(' ');
      const alive = pid !== undefined && (await procs.startTime(Number(pid))) === started;
      if (alive && started !== undefined) {
        throw new HakoError('VM_START_FAILED', `this VM template is being made by process ${pid}`);
      }
      await rm(lock, { force: true });
    }
  }
  try {
    return await fn();
  } finally {
    await rm(lock, { force: true });
  }
}

/** Removes a directory: first out of the way (atomically), then for good. */
export async function discard(root: string, dir: string): Promise<void> {
  const trash = join(root, `.trash-${randomBytes(6).toString('hex')}`);
  await rename(dir, trash).then(
    () => rm(trash, { recursive: true, force: true }),
    () => undefined,
  );
}

/**
 * Removes what processes that died left (half-made templates, RAM copies,
 * locks are taken over instead), old failure markers, and templates beyond
 * the KEEP most recently used that no start used for a while. A removed
 * template's clones keep running: each has its own copy of the RAM.
 */
export async function tidy(procs: ProcessTable, root: string, inUse: string): Promise<void> {
  const names = await readdir(root).catch(() => [] as string[]);
  const age = async (n: string) =>
    Date.now() - ((await stat(join(root, n)).catch(() => undefined))?.mtimeMs ?? 0);
  for (const n of names) {
    // .build-<pid>-<key>-<random>
    const leftover =
      n.startsWith('.trash-') ||
      (n.startsWith('.build-') && (await ownerGone(procs, n.slice('.build-'.length)))) ||
      (n.startsWith('.failed-') && (await age(n)) > RETRY_AFTER_MS);
    if (leftover) await rm(join(root, n), { recursive: true, force: true });
  }
  for (const n of await readdir(join(root, 'clones')).catch(() => [] as string[])) {
    if (await ownerGone(procs, n)) await rm(join(root, 'clones', n), { force: true });
  }
  const templates = await Promise.all(
    names.filter((n) => /^[0-9a-f]{32}$/.test(n) && n !== inUse).map(async (n) => ({ n, age: await age(n) })),
  );
  templates.sort((a, b) => a.age - b.age);
  for (const t of templates.slice(KEEP - 1)) {
    if (t.age > PRUNE_AFTER_MS) await discard(root, join(root, t.n));
  }
}
