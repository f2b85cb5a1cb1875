// Snapshot tests of the QEMU command line. Run with UPDATE_SNAPSHOTS=1 to
// accept a deliberate change (then review the diff of the snapshot file).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildArgv } from '../../src/hypervisor/qemu/argv.js';
import { hotplugCommands, shellSafePath } from '../../src/hypervisor/qemu/template.js';
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

const templateSpec: VmSpec = {
  ...base,
  machine: 'q35',
  devices: [
    { kind: 'serial-port', id: 'agent', name: 'hako.agent', socketPath: '/t/agent.sock' },
    { kind: 'rng', id: 'rng0' },
    { kind: 'hotplug-port', id: 'hotplug0' },
    { kind: 'vm-generation-id', id: 'vmgenid0' },
  ],
  memoryFile: { path: '/t/memory' },
};

test('a VM template: RAM in a shared file, a port to hot-plug into', () => {
  snapshot('q35-template', buildArgv('/usr/bin/qemu-system-x86_64', templateSpec));
});

test("a template's clone maps its own copy of the RAM, shared with the vhost-user daemon", () => {
  const argv = buildArgv('qemu', { ...templateSpec, memoryFile: { path: '/c/memory' } });
  assert.ok(argv.includes('memory-backend-file,id=mem,size=512M,mem-path=/c/memory,share=on'));
});

test('the shared fs is hot-plugged as a chardev and a vhost-user-fs-pci device on the port', () => {
  const fs = { kind: 'vhost-user-fs', id: 'fs0', tag: 'hako', socketPath: '/c/fs.sock' } as const;
  assert.deepEqual(hotplugCommands(fs, 'hotplug0'), [
    {
      execute: 'chardev-add',
      arguments: {
        id: 'fs0',
        backend: {
          type: 'socket',
          data: { addr: { type: 'unix', data: { path: '/c/fs.sock' } }, server: false },
        },
      },
    },
    {
      execute: 'device_add',
      arguments: {
        driver: 'vhost-user-fs-pci',
        id: 'fs0-dev',
        chardev: 'fs0',
        tag: 'hako',
        'queue-size': 1024,
        bus: 'hotplug0',
      },
    },
  ]);
  assert.throws(() => hotplugCommands({ kind: 'rng', id: 'r' }, 'hotplug0'), /cannot hot-plug a rng device/);
});

test('template paths that /bin/sh would interpret are refused', () => {
  assert.equal(shellSafePath('/dev/shm/hako-templates/ab12'), '/dev/shm/hako-templates/ab12');
  for (const bad of ['/tmp/a b', "/tmp/a'b", '/tmp/$(x)', 'relative', '/tmp/a;b']) {
    assert.throws(() => shellSafePath(bad), /may only hold/);
  }
});
