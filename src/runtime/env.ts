// Everything a sandbox needs from the outside world, passed in explicitly.
import type { HakoConfig } from '../config/schema.js';
import type { AccelChoice } from '../hypervisor/accel.js';
import type { Hypervisor, VmResources } from '../hypervisor/types.js';
import type { GuestImage } from '../image/guest-image.js';
import type { Logger } from '../log.js';
import type { Confinement } from '../confinement/confinement.js';
import type { ConfinedFs } from '../sys/confined-fs.js';
import type { ProcessTable } from '../sys/procs.js';
import type { Runner } from '../sys/runner.js';
import type { StateStore } from './state-store.js';

export interface SandboxEnv {
  readonly config: HakoConfig;
  readonly image: GuestImage;
  readonly accel: AccelChoice;
  readonly hypervisor: Hypervisor;
  readonly runner: Runner;
  readonly procs: ProcessTable;
  /** File operations in sandbox directories (the guest can reach their staging trees). */
  readonly fs: ConfinedFs;
  readonly store: StateStore;
  readonly log: Logger;
  /** What confines each sandbox's QEMU and virtiofsd. */
  readonly confinement: Confinement;
  /** The host helper (tools/host-helper), which starts them. */
  readonly helper: string;
  readonly tscKhz: number | undefined;
  /** The host's CPUs and memory (how far a VM may grow by default). */
  readonly hostCapacity?: VmResources;
  /** The host has /dev/vhost-net: a NIC's data path can run in the host kernel. */
  readonly vhostNet: boolean;
}
