// Sandbox state on disk: <state_dir>/<id>/state.json, written atomically
// after every step that creates something (a process, a mount), so that a
// later `delete` or cleanup can undo everything from disk alone.
import { renameSync, writeFileSync } from 'node:fs';
import { lstat, mkdir, readdir, readFile, realpath, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { HakoError } from '../errors.js';
import { ID_PATTERN } from './ids.js';

const Ref = z.object({ pid: z.number().int().positive(), startTime: z.string() });

const JailRecord = z.object({
  cgroup: z
    .object({ path: z.string(), dirs: z.array(z.string()).readonly(), specParent: z.string().optional() })
    .optional(),
  vmmUid: z.number().int().nonnegative().optional(),
});

const ContainerRecord = z.object({
  id: z.string(),
  status: z.enum(['creating', 'created', 'running', 'stopped']),
});

export const SandboxRecordSchema = z.object({
  version: z.literal(1),
  id: z.string(),
  status: z.enum(['creating', 'running', 'stopping']),
  createdAt: z.string(),
  /** The hako process that owns the VM (it dies with it). */
  owner: Ref.optional(),
  vm: Ref.optional(),
  fsDaemon: Ref.optional(),
  /** What confines its processes (cgroup, uid), recorded before it is made. */
  jail: JailRecord.optional(),
  /** The pod's network namespace and the taps Hako makes in it, recorded before they are made. */
  network: z
    .object({
      netns: z.string(),
      links: z.array(z.object({ device: z.string(), tap: z.string() })).readonly(),
    })
    .optional(),
  containers: z.array(ContainerRecord),
});

export type SandboxRecord = z.infer<typeof SandboxRecordSchema>;
export type ContainerRecord = z.infer<typeof ContainerRecord>;

export interface StateStore {
  readonly root: string;
  dir(id: string): string;
  /** Creates the sandbox directory; ALREADY_EXISTS if it is there. */
  create(id: string): Promise<void>;
  write(record: SandboxRecord): Promise<void>;
  /** undefined when absent; a CORRUPT marker when unreadable. */
  read(id: string): Promise<SandboxRecord | 'corrupt' | undefined>;
  list(): Promise<string[]>;
  remove(id: string): Promise<void>;
}

/** Marks a directory as a Hako state root (the shim's `delete` checks it before it removes anything there). */
const ROOT_MARKER = '.hako-state-root';

/**
 * Whether `dir` is a state root of ours: reached without a link (its real
 * path), a directory of ours that others cannot write to, holding the marker.
 */
export async function isStateRoot(dir: string): Promise<boolean> {
  const uid = process.getuid?.() ?? 0;
  if ((await realpath(dir).catch(() => undefined)) !== dir) return false;
  const d = await lstat(dir).catch(() => undefined);
  if (!d?.isDirectory() || d.uid !== uid || (d.mode & 0o022) !== 0) return false;
  const s = await lstat(join(dir, ROOT_MARKER)).catch(() => undefined);
  return s !== undefined && s.isFile() && s.uid === uid;
}

/**
 * Makes the state root, or checks the one there: a directory (not a link)
 * of ours that nobody else can write to. Sandboxes hold sockets, mounts
 * and records that cleanup trusts.
 */
export async function secureStateRoot(root: string): Promise<void> {
  await mkdir(root, { recursive: true, mode: 0o711 });
  const s = await lstat(root);
  const uid = process.getuid?.() ?? 0;
  if (!s.isDirectory() || s.uid !== uid || (s.mode & 0o022) !== 0) {
    const what = s.isSymbolicLink()
      ? 'a symbolic link'
      : `owned by uid ${s.uid}, mode ${(s.mode & 0o777).toString(8)}`;
    throw new HakoError(
      'HOST_NOT_READY',
      `state directory ${root} is ${what}: it must be a directory of uid ${uid} that others cannot write to`,
    );
  }
  await writeFile(join(root, ROOT_MARKER), '', { flag: 'a', mode: 0o600 });
}

export class FsStateStore implements StateStore {
  constructor(readonly root: string) {}

  dir(id: string): string {
    return join(this.root, id);
  }

  async create(id: string): Promise<void> {
    await secureStateRoot(this.root);
    try {
      await mkdir(this.dir(id), { mode: 0o700 });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') {
        throw new HakoError('ALREADY_EXISTS', `sandbox ${id} already exists in ${this.root}`);
      }
      throw e;
    }
  }

  // eslint-disable-next-line @typescript-eslint/require-await -- async so that a failure is a rejection
  async write(record: SandboxRecord): Promise<void> {
    const path = join(this.dir(record.id), 'state.json');
    const tmp = `${path}.tmp`;
    // Synchronous: a few hundred bytes, written several times on every
    // sandbox's critical path, where each thread-pool round trip shows.
    writeFileSync(tmp, JSON.stringify(record, null, 1));
    renameSync(tmp, path);
  }

  async read(id: string): Promise<SandboxRecord | 'corrupt' | undefined> {
    let text: string;
    try {
      text = await readFile(join(this.dir(id), 'state.json'), 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') return 'corrupt';
      return (await this.list()).includes(id) ? 'corrupt' : undefined;
    }
    try {
      const parsed = SandboxRecordSchema.safeParse(JSON.parse(text));
      return parsed.success ? parsed.data : 'corrupt';
    } catch {
      return 'corrupt';
    }
  }

  async list(): Promise<string[]> {
    try {
      const entries = await readdir(this.root, { withFileTypes: true });
      // Only what can be a sandbox: other directories of the root (the shim's sockets) are not.
      return entries.filter((e) => e.isDirectory() && ID_PATTERN.test(e.name)).map((e) => e.name);
    } catch {
      return [];
    }
  }

  async remove(id: string): Promise<void> {
    await rm(this.dir(id), { recursive: true, force: true });
  }
}
