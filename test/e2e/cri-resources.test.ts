// A hako pod's VM sized for its containers through containerd's CRI plugin
// (in a network namespace the test made): each container's CPU and memory
// limits are hot-plugged into the VM while it exists (the guest brings them
// online), its guest cgroup gets the limits, UpdateContainerResources
// resizes both, and the VM shrinks back when the container goes.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Cri } from '../helpers/cri.js';
import { assertNoLeaks } from '../helpers/leaks.js';
import { fileNetns } from '../helpers/netns.js';

const node = fileNetns('crr');
let cri: Cri;
const MiB = 1 << 20;

before(async () => {
  node.make();
  // Room for 3 more vCPUs than the default 2 (TCG runs more vCPUs than host CPUs).
  cri = await Cri.start(node.path, undefined, '[hypervisor.qemu]\ndefault_maxvcpus = 5\n');
});

after(async () => {
  try {
    await cri.stop();
  } finally {
    node.remove();
  }
});

/** The guest's online CPUs and MemTotal (KiB), as a container of the pod sees them. */
async function guestSize(container: string): Promise<{ cpus: number; memKiB: number }> {
  const r = await cri.execSync(container, [
    'sh',
    '-c',
    'cat /sys/devices/system/cpu/online; grep MemTotal /proc/meminfo',
  ]);
  const [online = '', mem = ''] = r.stdout.split('\n');
  let cpus = 0;
  for (const part of online.split(',')) {
    const [a, b = a] = part.split('-').map(Number);
    cpus += (b ?? 0) - (a ?? 0) + 1;
  }
  return { cpus, memKiB: Number(/(\d+)/.exec(mem)?.[1]) };
}

/** The container's guest cgroup limits: memory.max and cpu.max. */
async function cgroupLimits(container: string): Promise<string> {
  const r = await cri.execSync(container, [
    'sh',
    '-c',
    'd=/sys/fs/cgroup$(cut -d: -f3 /proc/self/cgroup); cat $d/memory.max $d/cpu.max',
  ]);
  return r.stdout + r.stderr;
}

/** Polls until `ok` holds of the guest's size (hot-unplug completes in the guest's time). */
async function sizeBecomes(
  container: string,
  ok: (s: { cpus: number; memKiB: number }) => boolean,
): Promise<{ cpus: number; memKiB: number }> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const s = await guestSize(container);
    if (ok(s) || Date.now() > deadline) return s;
    await new Promise((r) => setTimeout(r, 250));
  }
}

test('container limits are hot-plugged into the VM and onlined, the guest cgroup has them, UpdateContainerResources resizes both, and removal gives them back', async () => {
  const config = cri.podConfig('sized');
  const pod = await cri.runPod(config);
  try {
    // Without limits: the configured default (2 vCPUs, 512 MiB).
    const base = await cri.runContainer(pod, config, 'base', ['sleep', '600']);
    const boot = await guestSize(base);
    assert.equal(boot.cpus, 2);
    assert.ok(boot.memKiB < 512 * 1024 && boot.memKiB > 400 * 1024, `MemTotal ${boot.memKiB} kB`);

    const big = await cri.runContainer(pod, config, 'big', ['sleep', '600'], {
      cpuPeriod: 100_000,
      cpuQuota: 200_000,
      memoryLimitInBytes: 512 * MiB,
    });
    // Grown before the container was created: online already.
    const grown = await guestSize(base);
    assert.equal(grown.cpus, 4, 'two vCPUs more, online');
    assert.ok(grown.memKiB >= boot.memKiB + 500 * 1024, `MemTotal ${boot.memKiB} → ${grown.memKiB} kB`);
    assert.equal(await cgroupLimits(big), `${512 * MiB}\n200000 100000\n`);

    // More memory, fewer CPUs.
    await cri.call('UpdateContainerResources', {
      containerId: big,
      linux: { cpuPeriod: 100_000, cpuQuota: 100_000, memoryLimitInBytes: 768 * MiB },
    });
    const updated = await sizeBecomes(base, (s) => s.cpus === 3);
    assert.equal(updated.cpus, 3, 'one vCPU given back');
    assert.ok(updated.memKiB >= boot.memKiB + 756 * 1024, `MemTotal ${updated.memKiB} kB`);
    assert.equal(await cgroupLimits(big), `${768 * MiB}\n100000 100000\n`);

    await cri.removeContainer(big);
    const back = await sizeBecomes(base, (s) => s.cpus === 2 && s.memKiB <= boot.memKiB);
    assert.deepEqual(back, boot, 'the VM is back to its default size');
  } finally {
    await cri.removePod(pod);
  }
  await assertNoLeaks(cri.containerd.hakoStateDir);
});
