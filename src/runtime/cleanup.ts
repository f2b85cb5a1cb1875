// Tears a sandbox down from what is on disk alone: after a crash, after a
// failed start, or for `delete`. Kills the processes recorded in state.json
// (checked by start time, so a recycled pid is never hit) and any process
// whose command line still names the sandbox directory (one started just
// before a crash, before it could be recorded), unmounts everything under
// the directory, and removes it. Idempotent.
import { readdir, readFile, realpath, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, relative } from 'node:path';
import { netDirFor, runDirFor } from './run-dir.js';
import { HakoError } from '../errors.js';
import type { Confinement } from '../confinement/confinement.js';
import type { ConfinedFs, FsOp } from '../sys/confined-fs.js';
import { HOST_TREE, VIEW_TREE } from '../storage/staging.js';
import { isRunning, killAndWait, refOf, type ProcessRef, type ProcessTable } from '../sys/procs.js';
import type { StateStore } from './state-store.js';
import { removeTaps } from '../network/tcfilter.js';
import type { Runner } from '../sys/runner.js';

export interface CleanupDeps {
  readonly store: StateStore;
  readonly procs: ProcessTable;
  readonly fs: ConfinedFs;
  readonly confinement: Confinement;
  /** Runs `ip` and `tc` in a pod's namespace (its taps go). */
  readonly runner: Runner;
}

/** Processes (not us) whose argv mentions any of `dirs` (as `dir/`), in one pass over /proc. */
export async function processesNaming(dirs: readonly string[], procs: ProcessTable): Promise<ProcessRef[]> {
  const needles = dirs.map((d) => `${d}/`);
  const pids = (await readdir('/proc').catch(() => [] as string[]))
    .map(Number)
    .filter((pid) => Number.isInteger(pid) && pid !== process.pid);
  // All at once: one by one, each read waits its turn through the thread
  // pool. Asynchronous, because a read can block on a stuck process.
  const cmdlines = await Promise.all(
    pids.map((pid) => readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')),
  );
  const refs: ProcessRef[] = [];
  for (const [i, pid] of pids.entries()) {
    if (!needles.some((n) => cmdlines[i]?.includes(n))) continue;
    const ref = await refOf(procs, pid);
    if (ref) refs.push(ref);
  }
  return refs;
}

export interface CleanupOptions {
  /**
   * Keep the sandbox directory (a runc-style container keeps its state until
   * `delete`): only its sandbox record, shared directory and run directory go.
   */
  readonly keepDir?: boolean;
}

export async function cleanupSandbox(
  deps: CleanupDeps,
  id: string,
  opts: CleanupOptions = {},
): Promise<void> {
  const dir = deps.store.dir(id);
  const runDir = runDirFor(dir);
  const record = await deps.store.read(id);
  const recorded: ProcessRef[] = [];
  if (record !== undefined && record !== 'corrupt') {
    for (const r of [record.vm, record.fsDaemon]) if (r) recorded.push(r);
  }
  const netDir = netDirFor(dir);
  const found = await processesNaming(runDir === dir ? [dir, netDir] : [dir, runDir, netDir], deps.procs);
  for (const ref of [...recorded, ...found]) {
    if (!(await killAndWait(deps.procs, ref))) {
      throw new HakoError('INTERNAL', `process ${ref.pid} of sandbox ${id} does not die`);
    }
  }
  // Whatever else is in its cgroup (a process started just before a crash,
  // whose command line names nothing of it) dies here.
  const jail = record !== undefined && record !== 'corrupt' ? record.jail : undefined;
  await deps.confinement.release(dir, jail);
  const network = record !== undefined && record !== 'corrupt' ? record.network : undefined;
  if (network) await removeTaps(deps.runner, network.netns, network.links);
  if (await unmountAll(deps.fs, dir)) {
    // A removal never enters a mount: if one were left, this would fail instead.
    await deps.fs.apply(dir, [
      { op: 'remove', path: HOST_TREE },
      { op: 'remove', path: VIEW_TREE },
    ]);
  }
  if (opts.keepDir) {
    await rm(join(dir, 'state.json'), { force: true });
  } else {
    await deps.store.remove(id);
  }
  if (runDir !== dir) await rm(runDir, { recursive: true, force: true });
  await rm(netDir, { recursive: true, force: true });
}

/** Only the topmost of `points`: detaching one takes everything below it. */
export function topmost(points: readonly string[]): string[] {
  return [...new Set(points)].filter((p) => !points.some((q) => q !== p && p.startsWith(`${q}/`)));
}

/**
 * Detaches every mount at or below `dir`, each looked up beneath its parent
 * without following a link (the guest can write inside some of them).
 * False when `dir` does not exist.
 */
export async function unmountAll(fs: ConfinedFs, dir: string): Promise<boolean> {
  const real = await realpath(dir).catch(() => undefined);
  if (real === undefined) return false;
  const tops = topmost(await fs.mountsUnder(real));
  const inside: FsOp[] = tops
    .filter((p) => p !== real)
    .map((p) => ({ op: 'unmount', path: relative(real, p) }));
  if (tops.includes(real)) await fs.apply(dirname(real), [{ op: 'unmount', path: basename(real) }]);
  await fs.apply(real, inside);
  const left = await fs.mountsUnder(real);
  if (left.length > 0) throw new HakoError('INTERNAL', `mounts remain under ${dir}: ${left.join(', ')}`);
  return true;
}

/** How long a sandbox directory without a readable record may be in the making. */
const CREATION_GRACE_MS = 30_000;

/**
 * Whether sandbox `id` is left over: the process that owns it is gone; or
 * its record names no owner (an older record) and none of its recorded
 * processes runs; or it has no readable record, is older than a creation
 * takes, and no process names its directory (a start killed before its
 * first write).
 */
export async function isStale(deps: Pick<CleanupDeps, 'store' | 'procs'>, id: string): Promise<boolean> {
  const record = await deps.store.read(id);
  if (record === undefined) return false;
  if (record === 'corrupt') {
    const dir = deps.store.dir(id);
    const made = await stat(dir).catch(() => undefined);
    if (!made || Date.now() - made.mtimeMs < CREATION_GRACE_MS) return false;
    return (await processesNaming([dir], deps.procs)).length === 0;
  }
  if (record.owner) return !(await isRunning(deps.procs, record.owner));
  for (const r of [record.vm, record.fsDaemon]) if (r && (await isRunning(deps.procs, r))) return false;
  return true;
}
