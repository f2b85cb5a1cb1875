// What a sandbox's host cgroup allows its QEMU and virtiofsd, sized from
// its VM.
import type { CgroupLimits } from './cgroups.js';

export interface VmSize {
  readonly vcpus: number;
  readonly memoryMiB: number;
  readonly accel: 'kvm' | 'tcg';
}

/** Memory a VMM needs beyond its guest's RAM: TCG's translated code, devices, the daemon. */
export function overheadMiB(accel: 'kvm' | 'tcg'): number {
  return accel === 'tcg' ? 512 : 256;
}

export function limitsFor(vm: VmSize): CgroupLimits {
  return {
    memoryBytes: (vm.memoryMiB + overheadMiB(vm.accel)) * (1 << 20),
    // One CPU more than the vCPUs: QEMU's I/O thread and the shared-fs daemon.
    cpuQuotaUs: (vm.vcpus + 1) * 100_000,
    pids: 256 + 8 * vm.vcpus,
  };
}
