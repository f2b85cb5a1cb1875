// The image cache: each output lives in <cache>/<kind>/<key>/, where key is
// the SHA-256 of everything that went into it. A finished entry holds a
// `.complete` marker; entries are built in a temporary directory and renamed
// into place, so an interrupted or concurrent build never leaves a half entry.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { access, mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export async function hashFile(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** Hashes of every file below `dir` (sorted, relative paths), skipping `skip` names. */
export async function hashTree(dir: string, skip: readonly string[] = []): Promise<[string, string][]> {
  const out: [string, string][] = [];
  const walk = async (rel: string): Promise<void> => {
    const entries = await readdir(join(dir, rel), { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : 1));
    for (const e of entries) {
      if (skip.includes(e.name)) continue;
      const path = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) await walk(path);
      else if (e.isFile()) out.push([path, await hashFile(join(dir, path))]);
    }
  };
  await walk('');
  return out;
}

/** A key from labelled parts (file hashes, versions…), order-sensitive. */
export function keyOf(parts: readonly (readonly [string, string])[]): string {
  const h = createHash('sha256');
  for (const [label, value] of parts) h.update(`${label}\0${value}\0`);
  return h.digest('hex').slice(0, 32);
}

export interface CacheEntry {
  readonly dir: string;
  readonly reused: boolean;
}

/** Returns the entry for (kind, key), producing it with `produce(tmpDir)` if absent. */
export async function cached(
  cacheDir: string,
  kind: string,
  key: string,
  produce: (dir: string) => Promise<void>,
): Promise<CacheEntry> {
  const dir = join(cacheDir, kind, key);
  const done = async (d: string) =>
    access(join(d, '.complete')).then(
      () => true,
      () => false,
    );
  if (await done(dir)) return { dir, reused: true };
  const tmp = join(cacheDir, kind, `.${key}.tmp-${process.pid}`);
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  try {
    await produce(tmp);
    await writeFile(join(tmp, '.complete'), new Date().toISOString());
    await rm(dir, { recursive: true, force: true });
    await rename(tmp, dir);
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    if (await done(dir)) return { dir, reused: true }; // another build won the race
    throw e;
  }
  return { dir, reused: false };
}
