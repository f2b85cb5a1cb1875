// <bundle>/hako-shim.json: what the `delete` action needs to clean up a
// container without a running daemon (its sandbox, the state directory,
// the configuration used and the daemon's socket). Written before the
// sandbox boots, so a daemon killed at any step leaves it behind.
// A bundle is not ours: a file planted there must not steer a removal. The
// file must be ours (owner, mode, no link), and each field what we write:
// an id, a state directory of Hako's (it holds the state-root marker) and
// the socket path the daemon derives from it.
import { constants } from 'node:fs';
import { lstat, open } from 'node:fs/promises';
import { isAbsolute, join, normalize } from 'node:path';
import { z } from 'zod';
import { isStateRoot } from '../runtime/state-store.js';
import { writeNew } from '../sys/write-new.js';
import { ID_PATTERN } from '../runtime/ids.js';
import { SOCKETS_DIR } from './address.js';

const absolute = z
  .string()
  .refine((p) => isAbsolute(p) && normalize(p) === p && !p.endsWith('/'), 'must be a plain absolute path');

const BundleStateSchema = z.strictObject({
  sandboxId: z.string().regex(ID_PATTERN),
  stateDir: absolute,
  configPath: absolute.optional(),
  socket: absolute,
  pid: z.number().int().nonnegative(),
});

export type BundleState = z.infer<typeof BundleStateSchema>;

const FILE = 'hako-shim.json';
/** Far larger than the file ever is. */
const MAX_BYTES = 16 * 1024;

export async function writeBundleState(bundle: string, state: BundleState): Promise<void> {
  await writeNew(join(bundle, FILE), JSON.stringify(state));
}

/** The state in `bundle`, or why it cannot be trusted; undefined when there is none. */
export async function readBundleState(
  bundle: string,
): Promise<BundleState | { invalid: string } | undefined> {
  const path = join(bundle, FILE);
  let f;
  try {
    // Never a link, never blocking; checked and read through one descriptor.
    f = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    return { invalid: `${path} cannot be opened as a regular file (${code ?? 'error'})` };
  }
  let text: string;
  try {
    const s = await f.stat();
    const uid = process.getuid?.() ?? 0;
    if (!s.isFile() || s.uid !== uid || (s.mode & 0o022) !== 0 || s.size > MAX_BYTES) {
      return {
        invalid: `${path} is not a regular file of ours (owner ${s.uid}, mode ${(s.mode & 0o777).toString(8)})`,
      };
    }
    text = (await f.readFile()).toString('utf8');
  } finally {
    await f.close();
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { invalid: `${path} is not JSON` };
  }
  const r = BundleStateSchema.safeParse(parsed);
  if (!r.success) return { invalid: `${path}: ${r.error.issues[0]?.path.join('.') ?? ''} is invalid` };
  const state = r.data;
  const sockets = join(state.stateDir, SOCKETS_DIR);
  if (
    !state.socket.startsWith(`${sockets}/`) ||
    !/^[0-9a-f]{64}$/.test(state.socket.slice(sockets.length + 1))
  ) {
    return { invalid: `${path}: socket ${state.socket} is not a shim socket of ${state.stateDir}` };
  }
  if (!(await isStateRoot(state.stateDir))) {
    return { invalid: `${path}: ${state.stateDir} is not a Hako state directory` };
  }
  if (state.configPath !== undefined && !(await isOurs(state.configPath))) {
    return { invalid: `${path}: ${state.configPath} is not a configuration file of ours` };
  }
  return state;
}

/** A regular file of ours that others cannot write to, reached without a link. */
async function isOurs(path: string): Promise<boolean> {
  const s = await lstat(path).catch(() => undefined);
  return s !== undefined && s.isFile() && s.uid === (process.getuid?.() ?? 0) && (s.mode & 0o022) === 0;
}
