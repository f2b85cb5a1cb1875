// The Hypervisor interface: start a VM from a typed description, observe its
// end, stop it. It speaks in VMs and devices, never in sandboxes or
// containers. QEMU (qemu/) and a fake (fake/) implement it.
import type { JailPlan } from '../confinement/jail.js';
import type { ProcessRef } from '../sys/procs.js';

export type MachineType = 'microvm' | 'q35';
export type Accelerator = 'kvm' | 'tcg';

/** Every device a VM can have; each kind has its own argv builder. */
export type Device =
  | { readonly kind: 'serial-port'; readonly id: string; readonly name: string; readonly socketPath: string }
  | { readonly kind: 'vhost-user-fs'; readonly id: string; readonly tag: string; readonly socketPath: string }
  | {
      readonly kind: '9p';
      readonly id: string;
      readonly tag: string;
      readonly path: string;
      readonly readonly: boolean;
    }
  | { readonly kind: 'rng'; readonly id: string }
  /**
   * A virtio-net NIC on a tap in a pod's network namespace (tcfilter.ts);
   * the host helper opens each of its queues there for QEMU.
   */
  | {
      readonly kind: 'net';
      readonly id: string;
      readonly mac: string;
      readonly netns: string;
      readonly tap: string;
      readonly queues: number;
      /** Its data path in the host kernel (vhost-net), a /dev/vhost-net descriptor per queue. */
      readonly vhost: boolean;
    }
  /** A virtio-net NIC on a user-mode network daemon's stream socket (passt). */
  | { readonly kind: 'net-stream'; readonly id: string; readonly mac: string; readonly socketPath: string }
  /** A PCIe root port a device can be hot-plugged into later (q35 only). */
  | {
      readonly kind: 'hotplug-port';
      readonly id: string;
      /** Unique per port (PCIe chassis number). */ readonly chassis: number;
    }
  /**
   * A generation id, new at every QEMU start (ACPI vmgenid): a guest restored
   * from a template is told it is a new VM and reseeds its random generator.
   */
  | { readonly kind: 'vm-generation-id'; readonly id: string };

export interface VmSpec {
  readonly id: string;
  /** A private directory for the VM's sockets and logs. */
  readonly dir: string;
  readonly machine: MachineType;
  readonly accel: Accelerator;
  readonly vcpus: number;
  readonly memoryMiB: number;
  readonly kernel: string;
  readonly initrd: string;
  readonly kernelArgs: readonly string[];
  readonly devices: readonly Device[];
  /** Write the guest console to `<dir>/console.log`. */
  readonly consoleLog: boolean;
  /** Kill the VM if this process dies (used by `hako run`). */
  readonly dieWithParent: boolean;
  /** How the VMM process is confined (uid, capabilities, cgroups…). */
  readonly jail: JailPlan;
  /** The VMM's own seccomp filter. */
  readonly seccomp: boolean;
  /**
   * Guest RAM in a file, mapped shared: a VM template's while it is made,
   * and each VM restored from it has its own copy (the vhost-user daemon
   * maps the same file, so it must see the VM's own pages).
   */
  readonly memoryFile?: { readonly path: string };
  /**
   * Room to grow while running (q35 only): CPUs up to `maxVcpus`, memory up
   * to `maxMemoryMiB` in at most `memorySlots` modules (resize).
   */
  readonly growth?: VmGrowth;
}

export interface VmGrowth {
  readonly maxVcpus: number;
  readonly maxMemoryMiB: number;
  readonly memorySlots: number;
}

/** A VM's CPUs and memory. */
export interface VmResources {
  readonly vcpus: number;
  readonly memoryMiB: number;
}

export interface VmExit {
  readonly code: number | null;
  readonly signal: string | null;
}

export interface Vm {
  readonly process: ProcessRef;
  /** Settles when the VM process has ended, for whatever reason. */
  readonly exited: Promise<VmExit>;
  /** Asks the VM to quit, then kills it after `graceMs`. Idempotent. */
  stop(graceMs: number): Promise<void>;
  /** Ends the VM at once, for a guest with nothing left to save; resolves when it is gone. */
  kill(): Promise<void>;
  /** The last lines QEMU (or the guest console) printed, for error messages. */
  diagnostics(): Promise<string>;
  /**
   * Adds a NIC on a tap to the running VM, on a free hot-plug port; the
   * guest sees it appear. Fails (FAILED_PRECONDITION) when no port is free.
   */
  plugNic(d: TapNic): Promise<void>;
  /** Removes the NIC `id` (and its netdev) from the running VM, once the guest let it go. */
  unplugNic(id: string): Promise<void>;
  /**
   * Hot-plugs CPUs, and hot-plugs or unplugs memory modules, toward `want`,
   * within the spec's growth (never below the boot size); resolves with
   * what the VM has then. CPUs are only added (resize.ts says why): the
   * guest takes extra ones offline. Memory moves in whole modules: a shrink
   * removes only modules that fit in the excess. A VM without growth stays
   * as it booted.
   */
  resize(want: VmResources): Promise<VmResources>;
}

/** A NIC on a tap in a pod's network namespace. */
export type TapNic = Extract<Device, { kind: 'net' }>;

/** A saved VM: its RAM (`memory`) and its device state (`state`), in `dir`. */
export interface VmTemplate {
  readonly dir: string;
}

export interface Hypervisor {
  readonly name: string;
  start(spec: VmSpec): Promise<Vm>;
  /**
   * Boots `spec` (whose memoryFile is `<dir>/memory`, shared), waits until
   * the guest opens the serial port device whose id is `readyPort` (the
   * guest's sign that it is set up), saves the VM's state to `<dir>/state` and ends the VM.
   */
  saveTemplate(spec: VmSpec, template: VmTemplate, readyPort: string, timeoutMs: number): Promise<void>;
  /**
   * Starts a VM from a template instead of booting one: `spec` must be the
   * template's but for its paths, its memoryFile a copy of the template's.
   * `hotplug` devices (which a template cannot hold) are added before the
   * guest resumes. Fails with TEMPLATE_INVALID when the template's state
   * cannot be loaded.
   */
  restore(spec: VmSpec, template: VmTemplate, hotplug: readonly Device[], timeoutMs: number): Promise<Vm>;
}
