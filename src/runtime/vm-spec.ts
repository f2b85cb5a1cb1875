// The VM a sandbox boots, from the configuration: machine, accelerator,
// kernel, initramfs, kernel command line. Shared by sandboxes and by the
// start benchmark (whose bare boot must use the very same VM).
import type { HakoConfig } from '../config/schema.js';
import { UNCONFINED, type JailPlan } from '../confinement/jail.js';
import type { AccelChoice } from '../hypervisor/accel.js';
import { MEMORY_BLOCK_MIB } from '../hypervisor/resize-plan.js';
import type { Device, MachineType, VmGrowth, VmResources, VmSpec } from '../hypervisor/types.js';
import type { GuestImage } from '../image/guest-image.js';
import { guestAslr, guestWarmUp, kernelCmdline } from './kernel-cmdline.js';

export interface VmBase {
  readonly config: HakoConfig;
  readonly image: GuestImage;
  readonly accel: AccelChoice;
  readonly tscKhz: number | undefined;
  /** The host's CPUs and memory: how far a VM may grow where the configuration says 0. */
  readonly hostCapacity?: VmResources;
}

/** How far a q35 VM can grow (hot-plug), from the configuration and the host; none on microvm. */
export function vmGrowth(
  h: HakoConfig['hypervisor'],
  machine: MachineType,
  host: VmResources | undefined,
): VmGrowth | undefined {
  if (machine !== 'q35') return undefined;
  const maxVcpus = Math.max(h.vcpus, h.maxVcpus || (host?.vcpus ?? 0));
  const hostMem = Math.floor((host?.memoryMiB ?? 0) / MEMORY_BLOCK_MIB) * MEMORY_BLOCK_MIB;
  const maxMemoryMiB = Math.max(h.memoryMiB, h.maxMemoryMiB || hostMem);
  if (maxVcpus === h.vcpus && (maxMemoryMiB === h.memoryMiB || h.memorySlots === 0)) return undefined;
  return { maxVcpus, maxMemoryMiB, memorySlots: h.memorySlots };
}

export interface VmSpecOptions {
  readonly id: string;
  readonly dir: string;
  readonly devices: readonly Device[];
  readonly transportArgs: readonly string[];
  readonly dieWithParent: boolean;
  /** Appended to the kernel command line (after the user's kernel_params). */
  readonly extraKernelArgs?: readonly string[];
  /** Instead of the configured machine type (VM templates need q35). */
  readonly machine?: MachineType;
  readonly memoryFile?: VmSpec['memoryFile'];
  /** How QEMU is confined; none by default (the start benchmark's bare boot). */
  readonly jail?: JailPlan;
  readonly seccomp?: boolean;
}

export function vmSpec(base: VmBase, o: VmSpecOptions): VmSpec {
  const { config, image, accel, tscKhz } = base;
  const h = config.hypervisor;
  const machine = o.machine ?? h.machineType;
  const growth = vmGrowth(h, machine, base.hostCapacity);
  return {
    id: o.id,
    dir: o.dir,
    machine,
    accel: accel.accel,
    vcpus: h.vcpus,
    memoryMiB: h.memoryMiB,
    kernel: image.kernel,
    initrd: image.initrd,
    kernelArgs: [
      ...kernelCmdline({
        machine,
        debug: h.debug,
        agentDebug: config.agent.debug,
        aslr: guestAslr(h.guestAslr, accel.accel),
        tscKhz: accel.accel === 'tcg' ? tscKhz : undefined,
        warmUp: guestWarmUp(accel.accel, h.vcpus),
        transportArgs: o.transportArgs,
        extra: h.kernelParams,
      }),
      ...(o.extraKernelArgs ?? []),
    ],
    devices: o.devices,
    consoleLog: h.debug || config.agent.debug,
    dieWithParent: o.dieWithParent,
    jail: o.jail ?? UNCONFINED,
    seccomp: o.seccomp ?? false,
    ...(o.memoryFile ? { memoryFile: o.memoryFile } : {}),
    ...(growth ? { growth } : {}),
  };
}
