// Snapshot tests of the QEMU command line. Run with UPDATE_SNAPSHOTS=1 to
// accept a deliberate change (then review the diff of the snapshot file).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildArgv } from '../../src/hypervisor/qemu/argv.js';
import type { VmSpec } from '../../src/hypervisor/types.js';
import { SNAPSHOTS } from '../helpers/paths.js';

const file = join(SNAPSHOTS, 'qemu-argv.json');
const stored: Record<string, string[]> = existsSync(file)
  ? (JSON.parse(readFileSync(file, 'utf8')) as Record<string, string[]>)
  : {};
const update = process.env['UPDATE_SNAPSHOTS'] === '1';

function snapshot(name: string, value: string[]): void {
  if (update) {
    stored[name] = value;
    mkdirSync(SNAPSHOTS, { recursive: true });
    writeFileSync(file, `${JSON.stringify(stored, null, 1)}\n`);
    return;
  }
  assert.ok(stored[name], `no snapshot "${name}": run with UPDATE_SNAPSHOTS=1`);
  assert.deepEqual(value, stored[name]);
}

const base: VmSpec = {
  id: 'abc',
  dir: '/run/hako/abc',
  machine: 'microvm',
  accel: 'tcg',
  vcpus: 1,
  memoryMiB: 512,
  kernel: '/k/vmlinux',
  initrd: '/k/initramfs.cpio',
  kernelArgs: ['console=ttyS0', 'quiet'],
  devices: [
    { kind: 'serial-port', id: 'agent', name: 'hako.agent', socketPath: '/run/hako/abc/agent.sock' },
    { kind: 'vhost-user-fs', id: 'fs0', tag: 'hako', socketPath: '/run/hako/abc/fs.sock' },
    { kind: 'rng', id: 'rng0' },
  ],
  consoleLog: false,
  dieWithParent: false,
};

test('microvm with virtio-fs under TCG', () => {
  snapshot('microvm-virtiofs-tcg', buildArgv('/usr/bin/qemu-system-x86_64', base));
});

test('q35 with 9p under KVM, 2 vCPUs, console log', () => {
  snapshot(
    'q35-9p-kvm',
    buildArgv('/usr/bin/qemu-system-x86_64', {
      ...base,
      machine: 'q35',
      accel: 'kvm',
      vcpus: 2,
      memoryMiB: 1024,
      consoleLog: true,
      devices: [
        { kind: 'serial-port', id: 'agent', name: 'hako.agent', socketPath: '/s/agent.sock' },
        { kind: '9p', id: 'fs0', tag: 'hako', path: '/s/shared', readonly: false },
      ],
    }),
  );
});

test('shared memory is used only when a vhost-user device needs it', () => {
  const argv = buildArgv('qemu', { ...base, devices: [] });
  assert.ok(argv.some((a) => a.startsWith('memory-backend-ram,')));
  assert.ok(!argv.some((a) => a.includes('share=on')));
});
