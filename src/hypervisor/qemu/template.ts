// VM templates with QEMU: saving a booted VM (its RAM stays in the file it
// was mapped from; `x-ignore-shared` leaves it out of the saved state) and
// starting VMs from one, with the devices a template cannot hold (vhost-user
// ones are not migratable) hot-plugged before the guest resumes. The state
// travels through a descriptor (`fd:` migration), never `exec:`, which
// would have QEMU spawn a shell.
import { join } from 'node:path';
import { HakoError, type ErrorCode } from '../../errors.js';
import { pathAppears } from '../../sys/path-appears.js';
import type { Device, VmExit, VmSpec, VmTemplate } from '../types.js';
import { multiQueue } from './argv.js';
import { qmpSocket } from './fds.js';
import { QmpClient, type QmpEvent } from './qmp.js';

export const statePath = (t: VmTemplate): string => join(t.dir, 'state');

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Connects to a starting VM's QMP socket, once QEMU has made it. */
export async function connectWhenUp(
  spec: VmSpec,
  exited: Promise<VmExit>,
  deadline: number,
): Promise<QmpClient> {
  const path = qmpSocket(spec);
  const ended = exited.then(() => 'ended' as const);
  for (;;) {
    const seen = await pathAppears(path, deadline, exited);
    if (seen === 'ended') throw new HakoError('VM_START_FAILED', 'QEMU exited while starting');
    if (seen === 'timeout') throw new HakoError('VM_START_FAILED', `no QMP socket at ${path}`);
    // The socket listens before QEMU runs (the host helper made it): a
    // connection waits for QEMU's greeting, and fails if QEMU dies first.
    const attempt = QmpClient.connect(path, Math.max(1, deadline - Date.now())).then(
      (qmp) => ({ qmp }),
      (error: unknown) => ({ error }),
    );
    const r = await Promise.race([attempt, ended]);
    if (r === 'ended') {
      void attempt.then((a) => ('qmp' in a ? a.qmp.close() : undefined));
      throw new HakoError('VM_START_FAILED', 'QEMU exited while starting');
    }
    if ('qmp' in r) return r.qmp;
    if (Date.now() > deadline) throw r.error;
    await sleep(2);
  }
}

/** Polls a migration (either side) until it completes; throws `failed` (a code) if it fails. */
export async function migrationDone(
  qmp: QmpClient,
  what: string,
  deadline: number,
  failed: ErrorCode = 'VM_START_FAILED',
): Promise<void> {
  for (;;) {
    const r = (await qmp.execute('query-migrate')) as { status?: string; 'error-desc'?: string } | undefined;
    if (r?.status === 'completed') return;
    if (r?.status === 'failed' || r?.status === 'cancelled') {
      throw new HakoError(failed, `${what} failed: ${r['error-desc'] ?? r.status}`);
    }
    if (Date.now() > deadline) throw new HakoError('VM_START_FAILED', `${what} did not finish in time`);
    await sleep(2);
  }
}

/** Resolves when the guest opens the serial port whose device id is `portId`. */
export function portOpened(qmp: QmpClient, portId: string): Promise<void> {
  return new Promise((resolve) => {
    qmp.onEvent((e: QmpEvent) => {
      const d = e.data as { id?: string; open?: boolean } | undefined;
      if (e.event === 'VSERPORT_CHANGE' && d?.id === portId && d.open === true) resolve();
    });
  });
}

/**
 * The QMP commands that hot-plug a device onto `port` (a hotplug-port's id).
 * Its backend (chardev, netdev) is on QEMU's command line, from the start.
 */
export function hotplugCommands(
  d: Device,
  port: string,
): { execute: string; arguments: Record<string, unknown> }[] {
  if (d.kind === 'net' || d.kind === 'net-stream') {
    const mq = multiQueue(d, 'q35');
    return [
      {
        execute: 'device_add',
        arguments: {
          driver: 'virtio-net-pci',
          id: `${d.id}-dev`,
          netdev: d.id,
          mac: d.mac,
          bus: port,
          ...mq,
        },
      },
    ];
  }
  if (d.kind !== 'vhost-user-fs') {
    throw new HakoError('INTERNAL', `cannot hot-plug a ${d.kind} device`);
  }
  return [
    {
      execute: 'device_add',
      arguments: {
        driver: 'vhost-user-fs-pci',
        id: `${d.id}-dev`,
        chardev: d.id,
        tag: d.tag,
        'queue-size': 1024,
        bus: port,
      },
    },
  ];
}
