// The directory VM templates live in ([factory] template_path) and its
// housekeeping. Entries: <key>/ (templates), clones/<tag>-<id>/ (a starting
// VM's copy), .build-<tag>-<key>-<random>/, .lock-<key>, .failed-<key>,
// .trash-<random>/ (being removed); <tag> is owner-tag.ts's. It holds guest RAM, which clones run from, so it must be ours
// alone (another user who made it first could plant a template) and
// memory-backed (guest RAM must not be written back to a disk).
import { randomBytes } from 'node:crypto';
import { lstat, mkdir, readdir, readFile, rename, rm, stat, statfs } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { HakoError } from '../errors.js';
import type { ProcessTable } from '../sys/procs.js';
import { tagGone } from './owner-tag.js';

const TMPFS_MAGIC = 0x01021994;
const NOT_TMPFS = 'not on tmpfs (guest RAM would be written to a disk)';
/** Templates kept; older ones are removed once unused for PRUNE_AFTER_MS. */
const KEEP = 4;
const PRUNE_AFTER_MS = 10 * 60_000;
/** How long a template that failed to be made is not tried again. */
export const RETRY_AFTER_MS = 5 * 60_000;
/** An unreadable lock this old is someone's crash, not a lock being written. */
const STALE_LOCK_MS = 60_000;

const refuse = (root: string, why: string) =>
  new HakoError('HOST_NOT_READY', `VM template directory ${root}: ${why}`);

/**
 * Makes the template directory (unless `create` is false), or checks the one
 * there: ours, 0700, not a symlink, on tmpfs, in a parent that only root or
 * we own and that others cannot write to unless it is sticky (/dev/shm).
 */
export async function secureRoot(root: string, create = true): Promise<void> {
  const up = dirname(root);
  const parent = await stat(up).catch(() => undefined);
  if (!parent) throw refuse(root, `${up} does not exist`);
  if (!parent.isDirectory()) throw refuse(root, `${up} is not a directory`);
  // Whoever may write to the parent could put another directory in our
  // directory's place: its owner always, others unless it is sticky.
  if (parent.uid !== 0 && parent.uid !== process.geteuid?.()) {
    throw refuse(root, `${up} is owned by uid ${parent.uid}`);
  }
  if ((parent.mode & 0o022) !== 0 && (parent.mode & 0o1000) === 0) {
    throw refuse(root, `${up} is writable by others and not sticky`);
  }
  const notTmpfs = async (p: string) => (await statfs(p)).type !== TMPFS_MAGIC;
  if ((await lstat(root).catch(() => undefined)) === undefined) {
    // Made only where it would be on tmpfs (a mount on it would be made elsewhere).
    if (await notTmpfs(up)) throw refuse(root, NOT_TMPFS);
    if (!create) return;
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

const KEY = /^[0-9a-f]{32}$/;

/** The templates in `root` (directories named by their key), whether complete or not. */
export async function listTemplates(root: string): Promise<string[]> {
  return (await readdir(root).catch(() => [] as string[])).filter((n) => KEY.test(n));
}

/** The RAM a template's file takes (its allocated blocks: it is sparse). */
export async function templateRamBytes(dir: string): Promise<number> {
  return stat(join(dir, 'memory')).then(
    (s) => s.blocks * 512,
    () => 0,
  );
}

/** Bytes free on the template directory's filesystem. */
export async function freeBytes(root: string): Promise<number> {
  const s = await statfs(root);
  return s.bavail * s.bsize;
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
 * build locks and their temporary files), old failure markers, and templates
 * beyond the KEEP most recently used that no start used for a while. A
 * removed template's clones keep running: each has its own copy of the RAM.
 */
export async function tidy(procs: ProcessTable, root: string, inUse: string): Promise<void> {
  const names = await readdir(root).catch(() => [] as string[]);
  const age = async (n: string) =>
    Date.now() - ((await stat(join(root, n)).catch(() => undefined))?.mtimeMs ?? 0);
  const lockHolderGone = async (n: string) => {
    const holder = await readFile(join(root, n), 'utf8').catch(() => '');
    return /^\d+\.\d+$/.test(holder) ? tagGone(procs, holder) : (await age(n)) > STALE_LOCK_MS;
  };
  for (const n of names) {
    const leftover =
      n.startsWith('.trash-') ||
      (n.startsWith('.build-') && (await tagGone(procs, n.slice('.build-'.length)))) ||
      (/^\.lock-[0-9a-f]{32}\./.test(n) && (await tagGone(procs, n.slice('.lock-'.length + 33)))) ||
      (/^\.lock-[0-9a-f]{32}$/.test(n) && (await lockHolderGone(n))) ||
      (n.startsWith('.failed-') && (await age(n)) > RETRY_AFTER_MS);
    if (leftover) await rm(join(root, n), { recursive: true, force: true });
  }
  for (const n of await readdir(join(root, 'clones')).catch(() => [] as string[])) {
    if (await tagGone(procs, n)) await rm(join(root, 'clones', n), { recursive: true, force: true });
  }
  const templates = await Promise.all(
    names.filter((n) => KEY.test(n) && n !== inUse).map(async (n) => ({ n, age: await age(n) })),
  );
  templates.sort((a, b) => a.age - b.age);
  for (const t of templates.slice(KEEP - 1)) {
    if (t.age > PRUNE_AFTER_MS) await discard(root, join(root, t.n));
  }
}
