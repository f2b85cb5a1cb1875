// How a running VM moves toward a wanted size: which CPUs and memory
// modules to add or remove, from what it has now. Pure, shared by the QEMU
// driver and the fake; the limits (boot size, growth) always win over the
// wish.
import type { VmGrowth, VmResources } from './types.js';

/** The guest's memory block (x86-64 below 64 GiB): hot-plugged memory comes in whole blocks. */
export const MEMORY_BLOCK_MIB = 128;

/** A hot-plugged memory module. */
export interface MemoryModule {
  readonly id: string;
  readonly mib: number;
}

export interface Plugged {
  /** Every CPU the VM has, the boot ones included. */
  readonly vcpus: number;
  /** The hot-plugged memory modules. */
  readonly modules: readonly MemoryModule[];
}

export interface ResizePlan {
  /** CPUs to add (CPUs are never removed: a smaller VM has them offline in the guest). */
  readonly cpus: number;
  /** Modules to remove, by id. */
  readonly removeModules: readonly string[];
  /** A module to add, in MiB (0: none). */
  readonly addModuleMiB: number;
}

const clamp = (v: number, lo: number, hi: number) => Math.min(Math.max(v, lo), Math.max(lo, hi));

/** The CPUs and memory of something that has them (a VM spec, the configuration). */
export function sizeOfBoot(s: VmResources): VmResources {
  return { vcpus: s.vcpus, memoryMiB: s.memoryMiB };
}

/**
 * What QEMU reports, never more than the VM may grow to: a QEMU taken over
 * by its guest that claims bigger modules gets no bigger host cgroup.
 */
export function bounded(has: VmResources, growth: VmGrowth | undefined, boot: VmResources): VmResources {
  return {
    vcpus: Math.min(has.vcpus, growth?.maxVcpus ?? boot.vcpus),
    memoryMiB: Math.min(has.memoryMiB, growth?.maxMemoryMiB ?? boot.memoryMiB),
  };
}

/** What the VM has: its boot memory plus its modules. */
export function sizeOf(boot: VmResources, plugged: Plugged): VmResources {
  return { vcpus: plugged.vcpus, memoryMiB: boot.memoryMiB + plugged.modules.reduce((n, m) => n + m.mib, 0) };
}

/** The CPUs the guest should have online: what is wanted, within the boot size and what is plugged. */
export function onlineCpus(boot: VmResources, want: VmResources, has: VmResources): number {
  return clamp(want.vcpus, boot.vcpus, has.vcpus);
}

export function planResize(
  boot: VmResources,
  growth: VmGrowth | undefined,
  plugged: Plugged,
  want: VmResources,
): ResizePlan {
  if (!growth) return { cpus: 0, removeModules: [], addModuleMiB: 0 };
  const cpus = Math.max(0, clamp(want.vcpus, boot.vcpus, growth.maxVcpus) - plugged.vcpus);
  const target = clamp(want.memoryMiB, boot.memoryMiB, growth.maxMemoryMiB);
  let have = sizeOf(boot, plugged).memoryMiB;
  // Largest first, each only if it fits in what is still too much.
  const removeModules: string[] = [];
  for (const m of [...plugged.modules].sort((a, b) => b.mib - a.mib)) {
    if (have - m.mib >= target) {
      removeModules.push(m.id);
      have -= m.mib;
    }
  }
  let addModuleMiB = 0;
  const slotsLeft = growth.memorySlots - (plugged.modules.length - removeModules.length);
  if (have < target && slotsLeft > 0) {
    const room = Math.floor((growth.maxMemoryMiB - have) / MEMORY_BLOCK_MIB) * MEMORY_BLOCK_MIB;
    addModuleMiB = Math.min(Math.ceil((target - have) / MEMORY_BLOCK_MIB) * MEMORY_BLOCK_MIB, room);
  }
  return { cpus, removeModules, addModuleMiB: Math.max(0, addModuleMiB) };
}
