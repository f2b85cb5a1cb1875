// Snapshot tests of the QEMU command line. Run with UPDATE_SNAPSHOTS=1 to
// accept a deliberate change (then review the diff of the snapshot file).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildArgv as build, optValue } from '../../src/hypervisor/qemu/argv.js';
import { planQemuFds } from '../../src/hypervisor/qemu/fds.js';
import { hotplugCommands } from '../../src/hypervisor/qemu/template.js';
import { jailedArgv, UNCONFINED } from '../../src/confinement/jail.js';
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

/** The command line with the descriptors planned for `spec`. */
function buildArgv(qemu: string, spec: VmSpec): string[] {
  return build(qemu, spec, planQemuFds(spec));
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
  jail: UNCONFINED,
  seccomp: false,
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
    { kind: 'hotplug-port', id: 'hotplug0', chassis: 1 },
    { kind: 'vm-generation-id', id: 'vmgenid0' },
  ],
  memoryFile: { path: '/t/memory' },
};

test('a VM template: RAM in a shared file, a port to hot-plug into', () => {
  snapshot('q35-template', buildArgv('/usr/bin/qemu-system-x86_64', templateSpec));
});

test("a template's clone maps its own copy of the RAM (a passed descriptor), shared with the vhost-user daemon", () => {
  const fs = { kind: 'vhost-user-fs', id: 'fs0', tag: 'hako', socketPath: '/c/fs.sock' } as const;
  const spec = { ...templateSpec, memoryFile: { path: '/c/memory' } };
  const fds = planQemuFds(spec, { hotplug: [fs], migration: { path: '/t/state', how: 'r' } });
  assert.deepEqual(fds.passed, [
    { fd: 3, how: 'listen', path: '/run/hako/abc/qmp.sock' },
    { fd: 4, how: 'r', path: '/k/vmlinux' },
    { fd: 5, how: 'r', path: '/k/initramfs.cpio' },
    { fd: 6, how: 'listen', path: '/t/agent.sock' },
    { fd: 7, how: 'connect', path: '/c/fs.sock' },
    { fd: 8, how: 'rw', path: '/c/memory' },
    { fd: 9, how: 'r', path: '/t/state' },
  ]);
  const argv = build('qemu', spec, fds, [fs]);
  assert.ok(argv.includes('memory-backend-file,id=mem,size=512M,mem-path=/proc/self/fd/8,share=on'));
  // The hot-plugged device's chardev is there from the start, connected.
  assert.deepEqual(argv.slice(-2), ['-chardev', 'socket,id=fs0,fd=7']);
  assert.equal(fds.migration(), 9);
});

test('QEMU opens no path of the sandbox: sockets and files are descriptors the helper passes', () => {
  const spec = {
    ...base,
    dir: '/run/hako/a,b',
    jail: {
      uid: 2000000001,
      gid: 2000000001,
      keepCaps: [],
      noNewPrivs: true,
      cgroups: ['/sys/fs/cgroup/x'],
      noCore: true,
    },
    seccomp: true,
  };
  const fds = planQemuFds(spec);
  const qemu = build('/usr/bin/qemu-system-x86_64', spec, fds);
  // No path at all but the sandbox dir in the name (commas doubled).
  assert.deepEqual(
    qemu.filter((a) => a.includes('/run/hako')),
    ['hako-abc /run/hako/a,,b/'],
  );
  assert.ok(qemu.includes('on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny'));
  snapshot('confined-microvm', jailedArgv('/h', spec.jail, { dieWithParent: true, fds: fds.passed }, qemu));
  assert.equal(optValue('a,b,,c'), 'a,,b,,,,c');
});

test('the shared fs is hot-plugged as a vhost-user-fs-pci device on the port', () => {
  const fs = { kind: 'vhost-user-fs', id: 'fs0', tag: 'hako', socketPath: '/c/fs.sock' } as const;
  assert.deepEqual(hotplugCommands(fs, 'hotplug0'), [
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

test("a NIC on a pod's tap: its queues (and with vhost-net, a /dev/vhost-net descriptor each) are passed, multi-queue on q35", () => {
  for (const vhost of [false, true]) {
    const nic = {
      kind: 'net',
      id: 'net0',
      mac: '02:42:0a:58:00:02',
      netns: '/var/run/netns/pod',
      tap: 'tap0_hako',
      queues: 2,
      vhost,
    } as const;
    const spec: VmSpec = { ...base, machine: 'q35', vcpus: 2, devices: [nic] };
    const fds = planQemuFds(spec);
    const taps = fds.passed.filter((p) => p.how === 'tap');
    assert.deepEqual(
      taps.map((p) => p.path),
      ['/var/run/netns/pod:tap0_hako:mq', '/var/run/netns/pod:tap0_hako:mq'],
    );
    const argv = build('/q', spec, fds);
    const [q0, q1] = taps.map((p) => p.fd);
    const backend = vhost
      ? (() => {
          const v = fds.passed.filter((p) => p.path === '/dev/vhost-net');
          assert.deepEqual(
            v.map((p) => p.how),
            ['rw', 'rw'],
          );
          return `vhost=on,vhostfds=${v.map((p) => p.fd).join(':')}`;
        })()
      : 'vhost=off';
    assert.ok(argv.includes(`tap,id=net0,fds=${q0}:${q1},${backend}`), argv.join(' '));
    assert.ok(
      argv.includes('virtio-net-pci,netdev=net0,mac=02:42:0a:58:00:02,mq=on,vectors=6'),
      argv.join(' '),
    );
  }
});
