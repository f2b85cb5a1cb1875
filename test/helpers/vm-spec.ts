// A plain VmSpec for tests of the QEMU driver's pieces: a q35 VM under
// TCG, unconfined, with no device, its fields overridden as a test needs.
import { UNCONFINED } from '../../src/confinement/jail.js';
import type { VmSpec } from '../../src/hypervisor/types.js';

export function testVmSpec(over: Partial<VmSpec> = {}): VmSpec {
  return {
    id: 'x',
    dir: '/run/hako/x',
    machine: 'q35',
    accel: 'tcg',
    vcpus: 1,
    memoryMiB: 64,
    kernel: '/k',
    initrd: '/i',
    kernelArgs: [],
    devices: [],
    consoleLog: false,
    dieWithParent: false,
    jail: UNCONFINED,
    seccomp: false,
    ...over,
  };
}
