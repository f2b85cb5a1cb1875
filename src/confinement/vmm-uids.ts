// Each sandbox's QEMU runs under a uid of its own, so that a guest that
// takes over its QEMU cannot signal, trace or read another sandbox's VMM
// (Firecracker's jailer takes a uid per microVM for the same reason). The
// uids come from a range no user has ([security] vmm_uid_base, _count; a
// uid /etc/passwd names is skipped); each is reserved by a file in
// UIDS_DIR naming the sandbox directory that holds it, made atomically (a
// hard link of a complete file). A reservation whose sandbox directory is
// gone is stale: it is claimed by renaming it away (one claimant wins),
// checked to be the stale one, and only then replaced. Cleanup removes a
// sandbox's directory only after its processes are dead.
import { createHash, randomBytes } from 'node:crypto';
import { link, lstat, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { HakoError } from '../errors.js';

export const UIDS_DIR = '/run/hako-uids';

/**
 * A directory a VMM of uid `uid` can reach by path (QEMU opens no other):
 * where a template's state is streamed to us (a Unix socket we serve).
 */
export const VMM_DIRS = '/run/hako-vmm';
export function vmmDir(uid: number): string {
  return join(VMM_DIRS, String(uid));
}

export interface UidRange {
  readonly base: number;
  readonly count: number;
}

async function ownDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const s = await lstat(dir);
  const uid = process.getuid?.() ?? 0;
  if (!s.isDirectory() || s.uid !== uid || (s.mode & 0o077) !== 0) {
    throw new HakoError('HOST_NOT_READY', `${dir} must be a directory of ours alone (mode 700), not a link`);
  }
}

async function holder(file: string): Promise<string | undefined> {
  return readFile(file, 'utf8').catch(() => undefined);
}

async function exists(path: string): Promise<boolean> {
  return lstat(path).then(
    () => true,
    () => false,
  );
}

/** Uids that /etc/passwd names (a real user's must never be a VMM's). */
async function userUids(): Promise<Set<number>> {
  const text = await readFile('/etc/passwd', 'utf8').catch(() => '');
  return new Set(
    text
      .split('\n')
      .map((l) => Number(l.split(':')[2]))
      .filter((n) => Number.isInteger(n)),
  );
}

/**
 * Takes the stale reservation `file` (held by `stale`, whose sandbox is
 * gone) out of the way: renamed to a name of our own, so that of two
 * claimants only one gets it. A fresh reservation renamed by mistake (made
 * between our check and the rename) is put back.
 */
async function claimStale(file: string, stale: string): Promise<void> {
  const claimed = `${file}.claim-${randomBytes(6).toString('hex')}`;
  try {
    await rename(file, claimed);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw e;
  }
  if ((await holder(claimed)) !== stale) await link(claimed, file).catch(() => undefined);
  await rm(claimed, { force: true });
}

/** Reserves a uid for the sandbox in `sandboxDir` (the same one again if it already holds one). */
export async function reserveUid(range: UidRange, sandboxDir: string, dir = UIDS_DIR): Promise<number> {
  await ownDir(dir);
  const taken = await userUids();
  const start = createHash('sha256').update(sandboxDir).digest().readUInt32BE(0) % range.count;
  const tmp = join(dir, `.new-${randomBytes(6).toString('hex')}`);
  await writeFile(tmp, sandboxDir, { mode: 0o600 });
  try {
    for (let i = 0; i < range.count; i++) {
      const uid = range.base + ((start + i) % range.count);
      if (taken.has(uid)) continue;
      const file = join(dir, String(uid));
      for (let attempt = 0; attempt < 2; attempt++) {
        try {
          await link(tmp, file);
          return uid;
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
        }
        const owner = await holder(file);
        if (owner === sandboxDir) return uid;
        // Stale: its sandbox is gone.
        if (owner === undefined || (await exists(owner))) break;
        await claimStale(file, owner);
      }
    }
  } finally {
    await rm(tmp, { force: true });
  }
  throw new HakoError(
    'HOST_NOT_READY',
    `no free uid in ${range.base}..${range.base + range.count - 1} (${dir})`,
  );
}

/** Gives back the uid `sandboxDir` holds, if it holds it. */
export async function releaseUid(uid: number, sandboxDir: string, dir = UIDS_DIR): Promise<void> {
  const file = join(dir, String(uid));
  if ((await holder(file)) === sandboxDir) await rm(file, { force: true });
}
