// The QEMU command line, built by small pure functions: one for the machine,
// one per device. Snapshot tests pin the output (test/unit/qemu-argv.test.ts).
import type { Device, VmSpec } from '../types.js';

/** Virtio devices sit on virtio-mmio on microvm and on PCI on q35. */
function virtio(spec: VmSpec, base: string): string {
  return spec.machine === 'microvm' ? `${base}-device` : `${base}-pci`;
}

function needsSharedMemory(spec: VmSpec): boolean {
  return spec.devices.some((d) => d.kind === 'vhost-user-fs');
}

/**
 * Under TCG, every CPU feature QEMU can emulate, less the two that ask for
 * `rep movsb`/`rep stosb` (ERMS, FSRM): TCG runs those one byte per loop
 * iteration, so the guest kernel and glibc copy faster with `rep movsq` or
 * vector loops. Both are speed hints only: no program needs them. Measured:
 * ~90 ms less CPU per boot (the initramfs unpack is a 6 MB copy).
 */
const TCG_CPU = 'max,erms=off,fsrm=off';

/** The guest RAM's backend: a template's file, a shareable memfd (vhost-user), or plain RAM. */
function memoryBackend(spec: VmSpec, mem: string): string {
  const f = spec.memoryFile;
  if (f) return `memory-backend-file,id=mem,size=${mem},mem-path=${f.path},share=on`;
  if (needsSharedMemory(spec)) return `memory-backend-memfd,id=mem,size=${mem},share=on`;
  return `memory-backend-ram,id=mem,size=${mem}`;
}

export function machineArgs(spec: VmSpec): string[] {
  const mem = `${spec.memoryMiB}M`;
  const machine =
    spec.machine === 'microvm'
      ? `microvm,accel=${spec.accel},acpi=on,pit=off,pic=off,rtc=on,isa-serial=on,memory-backend=mem`
      : `q35,accel=${spec.accel},memory-backend=mem`;
  const args = [
    '-name',
    `hako-${spec.id}`,
    '-machine',
    machine,
    '-cpu',
    spec.accel === 'kvm' ? 'host' : TCG_CPU,
    '-smp',
    String(spec.vcpus),
    '-m',
    mem,
    '-object',
    memoryBackend(spec, mem),
    '-nodefaults',
    '-no-user-config',
    '-nographic',
    '-no-reboot',
    '-kernel',
    spec.kernel,
    '-initrd',
    spec.initrd,
    '-append',
    spec.kernelArgs.join(' '),
    '-serial',
    spec.consoleLog ? `file:${spec.dir}/console.log` : 'null',
    '-qmp',
    `unix:${spec.dir}/qmp.sock,server=on,wait=off`,
  ];
  if (spec.machine === 'microvm') {
    // Modern virtio-mmio: legacy mode hangs virtio-fs (environment.md).
    args.push('-global', 'virtio-mmio.force-legacy=false');
  }
  return args;
}

/** The QEMU id of a serial port's device, which QMP's VSERPORT_CHANGE events name. */
export function serialPortId(id: string): string {
  return `${id}-port`;
}

export function deviceArgs(spec: VmSpec, d: Device): string[] {
  switch (d.kind) {
    case 'serial-port':
      return [
        '-device',
        `${virtio(spec, 'virtio-serial')},id=${d.id}-bus`,
        '-chardev',
        `socket,id=${d.id},path=${d.socketPath},server=on,wait=off`,
        '-device',
        `virtserialport,bus=${d.id}-bus.0,chardev=${d.id},name=${d.name},id=${serialPortId(d.id)}`,
      ];
    case 'vhost-user-fs':
      return [
        '-chardev',
        `socket,id=${d.id},path=${d.socketPath}`,
        '-device',
        `${virtio(spec, 'vhost-user-fs')},chardev=${d.id},tag=${d.tag},queue-size=1024`,
      ];
    case '9p':
      return [
        '-fsdev',
        `local,id=${d.id},path=${d.path},security_model=none${d.readonly ? ',readonly=on' : ''}`,
        '-device',
        `${virtio(spec, 'virtio-9p')},fsdev=${d.id},mount_tag=${d.tag}`,
      ];
    case 'vm-generation-id':
      return ['-device', `vmgenid,id=${d.id},guid=auto`];
    case 'hotplug-port':
      return ['-device', `pcie-root-port,id=${d.id},bus=pcie.0,chassis=1`];
    case 'rng':
      return [
        '-object',
        `rng-random,id=${d.id},filename=/dev/urandom`,
        '-device',
        `${virtio(spec, 'virtio-rng')},rng=${d.id}`,
      ];
  }
}

export function buildArgv(qemuPath: string, spec: VmSpec): string[] {
  return [qemuPath, ...machineArgs(spec), ...spec.devices.flatMap((d) => deviceArgs(spec, d))];
}
