// The descriptors a QEMU process gets, by number: the host helper opens
// each (as root, before confining QEMU) and passes it at its number, and
// the command line (argv.ts) names the numbers. 0-2 are stdio; 3 is QMP.
import { join } from 'node:path';
import type { PassedFd } from '../../confinement/jail.js';
import { HakoError } from '../../errors.js';
import type { Device, VmSpec } from '../types.js';

export interface QemuFds {
  readonly passed: readonly PassedFd[];
  qmp(): number;
  /** A device's socket (a serial port's, listening; a vhost-user daemon's, connected). */
  of(id: string): number;
  /** The descriptors of a NIC's tap queues. */
  queues(id: string, count: number): number[];
  /** The /dev/vhost-net descriptors of a NIC's queues. */
  vhostQueues(id: string, count: number): number[];
  /** The RAM file (memoryFile), read-write. */
  memory(): number;
  /** A template's state: written when saving, read when restoring. */
  migration(): number;
  /** The guest kernel and initramfs, read-only: QEMU need not reach their directories. */
  kernel(): number;
  initrd(): number;
}

/** The host kernel's virtio-net backend: one descriptor per queue. */
export const VHOST_NET = '/dev/vhost-net';

export function qmpSocket(spec: VmSpec): string {
  return join(spec.dir, 'qmp.sock');
}

export function planQemuFds(
  spec: VmSpec,
  o: { readonly hotplug?: readonly Device[]; readonly migration?: { path: string; how: 'r' | 'w' } } = {},
): QemuFds {
  const passed: PassedFd[] = [];
  const byName = new Map<string, number>();
  const add = (name: string, how: PassedFd['how'], path: string) => {
    const fd = 3 + passed.length;
    passed.push({ fd, how, path });
    byName.set(name, fd);
  };
  add('qmp', 'listen', qmpSocket(spec));
  add('kernel', 'r', spec.kernel);
  add('initrd', 'r', spec.initrd);
  for (const d of [...spec.devices, ...(o.hotplug ?? [])]) {
    if (d.kind === 'serial-port') add(`dev:${d.id}`, 'listen', d.socketPath);
    if (d.kind === 'vhost-user-fs') add(`dev:${d.id}`, 'connect', d.socketPath);
    if (d.kind === 'net-stream') add(`dev:${d.id}`, 'connect', d.socketPath);
    if (d.kind === 'net') {
      const mq = d.queues > 1 ? ':mq' : '';
      for (let q = 0; q < d.queues; q++) add(`dev:${d.id}:${q}`, 'tap', `${d.netns}:${d.tap}${mq}`);
      if (d.vhost) for (let q = 0; q < d.queues; q++) add(`dev:${d.id}:vhost:${q}`, 'rw', VHOST_NET);
    }
  }
  if (spec.memoryFile) add('memory', 'rw', spec.memoryFile.path);
  if (o.migration) add('migration', o.migration.how, o.migration.path);
  const get = (name: string) => {
    const fd = byName.get(name);
    if (fd === undefined) throw new HakoError('INTERNAL', `QEMU has no descriptor for ${name}`);
    return fd;
  };
  return {
    passed,
    qmp: () => get('qmp'),
    of: (id) => get(`dev:${id}`),
    queues: (id, count) => Array.from({ length: count }, (_, q) => get(`dev:${id}:${q}`)),
    vhostQueues: (id, count) => Array.from({ length: count }, (_, q) => get(`dev:${id}:vhost:${q}`)),
    memory: () => get('memory'),
    migration: () => get('migration'),
    kernel: () => get('kernel'),
    initrd: () => get('initrd'),
  };
}
