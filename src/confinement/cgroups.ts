// A host cgroup per sandbox for its QEMU and virtiofsd, with memory, CPU
// and pids limits sized from the VM, so that one VM cannot starve the host
// (Firecracker's jailer does the same for each VMM). cgroup v2 where the
// unified hierarchy has the controllers, else the v1 hierarchies of
// memory, cpu and pids (a hybrid host). Processes join at exec time (the
// host helper writes itself into cgroup.procs before running the program),
// so every page and thread is counted from the start.
import { mkdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { HakoError, messageOf } from '../errors.js';

export interface CgroupLimits {
  readonly memoryBytes: number;
  /** CPU time per 100 ms period, in µs (2 CPUs: 200000). */
  readonly cpuQuotaUs: number;
  readonly pids: number;
}

/** Where the cgroup filesystems are: the layout, read from mountinfo. */
export type CgroupLayout =
  | { readonly version: 2; readonly root: string }
  | {
      readonly version: 1;
      readonly roots: Readonly<Record<'memory' | 'cpu' | 'pids', string>>;
      /** Where cpuacct is a hierarchy of its own: only counted in (CPU time, which CRI's PodSandboxStats reads). */
      readonly cpuacct?: string;
    };

const V1_CONTROLLERS = ['memory', 'cpu', 'pids'] as const;

/** The layout from /proc/self/mountinfo's text, or undefined when the controllers cannot be found. */
export function parseLayout(mountinfo: string): CgroupLayout | undefined {
  const v1: Partial<Record<'memory' | 'cpu' | 'pids', string>> = {};
  let v2: string | undefined;
  let cpuacct: string | undefined;
  for (const line of mountinfo.split('\n')) {
    const [left, right] = line.split(' - ');
    if (!left || !right) continue;
    const point = left.split(' ')[4];
    const [fstype, , superOpts] = right.split(' ');
    if (!point) continue;
    if (fstype === 'cgroup2') v2 ??= point;
    if (fstype === 'cgroup') {
      const opts = (superOpts ?? '').split(',');
      for (const c of V1_CONTROLLERS) if (opts.includes(c)) v1[c] ??= point;
      if (opts.includes('cpuacct')) cpuacct ??= point;
    }
  }
  if (v1.memory && v1.cpu && v1.pids) {
    const roots = { memory: v1.memory, cpu: v1.cpu, pids: v1.pids };
    return cpuacct && cpuacct !== v1.cpu ? { version: 1, roots, cpuacct } : { version: 1, roots };
  }
  if (v2) return { version: 2, root: v2 };
  return undefined;
}

/** The directories of cgroup `path` (e.g. /hako/abc), one per hierarchy. */
export function cgroupDirs(layout: CgroupLayout, path: string): string[] {
  if (layout.version === 2) return [join(layout.root, path)];
  const dirs = V1_CONTROLLERS.map((c) => join(layout.roots[c], path));
  return layout.cpuacct ? [...dirs, join(layout.cpuacct, path)] : dirs;
}

async function write(file: string, value: string): Promise<void> {
  try {
    await writeFile(file, value);
  } catch (e) {
    throw new HakoError('HOST_NOT_READY', `cannot write ${value.trim()} to ${file}: ${messageOf(e)}`, {
      cause: e,
    });
  }
}

/** In v2, a cgroup's children get a controller only if every ancestor hands it down. */
async function enableV2Controllers(root: string, path: string): Promise<void> {
  const available = (await readFile(join(root, 'cgroup.controllers'), 'utf8')).split(/\s+/);
  const wanted = ['memory', 'cpu', 'pids'].filter((c) => available.includes(c));
  if (wanted.length < 3)
    throw new HakoError('HOST_NOT_READY', `cgroup v2 at ${root} lacks memory, cpu or pids`);
  const parts = path.split('/').filter((p) => p.length > 0);
  let dir = root;
  for (const part of parts.slice(0, -1)) {
    await write(join(dir, 'cgroup.subtree_control'), wanted.map((c) => `+${c}`).join(' '));
    dir = join(dir, part);
    await mkdir(dir).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'EEXIST') throw e;
    });
  }
  await write(join(dir, 'cgroup.subtree_control'), wanted.map((c) => `+${c}`).join(' '));
}

/** Makes cgroup `path` (and its missing parents) with `limits`, those given; returns its directories. */
export async function createCgroup(
  layout: CgroupLayout,
  path: string,
  limits: Partial<CgroupLimits>,
): Promise<string[]> {
  const dirs = cgroupDirs(layout, path);
  if (layout.version === 2) await enableV2Controllers(layout.root, path);
  for (const d of dirs) await mkdir(d, { recursive: true });
  const mem = limits.memoryBytes !== undefined ? String(limits.memoryBytes) : undefined;
  if (layout.version === 2) {
    const [dir] = dirs as [string];
    if (mem !== undefined) {
      await write(join(dir, 'memory.max'), mem);
      await write(join(dir, 'memory.swap.max'), '0').catch(() => undefined);
    }
    if (limits.cpuQuotaUs !== undefined) await write(join(dir, 'cpu.max'), `${limits.cpuQuotaUs} 100000`);
    if (limits.pids !== undefined) await write(join(dir, 'pids.max'), String(limits.pids));
    return dirs;
  }
  const { memory, cpu, pids } = layout.roots;
  if (mem !== undefined) {
    await write(join(memory, path, 'memory.limit_in_bytes'), mem);
    // With swap accounting, memory plus swap is bounded by the same figure.
    await writeFile(join(memory, path, 'memory.memsw.limit_in_bytes'), mem).catch(() => undefined);
  }
  if (limits.cpuQuotaUs !== undefined) {
    await write(join(cpu, path, 'cpu.cfs_period_us'), '100000');
    await write(join(cpu, path, 'cpu.cfs_quota_us'), String(limits.cpuQuotaUs));
  }
  if (limits.pids !== undefined) await write(join(pids, path, 'pids.max'), String(limits.pids));
  return dirs;
}

async function members(dir: string): Promise<number[]> {
  const text = await readFile(join(dir, 'cgroup.procs'), 'utf8').catch(() => '');
  return text
    .split('\n')
    .map(Number)
    .filter((p) => Number.isInteger(p) && p > 0);
}

/** Pids in any of `dirs`. */
export async function cgroupMembers(dirs: readonly string[]): Promise<number[]> {
  return [...new Set((await Promise.all(dirs.map(members))).flat())];
}

/** Whether `pid` is still in cgroup `path` (a pid read from cgroup.procs may have been reused since). */
async function stillIn(pid: number, path: string): Promise<boolean> {
  const text = await readFile(`/proc/${pid}/cgroup`, 'utf8').catch(() => '');
  return text.split('\n').some((l) => l.endsWith(`:${path}`));
}

/**
 * Kills everything in cgroup `path` (directories `dirs`) and removes it;
 * absent is fine. Used from disk alone too: whatever a crashed start left
 * in it dies here.
 */
export async function destroyCgroup(path: string, dirs: readonly string[], timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const pids = await cgroupMembers(dirs);
    if (pids.length === 0) break;
    if (Date.now() > deadline) {
      throw new HakoError('INTERNAL', `processes ${pids.join(', ')} in cgroup ${path} do not die`);
    }
    // cgroup v2 kills them all at once (5.14+); elsewhere one by one.
    const killed = await writeFile(join(dirs[0] ?? '', 'cgroup.kill'), '1').then(
      () => true,
      () => false,
    );
    if (!killed) {
      for (const pid of pids) {
        if (!(await stillIn(pid, path))) continue;
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // Gone already.
        }
      }
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  for (const d of dirs) {
    await rmdir(d).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'ENOENT') throw e;
    });
  }
}
