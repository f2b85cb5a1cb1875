// What confines a sandbox's host processes, in the spirit of Firecracker's
// jailer:
//   QEMU       its own seccomp filter (-sandbox, with obsolete, elevate-
//              privileges, spawn and resourcecontrol denied), no_new_privs,
//              no capabilities at all, a uid of its own (vmm-uids.ts) and no
//              access to the sandbox directory (its sockets and files are
//              descriptors the helper passes), no core dumps;
//   virtiofsd  root (it serves files as the guest's users), but with only
//              the capabilities it uses (no mknod, no setfcap; its own
//              filter and namespaces), no_new_privs, no core dumps;
//   both       a host cgroup of the sandbox's own, limits sized from the VM,
//              under the cgroup the spec names if it names one
//              (spec-cgroup.ts).
// Each part is named in the sandbox's record before it is made, so cleanup
// from disk alone undoes it.
import { createHash } from 'node:crypto';
import { readdir, readFile, rm, rmdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { HakoConfig } from '../config/schema.js';
import { HakoError, messageOf } from '../errors.js';
import { cgroupDirs, createCgroup, destroyCgroup, parseLayout, type CgroupLayout } from './cgroups.js';
import { UNCONFINED, type JailPlan } from './jail.js';
import { limitsFor, type VmSize } from './limits.js';
import { specCgroupPath, specLimits } from './spec-cgroup.js';
import { releaseUid, reserveUid, UIDS_DIR, vmmDir } from './vmm-uids.js';

/** What a sandbox's confinement consists of, recorded before it is made. */
export interface JailRecord {
  readonly cgroup?:
    | {
        readonly path: string;
        readonly dirs: readonly string[];
        /** The spec's cgroupsPath, the parent of `path`: made if missing, removed when empty. */
        readonly specParent?: string | undefined;
      }
    | undefined;
  readonly vmmUid?: number | undefined;
}

export interface SandboxJail {
  readonly vmm: JailPlan;
  readonly fsd: JailPlan;
  /** QEMU's own seccomp filter. */
  readonly seccomp: boolean;
  /** For short helpers that work for the sandbox (its RAM copy), charged to it. */
  readonly helper: JailPlan;
}

export interface Confinement {
  /**
   * Names (and reserves) what will confine the sandbox in `dir`; the caller
   * records it. `cgroupsPath` is the spec's, if its first container has one.
   */
  plan(dir: string, cgroupsPath?: unknown): Promise<JailRecord>;
  /** Makes the recorded parts (the cgroups) and says how each process starts; `resources` are the spec's. */
  apply(record: JailRecord, vm: VmSize, resources?: unknown): Promise<SandboxJail>;
  /**
   * The VM grew or shrank (hot-plug): its own cgroup's limits follow. The
   * spec's cgroup (its parent, if any) keeps what its owner set.
   */
  resize(record: JailRecord, vm: VmSize): Promise<void>;
  /** Kills what is left in the sandbox's cgroup, removes it, gives its uid back; works from disk alone. */
  release(dir: string, record: JailRecord | undefined): Promise<void>;
}

/**
 * Capabilities virtiofsd uses: file ownership and modes on the guest's
 * behalf, and, while it sets itself up, its own namespaces (sys_admin) and
 * the narrowing of its own sets (setpcap). It drops those two itself once
 * set up, and mknod and setfcap (-o modcaps) for good.
 */
export const VIRTIOFSD_CAPS = [
  'chown',
  'dac_override',
  'fowner',
  'fsetid',
  'setgid',
  'setuid',
  'sys_admin',
  'setpcap',
];
/** What QEMU keeps when it serves 9p itself and must act on files as root. */
const QEMU_9P_CAPS = ['chown', 'dac_override', 'fowner', 'fsetid'];

/** The cgroup name of the sandbox in `dir`, derived from the directory so that cleanup finds it. */
export function cgroupPath(parent: string, dir: string): string {
  return `${parent}/${createHash('sha256').update(dir).digest('hex').slice(0, 24)}`;
}

export class NoConfinement implements Confinement {
  plan(): Promise<JailRecord> {
    return Promise.resolve({});
  }

  apply(): Promise<SandboxJail> {
    return Promise.resolve({ vmm: UNCONFINED, fsd: UNCONFINED, seccomp: false, helper: UNCONFINED });
  }

  resize(): Promise<void> {
    return Promise.resolve();
  }

  release(): Promise<void> {
    return Promise.resolve();
  }
}

export interface HostConfinementOptions {
  readonly security: HakoConfig['security'];
  readonly sharedFs: 'virtio-fs' | 'virtio-9p';
  readonly mountinfo?: string;
  readonly uidsDir?: string;
}

export class HostConfinement implements Confinement {
  readonly #o: HostConfinementOptions;
  #layout: Promise<CgroupLayout | undefined> | undefined;

  constructor(o: HostConfinementOptions) {
    this.#o = o;
  }

  #cgroupLayout(): Promise<CgroupLayout | undefined> {
    this.#layout ??= (async () =>
      parseLayout(this.#o.mountinfo ?? (await readFile('/proc/self/mountinfo', 'utf8'))))();
    return this.#layout;
  }

  async plan(dir: string, cgroupsPath?: unknown): Promise<JailRecord> {
    const s = this.#o.security;
    let cgroup: JailRecord['cgroup'];
    if (s.cgroupParent !== '') {
      const specParent = specCgroupPath(cgroupsPath, s.cgroupParent);
      const layout = await this.#cgroupLayout();
      if (!layout) {
        throw new HakoError(
          'HOST_NOT_READY',
          'no cgroup hierarchy with the memory, cpu and pids controllers is mounted: set [security] cgroup_parent = "" to run sandboxes without a cgroup of their own',
        );
      }
      const path = cgroupPath(specParent ?? s.cgroupParent, dir);
      cgroup = { path, dirs: cgroupDirs(layout, path), ...(specParent ? { specParent } : {}) };
    }
    // QEMU serving 9p acts on the sandbox's files itself: it keeps root's uid.
    const vmmUid =
      this.#o.sharedFs === 'virtio-fs'
        ? await reserveUid({ base: s.vmmUidBase, count: s.vmmUidCount }, dir, this.#o.uidsDir)
        : undefined;
    return { ...(cgroup ? { cgroup } : {}), ...(vmmUid !== undefined ? { vmmUid } : {}) };
  }

  async apply(record: JailRecord, vm: VmSize, resources?: unknown): Promise<SandboxJail> {
    const cgroups = record.cgroup?.dirs ?? [];
    if (record.cgroup) {
      const layout = await this.#cgroupLayout();
      if (!layout) throw new HakoError('HOST_NOT_READY', 'the cgroup hierarchy went away');
      try {
        const parent = record.cgroup.specParent;
        const own = limitsFor(vm);
        const outer = parent !== undefined ? specLimits(resources, vm) : {};
        if (parent !== undefined) await createCgroup(layout, parent, outer);
        // A child's CPU quota may not exceed its parent's (cgroup v1): the tighter of the two.
        await createCgroup(layout, record.cgroup.path, {
          memoryBytes: Math.min(own.memoryBytes, outer.memoryBytes ?? Infinity),
          cpuQuotaUs: Math.min(own.cpuQuotaUs, outer.cpuQuotaUs ?? Infinity),
          pids: own.pids,
        });
      } catch (e) {
        throw new HakoError(
          'HOST_NOT_READY',
          `cannot make the sandbox's cgroup ${record.cgroup.path}: ${messageOf(e)} (set [security] cgroup_parent = "" to run without one)`,
          { cause: e },
        );
      }
    }
    const groups = vm.accel === 'kvm' ? [await kvmGroup()] : [];
    const uid = record.vmmUid;
    const common = { noNewPrivs: true, seccomp: true, cgroups, noCore: true };
    const vmm: JailPlan =
      uid !== undefined
        ? { ...common, uid, gid: uid, groups, keepCaps: [], isolate: true }
        : { ...common, keepCaps: QEMU_9P_CAPS };
    const fsd: JailPlan = { ...common, keepCaps: VIRTIOFSD_CAPS };
    const helper: JailPlan = { noNewPrivs: true, cgroups, noCore: true };
    return { vmm, fsd, helper, seccomp: true };
  }

  async resize(record: JailRecord, vm: VmSize): Promise<void> {
    if (!record.cgroup) return;
    const layout = await this.#cgroupLayout();
    if (!layout) throw new HakoError('HOST_NOT_READY', 'the cgroup hierarchy went away');
    // Under a spec's cgroup (cgroup v1), a CPU quota above the parent's is refused: the parent bounds it anyway.
    const own = limitsFor(vm);
    const limits =
      record.cgroup.specParent !== undefined ? { memoryBytes: own.memoryBytes, pids: own.pids } : own;
    await createCgroup(layout, record.cgroup.path, limits);
  }

  async release(dir: string, record: JailRecord | undefined): Promise<void> {
    const parent = this.#o.security.cgroupParent;
    const layout = await this.#cgroupLayout();
    // A record is read back from disk: its cgroup is trusted only if it is
    // the one this directory gets (whatever parent it was made under).
    let cgroup =
      layout && record?.cgroup && isCgroupOf(layout, record.cgroup, dir) ? record.cgroup : undefined;
    if (!cgroup && parent !== '' && layout) {
      const path = cgroupPath(parent, dir);
      cgroup = { path, dirs: cgroupDirs(layout, path) };
    }
    if (cgroup) await destroyCgroup(cgroup.path, cgroup.dirs);
    // The spec's cgroup goes too once empty, as runc removes it; rmdir never
    // takes a cgroup that still has processes or children.
    const parentOf = cgroup?.path.slice(0, -cgroupPath('', dir).length);
    if (layout && parentOf && record?.cgroup?.specParent === parentOf) {
      for (const d of cgroupDirs(layout, parentOf)) await rmdir(d).catch(() => undefined);
    }
    if (record?.vmmUid !== undefined) {
      await rm(vmmDir(record.vmmUid), { recursive: true, force: true });
      await releaseUid(record.vmmUid, dir, this.#o.uidsDir);
    } else await releaseUidsOf(dir, this.#o.uidsDir ?? UIDS_DIR);
  }
}

/** Whether `c` is the cgroup of the sandbox in `dir`, under some plain parent. */
function isCgroupOf(layout: CgroupLayout, c: NonNullable<JailRecord['cgroup']>, dir: string): boolean {
  const name = cgroupPath('', dir);
  const parent = c.path.slice(0, c.path.length - name.length);
  const plain =
    /^(\/[A-Za-z0-9._-]+)*$/.test(parent) && !parent.split('/').some((p) => p === '.' || p === '..');
  const dirs = cgroupDirs(layout, c.path);
  return (
    c.path.endsWith(name) && plain && c.dirs.length === dirs.length && c.dirs.every((d, i) => d === dirs[i])
  );
}

/** The group of /dev/kvm, which a VMM under KVM needs. */
async function kvmGroup(): Promise<number> {
  return (await stat('/dev/kvm')).gid;
}

/** Gives back any uid held for `dir` (its record was lost). */
async function releaseUidsOf(dir: string, uids: string): Promise<void> {
  for (const name of await readdir(uids).catch(() => [] as string[])) {
    if (!/^\d+$/.test(name)) continue;
    const file = join(uids, name);
    if ((await readFile(file, 'utf8').catch(() => '')) === dir) await rm(file, { force: true });
  }
}
