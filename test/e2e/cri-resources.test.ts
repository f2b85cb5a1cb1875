// A hako pod's VM sized for its containers through containerd's CRI plugin
// (in a network namespace the test made): each container's CPU and memory
// limits are hot-plugged into the VM while it exists (the guest brings them
// online), its guest cgroup gets the limits, UpdateContainerResources
// resizes both, and the VM shrinks back when the container goes.
import { test } from 'node:test';
import { existsSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { Cri, criSuite } from '../helpers/cri.js';
import { assertNoLeaks } from '../helpers/leaks.js';
import { pidsWith } from '../helpers/hako.js';

let cri: Cri;
const MiB = 1 << 20;
/** The pods' host cgroup parent, as kubelet gives one (removed at the end). */
const CGROUP_PARENT = `/hako-crr-${process.pid}`;

criSuite('crr', (c) => (cri = c), {
  // Room for 3 more vCPUs than the default 2 (TCG runs more vCPUs than host CPUs).
  hakoConfig: '[hypervisor.qemu]\ndefault_maxvcpus = 5\nenable_annotations = ["default_vcpus"]\n',
  cleanup: () => {
    for (const c of ['memory', 'cpu', 'cpuacct', 'pids', 'unified', '']) {
      const dir = join('/sys/fs/cgroup', c, CGROUP_PARENT);
      if (existsSync(dir)) rmdirSync(dir);
    }
  },
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
  await cri.inPod(config, async (pod) => {
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
  });
});

interface Figures {
  cpu: { usageCoreNanoSeconds: { value: string } };
  memory: { workingSetBytes: { value: string }; usageBytes: { value: string } };
}
const cpuOf = (f: Figures) => Number(f.cpu.usageCoreNanoSeconds.value);
const memOf = (f: Figures) => Number(f.memory.workingSetBytes.value);

test("ContainerStats, ListContainerStats and PodSandboxStats carry real figures: the container's from its guest cgroup, the pod's from its VM's host cgroup", async () => {
  const config = cri.podConfig('stats', CGROUP_PARENT);
  await cri.inPod(config, async (pod) => {
    // Burns CPU, then holds 40 MiB: dd's buffer, filled, while it waits on a pipe no one reads.
    const c = await cri.runContainer(pod, config, 'busy', [
      'sh',
      '-c',
      'dd if=/dev/zero of=/dev/null bs=1M count=2000; dd if=/dev/zero bs=40M count=1 | sleep 600',
    ]);
    const deadline = Date.now() + 60_000;
    let one = (await cri.call<{ stats: Figures }>('ContainerStats', { containerId: c })).stats;
    while (memOf(one) < 40 * MiB && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 500));
      one = (await cri.call<{ stats: Figures }>('ContainerStats', { containerId: c })).stats;
    }
    assert.ok(cpuOf(one) > 100e6, `container CPU ${cpuOf(one)} ns`);
    assert.ok(memOf(one) >= 40 * MiB, `container working set ${memOf(one)} bytes`);
    const list = await cri.call<{ stats: (Figures & { attributes: { id: string } })[] }>(
      'ListContainerStats',
      {
        filter: { podSandboxId: pod },
      },
    );
    assert.deepEqual(
      list.stats.map((s) => s.attributes.id),
      [c],
    );
    assert.ok(memOf(list.stats[0] as Figures) >= 40 * MiB);
    const podStats = (
      await cri.call<{ stats: { linux: Figures & { containers: unknown[] } } }>('PodSandboxStats', {
        podSandboxId: pod,
      })
    ).stats.linux;
    // The whole VM: QEMU and virtiofsd, which hold the guest's memory and run its CPUs.
    assert.ok(cpuOf(podStats) >= cpuOf(one), `pod CPU ${cpuOf(podStats)} ns, container's ${cpuOf(one)}`);
    assert.ok(memOf(podStats) >= memOf(one), `pod working set ${memOf(podStats)}, container's ${memOf(one)}`);
    assert.equal(podStats.containers.length, 1);
  });
});

test("an enabled annotation sizes a pod's VM, one not enabled fails the pod naming it, and io.hako.sandbox-id cannot put a pod in another pod's VM", async () => {
  const sized = cri.podConfig('annotated', undefined, { 'io.hako.config.hypervisor.default_vcpus': '3' });
  const pod = await cri.runPod(sized);
  try {
    const c = await cri.runContainer(pod, sized, 'app', ['sleep', '600']);
    assert.equal((await guestSize(c)).cpus, 3);
    // Another pod that names the first one's sandbox: it gets a VM of its own.
    const intruder = cri.podConfig('intruder', undefined, { 'io.hako.sandbox-id': pod });
    const other = await cri.runPod(intruder);
    try {
      const d = await cri.runContainer(other, intruder, 'app', ['sleep', '600']);
      assert.equal((await guestSize(d)).cpus, 2, "the default VM, not the annotated pod's");
      const vms = await pidsWith(cri.containerd.hakoStateDir, 'qemu-system');
      assert.equal(vms.length, 2, 'one VM per pod');
    } finally {
      await cri.removePod(other);
    }
  } finally {
    await cri.removePod(pod);
  }
  const refused = cri.podConfig('refused', undefined, { 'io.hako.config.hypervisor.default_memory': '2048' });
  await assert.rejects(
    cri.runPod(refused),
    /io\.hako\.config\.hypervisor\.default_memory: not enabled: the configuration must list "default_memory"/,
  );
  await assertNoLeaks(cri.containerd.hakoStateDir);
});
