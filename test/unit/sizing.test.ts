// Sizing a VM for its containers: what a container's limits add, how a VM
// moves toward a size (resize-plan.ts), the QEMU command line with room to
// grow, and the QMP conversation of a resize against a scripted QEMU,
// including a hostile one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { podSize, shareOf } from '../../src/runtime/sizing.js';
import { onlineCpus, planResize } from '../../src/hypervisor/resize-plan.js';
import { vmGrowth } from '../../src/runtime/vm-spec.js';
import { resizeVm } from '../../src/hypervisor/qemu/resize.js';
import { QmpClient } from '../../src/hypervisor/qemu/qmp.js';
import { buildArgv } from '../../src/hypervisor/qemu/argv.js';
import { planQemuFds } from '../../src/hypervisor/qemu/fds.js';
import { fromRaw, ConfigSchema } from '../../src/config/schema.js';
import { fakeQmp } from '../helpers/fake-qmp.js';
import { testVmSpec } from '../helpers/vm-spec.js';

const MiB = 1 << 20;
const boot = { vcpus: 2, memoryMiB: 512 };
const growth = { maxVcpus: 4, maxMemoryMiB: 2048, memorySlots: 3 };

test("a container's share: its CPU quota over its period, rounded up, and its memory limit in MiB; none without limits", () => {
  assert.deepEqual(shareOf({ cpu: { quota: 250_000, period: 100_000 }, memory: { limit: 300 * MiB + 1 } }), {
    vcpus: 3,
    memoryMiB: 301,
  });
  assert.deepEqual(shareOf({ cpu: { quota: 50_000 } }), { vcpus: 1, memoryMiB: 0 });
  assert.deepEqual(shareOf({ cpu: { quota: -1, period: 100_000 }, memory: { limit: -1 } }), {
    vcpus: 0,
    memoryMiB: 0,
  });
  assert.deepEqual(shareOf(undefined), { vcpus: 0, memoryMiB: 0 });
  assert.deepEqual(shareOf({ cpu: { quota: '1e9' }, memory: { limit: 1.5 } }), { vcpus: 0, memoryMiB: 0 });
  assert.deepEqual(
    podSize(boot, [
      { vcpus: 2, memoryMiB: 512 },
      { vcpus: 0, memoryMiB: 64 },
    ]),
    {
      vcpus: 4,
      memoryMiB: 1088,
    },
  );
});

test('a resize adds CPUs and one memory module rounded up to 128 MiB, within the maximum; a VM without growth stays', () => {
  const none = { vcpus: 2, modules: [] };
  assert.deepEqual(planResize(boot, growth, none, { vcpus: 3, memoryMiB: 600 }), {
    cpus: 1,
    removeModules: [],
    addModuleMiB: 128,
  });
  // Clamped: 4 vCPUs, 2048 MiB at most.
  assert.deepEqual(planResize(boot, growth, none, { vcpus: 64, memoryMiB: 9000 }), {
    cpus: 2,
    removeModules: [],
    addModuleMiB: 1536,
  });
  assert.deepEqual(planResize(boot, undefined, none, { vcpus: 4, memoryMiB: 1024 }), {
    cpus: 0,
    removeModules: [],
    addModuleMiB: 0,
  });
});

test('a shrink removes the modules that fit in the excess, largest first, never CPUs; no module beyond the slots', () => {
  const plugged = {
    vcpus: 4,
    modules: [
      { id: 'dimm0', mib: 512 },
      { id: 'dimm1', mib: 256 },
    ],
  };
  // Back to the boot size: both go.
  assert.deepEqual(planResize(boot, growth, plugged, boot), {
    cpus: 0,
    removeModules: ['dimm0', 'dimm1'],
    addModuleMiB: 0,
  });
  // 256 MiB too much: only the module of 256.
  assert.deepEqual(planResize(boot, growth, plugged, { vcpus: 2, memoryMiB: 1024 }).removeModules, ['dimm1']);
  // 128 MiB too much: nothing fits, nothing goes.
  assert.deepEqual(planResize(boot, growth, plugged, { vcpus: 2, memoryMiB: 1152 }).removeModules, []);
  const full = { vcpus: 2, modules: ['a', 'b', 'c'].map((id) => ({ id, mib: 128 })) };
  assert.equal(planResize(boot, growth, full, { vcpus: 2, memoryMiB: 2000 }).addModuleMiB, 0);
  // Extra CPUs stay plugged; the guest has what is wanted online.
  assert.equal(onlineCpus(boot, { vcpus: 3, memoryMiB: 512 }, { vcpus: 4, memoryMiB: 512 }), 3);
  assert.equal(onlineCpus(boot, { vcpus: 9, memoryMiB: 512 }, { vcpus: 4, memoryMiB: 512 }), 4);
});

test('growth: only on q35; 0 in the configuration means the host; none when there is no room', () => {
  const h = fromRaw(ConfigSchema.parse({})).hypervisor;
  assert.equal(vmGrowth(h, 'microvm', { vcpus: 8, memoryMiB: 8000 }), undefined);
  assert.deepEqual(vmGrowth(h, 'q35', { vcpus: 8, memoryMiB: 8000 }), {
    maxVcpus: 8,
    maxMemoryMiB: 7936,
    memorySlots: 6,
  });
  assert.deepEqual(
    vmGrowth({ ...h, maxVcpus: 5, maxMemoryMiB: 1024 }, 'q35', { vcpus: 2, memoryMiB: 8000 }),
    {
      maxVcpus: 5,
      maxMemoryMiB: 1024,
      memorySlots: 6,
    },
  );
  assert.equal(vmGrowth({ ...h, memorySlots: 0 }, 'q35', { vcpus: 2, memoryMiB: 8000 }), undefined);
});

const spec = testVmSpec({ vcpus: 2, memoryMiB: 512, growth });

test('the command line leaves room to grow on q35 only', () => {
  const argv = buildArgv('qemu', spec, planQemuFds(spec));
  assert.equal(argv[argv.indexOf('-smp') + 1], '2,maxcpus=4');
  assert.equal(argv[argv.indexOf('-m') + 1], '512M,slots=3,maxmem=2048M');
  const micro = { ...spec, machine: 'microvm' as const };
  const m = buildArgv('qemu', micro, planQemuFds(micro));
  assert.equal(m[m.indexOf('-smp') + 1], '2');
  assert.equal(m[m.indexOf('-m') + 1], '512M');
});

/** A scripted QEMU with 4 CPU slots (2 plugged) and hot-pluggable DIMMs; `release` says whether the guest lets a DIMM go. */
function scriptedQemu(release: boolean, cpuType = 'max-x86_64-cpu', moduleBytes = 256 * MiB) {
  const slots = [3, 2, 1, 0].map((core) => ({
    props: { 'socket-id': 0, 'core-id': core, 'thread-id': 0, 'node-id': 0 },
    'vcpus-count': 1,
    type: cpuType,
    ...(core < 2 ? { 'qom-path': `/machine/unattached/device[${core}]` } : {}),
  }));
  const dimms: { id: string; size: number }[] = [];
  const added: unknown[] = [];
  return {
    added,
    script: (
      cmd: { execute: string; id?: number; arguments?: unknown },
      send: (o: unknown) => void,
    ): void => {
      const a = (cmd.arguments ?? {}) as Record<string, unknown>;
      let ret: unknown = {};
      switch (cmd.execute) {
        case 'query-hotpluggable-cpus':
          ret = slots;
          break;
        case 'query-memory-devices':
          ret = dimms.map((d) => ({
            type: 'dimm',
            data: { id: d.id, size: d.size, memdev: `/objects/mem-${d.id}` },
          }));
          break;
        case 'object-add':
          added.push({ execute: cmd.execute, ...a });
          break;
        case 'device_add': {
          added.push({ execute: cmd.execute, ...a });
          if (a['driver'] === 'pc-dimm') dimms.push({ id: String(a['id']), size: moduleBytes });
          const slot = slots.find((s) => s.props['core-id'] === a['core-id']);
          if (slot) Object.assign(slot, { 'qom-path': `/machine/peripheral/${String(a['id'])}` });
          break;
        }
        case 'device_del':
          added.push({ execute: cmd.execute, ...a });
          if (release) {
            dimms.splice(
              dimms.findIndex((d) => d.id === a['id']),
              1,
            );
            send({
              event: 'DEVICE_DELETED',
              data: { device: a['id'], path: `/machine/peripheral/${String(a['id'])}` },
            });
          }
          break;
        case 'object-del':
          added.push({ execute: cmd.execute, ...a });
          break;
      }
      send({ return: ret, id: cmd.id });
    },
  };
}

test('resize over QMP: CPUs in ascending APIC id order, a shared memfd module, unplugged once the guest lets it go', async () => {
  const q = scriptedQemu(true);
  const fake = await fakeQmp((cmd, send) => q.script(cmd, send));
  const qmp = await QmpClient.connect(fake.path);
  try {
    assert.deepEqual(await resizeVm(qmp, spec, { vcpus: 4, memoryMiB: 700 }), { vcpus: 4, memoryMiB: 768 });
    assert.deepEqual(q.added.slice(0, 2), [
      {
        execute: 'device_add',
        driver: 'max-x86_64-cpu',
        id: 'hcpu-1',
        'socket-id': 0,
        'core-id': 2,
        'thread-id': 0,
        'node-id': 0,
      },
      {
        execute: 'device_add',
        driver: 'max-x86_64-cpu',
        id: 'hcpu-0',
        'socket-id': 0,
        'core-id': 3,
        'thread-id': 0,
        'node-id': 0,
      },
    ]);
    assert.deepEqual(q.added.slice(2), [
      {
        execute: 'object-add',
        'qom-type': 'memory-backend-memfd',
        id: 'mem-dimm0',
        size: 256 * MiB,
        share: true,
      },
      { execute: 'device_add', driver: 'pc-dimm', id: 'dimm0', memdev: 'mem-dimm0' },
    ]);
    q.added.length = 0;
    // Back: the module goes (its backend after the guest let it go); the CPUs stay plugged.
    assert.deepEqual(await resizeVm(qmp, spec, { vcpus: 2, memoryMiB: 512 }), { vcpus: 4, memoryMiB: 512 });
    assert.deepEqual(q.added, [
      { execute: 'device_del', id: 'dimm0' },
      { execute: 'object-del', id: 'mem-dimm0' },
    ]);
  } finally {
    qmp.close();
    fake.close();
  }
});

test("a module the guest does not let go stays (its backend too), and a hostile QEMU's reply is refused", async () => {
  const q = scriptedQemu(false);
  const fake = await fakeQmp((cmd, send) => q.script(cmd, send));
  const qmp = await QmpClient.connect(fake.path);
  try {
    await resizeVm(qmp, spec, { vcpus: 2, memoryMiB: 768 });
    q.added.length = 0;
    const t0 = Date.now();
    assert.deepEqual(await resizeVm(qmp, spec, { vcpus: 2, memoryMiB: 512 }, 300), {
      vcpus: 2,
      memoryMiB: 768,
    });
    assert.ok(Date.now() - t0 >= 290, 'waited for the guest');
    assert.deepEqual(q.added, [{ execute: 'device_del', id: 'dimm0' }]);
  } finally {
    qmp.close();
    fake.close();
  }
  for (const type of ['max; rm -rf /', 'X'.repeat(100)]) {
    const bad = scriptedQemu(true, type);
    const f = await fakeQmp((cmd, send) => bad.script(cmd, send));
    const c = await QmpClient.connect(f.path);
    try {
      await assert.rejects(
        resizeVm(c, spec, { vcpus: 4, memoryMiB: 512 }),
        /query-hotpluggable-cpus is malformed/,
      );
      assert.deepEqual(bad.added, []);
    } finally {
      c.close();
      f.close();
    }
  }
});

test('a QEMU that reports a bigger module than it was given never makes the VM look bigger than it may grow (the host cgroup follows that size)', async () => {
  const q = scriptedQemu(true, 'max-x86_64-cpu', 1024 * 1024 * MiB);
  const fake = await fakeQmp((cmd, send) => q.script(cmd, send));
  const qmp = await QmpClient.connect(fake.path);
  try {
    assert.deepEqual(await resizeVm(qmp, spec, { vcpus: 2, memoryMiB: 768 }), { vcpus: 2, memoryMiB: 2048 });
  } finally {
    qmp.close();
    fake.close();
  }
});
