// The QEMU command line, built by small pure functions: one for the machine,
// one per device. Snapshot tests pin the output (test/unit/qemu-argv.test.ts).
//
// QEMU opens no path of the sandbox itself: its sockets (QMP, the agent's
// port: listening; the shared-fs daemon's: connected), its RAM file, a
// template's state, the kernel and the initramfs are descriptors the host
// helper opens as root and passes at fixed numbers (fds.ts), so that a
// confined QEMU needs no access to any directory at all. (QEMU reopens a
// file through /proc/self/fd/N: that checks the file's own mode, not its
// directories'.)
import type { Device, VmSpec } from '../types.js';
import type { QemuFds } from './fds.js';

/** Virtio devices sit on virtio-mmio on microvm and on PCI on q35. */
function virtio(spec: VmSpec, base: string): string {
  return spec.machine === 'microvm' ? `${base}-device` : `${base}-pci`;
}

function needsSharedMemory(spec: VmSpec): boolean {
  return spec.devices.some((d) => d.kind === 'vhost-user-fs');
}

/** A value inside a QEMU option list: commas are doubled. */
export function optValue(v: string): string {
  return v.replaceAll(',', ',,');
}

/**
 * Under TCG, every CPU feature QEMU can emulate, less the two that ask for
 * `rep movsb`/`rep stosb` (ERMS, FSRM): TCG runs those one byte per loop
 * iteration, so the guest kernel and glibc copy faster with `rep movsq` or
 * vector loops. Both are speed hints only: no program needs them. Measured:
 * ~90 ms less CPU per boot (the initramfs unpack is a 6 MB copy).
 */
const TCG_CPU = 'max,erms=off,fsrm=off';

/**
 * QEMU's own seccomp filter: besides its default deny list, no obsolete
 * calls, no set*uid and friends, no fork or exec, no changes to scheduling
 * or resource limits.
 */
export const QEMU_SANDBOX = 'on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny';

/** The guest RAM's backend: a template's file, a shareable memfd (vhost-user), or plain RAM. */
function memoryBackend(spec: VmSpec, mem: string, fds: QemuFds): string {
  if (spec.memoryFile) {
    return `memory-backend-file,id=mem,size=${mem},mem-path=/proc/self/fd/${fds.memory()},share=on`;
  }
  if (needsSharedMemory(spec)) return `memory-backend-memfd,id=mem,size=${mem},share=on`;
  return `memory-backend-ram,id=mem,size=${mem}`;
}

/** CPUs and memory, with room to hot-plug more (`growth`, q35 only). */
function sizeArgs(spec: VmSpec): string[] {
  const g = spec.machine === 'q35' ? spec.growth : undefined;
  const cpus = g && g.maxVcpus > spec.vcpus ? `${spec.vcpus},maxcpus=${g.maxVcpus}` : String(spec.vcpus);
  const mem =
    g && g.maxMemoryMiB > spec.memoryMiB && g.memorySlots > 0
      ? `${spec.memoryMiB}M,slots=${g.memorySlots},maxmem=${g.maxMemoryMiB}M`
      : `${spec.memoryMiB}M`;
  return ['-smp', cpus, '-m', mem];
}

export function machineArgs(spec: VmSpec, fds: QemuFds): string[] {
  const mem = `${spec.memoryMiB}M`;
  const machine =
    spec.machine === 'microvm'
      ? `microvm,accel=${spec.accel},acpi=on,pit=off,pic=off,rtc=on,isa-serial=on,memory-backend=mem`
      : `q35,accel=${spec.accel},memory-backend=mem`;
  const args = [
    // The sandbox directory in the name lets cleanup find a QEMU whose start
    // was not recorded (its command line holds no other path of it).
    '-name',
    optValue(`hako-${spec.id} ${spec.dir}/`),
    '-machine',
    machine,
    '-cpu',
    spec.accel === 'kvm' ? 'host' : TCG_CPU,
    ...sizeArgs(spec),
    '-object',
    memoryBackend(spec, mem, fds),
    '-nodefaults',
    '-no-user-config',
    '-nographic',
    '-no-reboot',
    '-kernel',
    `/proc/self/fd/${fds.kernel()}`,
    '-initrd',
    `/proc/self/fd/${fds.initrd()}`,
    '-append',
    spec.kernelArgs.join(' '),
    ...(spec.consoleLog
      ? ['-chardev', 'stdio,id=console,signal=off', '-serial', 'chardev:console']
      : ['-serial', 'null']),
    '-chardev',
    `socket,id=qmp,fd=${fds.qmp()},server=on,wait=off`,
    '-mon',
    'chardev=qmp,mode=control',
  ];
  if (spec.seccomp) args.push('-sandbox', QEMU_SANDBOX);
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

/**
 * A NIC's multi-queue properties: one queue pair per vCPU, and on PCI
 * 2N+2 MSI-X vectors (virtio-net's rule); none for a single queue.
 */
export function multiQueue(
  d: Extract<Device, { kind: 'net' | 'net-stream' }>,
  machine: VmSpec['machine'],
): { mq?: true; vectors?: number } {
  const queues = d.kind === 'net' ? d.queues : 1;
  if (queues <= 1) return {};
  return machine === 'microvm' ? { mq: true } : { mq: true, vectors: 2 * queues + 2 };
}

/** A NIC's backend: its tap queues, or its daemon's stream socket, by the descriptors the helper opened. */
export function netdevArgs(d: Extract<Device, { kind: 'net' | 'net-stream' }>, fds: QemuFds): string[] {
  if (d.kind === 'net-stream')
    return ['-netdev', `stream,id=${d.id},server=off,addr.type=fd,addr.str=${fds.of(d.id)}`];
  const vhost = d.vhost ? `vhost=on,vhostfds=${fds.vhostQueues(d.id, d.queues).join(':')}` : 'vhost=off';
  return ['-netdev', `tap,id=${d.id},fds=${fds.queues(d.id, d.queues).join(':')},${vhost}`];
}

/** The chardev of a vhost-user-fs device: a socket connected to its daemon. */
export function vhostUserChardev(d: Extract<Device, { kind: 'vhost-user-fs' }>, fds: QemuFds): string[] {
  return ['-chardev', `socket,id=${d.id},fd=${fds.of(d.id)}`];
}

export function deviceArgs(spec: VmSpec, d: Device, fds: QemuFds): string[] {
  switch (d.kind) {
    case 'serial-port':
      return [
        '-device',
        `${virtio(spec, 'virtio-serial')},id=${d.id}-bus`,
        '-chardev',
        `socket,id=${d.id},fd=${fds.of(d.id)},server=on,wait=off`,
        '-device',
        `virtserialport,bus=${d.id}-bus.0,chardev=${d.id},name=${d.name},id=${serialPortId(d.id)}`,
      ];
    case 'vhost-user-fs':
      return [
        ...vhostUserChardev(d, fds),
        '-device',
        `${virtio(spec, 'vhost-user-fs')},chardev=${d.id},tag=${d.tag},queue-size=1024`,
      ];
    case '9p':
      return [
        '-fsdev',
        `local,id=${d.id},path=${optValue(d.path)},security_model=none${d.readonly ? ',readonly=on' : ''}`,
        '-device',
        `${virtio(spec, 'virtio-9p')},fsdev=${d.id},mount_tag=${d.tag}`,
      ];
    case 'net':
    case 'net-stream': {
      const mq = Object.entries(multiQueue(d, spec.machine))
        .map(([k, v]) => `,${k}=${v === true ? 'on' : String(v)}`)
        .join('');
      return [
        ...netdevArgs(d, fds),
        '-device',
        `${virtio(spec, 'virtio-net')},netdev=${d.id},mac=${d.mac}${mq}`,
      ];
    }
    case 'vm-generation-id':
      return ['-device', `vmgenid,id=${d.id},guid=auto`];
    case 'hotplug-port':
      return ['-device', `pcie-root-port,id=${d.id},bus=pcie.0,chassis=${d.chassis}`];
    case 'rng':
      return [
        '-object',
        `rng-random,id=${d.id},filename=/dev/urandom`,
        '-device',
        `${virtio(spec, 'virtio-rng')},rng=${d.id}`,
      ];
  }
}

/**
 * The command line; `hotplug` devices (added over QMP later) get only their
 * backends here (a chardev, a netdev), connected from the start.
 */
export function buildArgv(
  qemuPath: string,
  spec: VmSpec,
  fds: QemuFds,
  hotplug: readonly Device[] = [],
): string[] {
  const chardevs = hotplug.flatMap((d) =>
    d.kind === 'vhost-user-fs'
      ? vhostUserChardev(d, fds)
      : d.kind === 'net' || d.kind === 'net-stream'
        ? netdevArgs(d, fds)
        : [],
  );
  return [
    qemuPath,
    ...machineArgs(spec, fds),
    ...spec.devices.flatMap((d) => deviceArgs(spec, d, fds)),
    ...chardevs,
  ];
}
