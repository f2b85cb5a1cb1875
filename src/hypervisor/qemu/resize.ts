// CPU and memory hot-plug on q35, over QMP: what the VM has is asked of
// QEMU each time (nothing is remembered between calls, so any process can
// resize a VM), the plan is resize-plan.ts's, and the guest's consent to a
// memory unplug is its DEVICE_DELETED. QEMU's replies are checked before
// use: a guest that took QEMU over must not steer us.
//
// CPUs are added in ascending APIC id order: a guest given core 4 before
// core 3 hung bringing them up (seen here on QEMU 7.2 under TCG). They are
// never unplugged: after a CPU unplug under TCG, QEMU 7.2 crashed on the
// next memory hot-plug ("corrupted double-linked list", seen here). A
// smaller VM has its extra CPUs offline in the guest instead (the agent's
// OnlineCpuMem), where they cost a sleeping thread.
import { HakoError } from '../../errors.js';
import { within } from '../../within.js';
import { bounded, planResize, sizeOf, sizeOfBoot, type MemoryModule, type Plugged } from '../resize-plan.js';
import type { VmResources, VmSpec } from '../types.js';
import type { QmpClient } from './qmp.js';

/** How long the guest may take to let go of what is unplugged (all of it). */
const UNPLUG_MS = 10_000;
/** More CPU slots or memory devices than this is not a reply we believe. */
const MAX_ENTRIES = 1024;
/** The ids we give: only these are ever unplugged. */
const DIMM_ID = /^dimm(\d{1,3})$/;
const CPU_PROPS = new Set(['node-id', 'socket-id', 'die-id', 'cluster-id', 'core-id', 'thread-id']);

interface CpuSlot {
  readonly type: string;
  readonly props: Readonly<Record<string, number>>;
  /** Set when a CPU is in the slot. */
  readonly qomPath: string | undefined;
}

function bad(what: string): HakoError {
  return new HakoError('INTERNAL', `QEMU's reply to ${what} is malformed`);
}

function list(reply: unknown, what: string): Record<string, unknown>[] {
  if (!Array.isArray(reply) || reply.length > MAX_ENTRIES) throw bad(what);
  return reply.map((e) => {
    if (typeof e !== 'object' || e === null) throw bad(what);
    return e as Record<string, unknown>;
  });
}

async function cpuSlots(qmp: QmpClient): Promise<CpuSlot[]> {
  const what = 'query-hotpluggable-cpus';
  return list(await qmp.execute(what), what).map((e) => {
    const props = e['props'];
    if (typeof e['type'] !== 'string' || !/^[a-z0-9_-]{1,64}$/.test(e['type'])) throw bad(what);
    if (typeof props !== 'object' || props === null) throw bad(what);
    const clean: Record<string, number> = {};
    for (const [k, v] of Object.entries(props)) {
      if (!CPU_PROPS.has(k) || typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw bad(what);
      clean[k] = v;
    }
    const q = e['qom-path'];
    if (q !== undefined && typeof q !== 'string') throw bad(what);
    return { type: e['type'], props: clean, qomPath: q };
  });
}

async function modules(qmp: QmpClient): Promise<MemoryModule[]> {
  const what = 'query-memory-devices';
  return list(await qmp.execute(what), what).flatMap((e) => {
    const data = e['data'] as { id?: unknown; size?: unknown } | undefined;
    if (e['type'] !== 'dimm' || typeof data?.id !== 'string' || !DIMM_ID.test(data.id)) return [];
    if (typeof data.size !== 'number' || !Number.isSafeInteger(data.size) || data.size <= 0) throw bad(what);
    return [{ id: data.id, mib: Math.floor(data.size / (1 << 20)) }];
  });
}

/** Slots in APIC id order: socket, die, cluster, core, thread. */
function byApicId(a: CpuSlot, b: CpuSlot): number {
  for (const k of ['socket-id', 'die-id', 'cluster-id', 'core-id', 'thread-id']) {
    const d = (a.props[k] ?? 0) - (b.props[k] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

async function plugged(qmp: QmpClient): Promise<{ slots: CpuSlot[]; now: Plugged }> {
  const slots = await cpuSlots(qmp);
  return {
    slots,
    now: { vcpus: slots.filter((s) => s.qomPath !== undefined).length, modules: await modules(qmp) },
  };
}

/** Sends device_del for each id and waits (together, within `waitMs`) for the guest to let them go. */
async function unplug(qmp: QmpClient, ids: readonly string[], waitMs: number): Promise<string[]> {
  const gone = new Set<string>();
  let all: () => void = () => undefined;
  const done = new Promise<void>((r) => (all = r));
  qmp.onEvent((e) => {
    const device = (e.data as { device?: unknown } | undefined)?.device;
    if (e.event !== 'DEVICE_DELETED' || typeof device !== 'string' || !ids.includes(device)) return;
    gone.add(device);
    if (gone.size === ids.length) all();
  });
  const asked = [];
  for (const id of ids) {
    // One the guest refused before may still be pending: that is no reason to stop.
    asked.push(
      await qmp.execute('device_del', { id }).then(
        () => id,
        () => undefined,
      ),
    );
  }
  if (asked.every((a) => a === undefined)) return [];
  await within(done, waitMs);
  return [...gone];
}

/** Moves the VM toward `want` (types.ts Vm.resize); returns what it has afterwards. */
export async function resizeVm(
  qmp: QmpClient,
  spec: VmSpec,
  want: VmResources,
  unplugMs = UNPLUG_MS,
): Promise<VmResources> {
  const boot = sizeOfBoot(spec);
  const { slots, now } = await plugged(qmp);
  const plan = planResize(boot, spec.growth, now, want);
  // A CPU's id is its slot's place in QEMU's list, which does not change while the VM runs.
  const free = [...slots.entries()]
    .filter(([, s]) => s.qomPath === undefined)
    .sort(([, a], [, b]) => byApicId(a, b));
  for (const [n, slot] of free.slice(0, plan.cpus)) {
    await qmp.execute('device_add', { driver: slot.type, id: `hcpu-${n}`, ...slot.props });
  }
  for (const id of await unplug(qmp, plan.removeModules, unplugMs))
    await qmp.execute('object-del', { id: `mem-${id}` });
  if (plan.addModuleMiB > 0) {
    const used = new Set(now.modules.map((m) => m.id));
    let i = 0;
    while (used.has(`dimm${i}`)) i++;
    // Shared, like the rest of guest RAM: the vhost-user daemon maps it too.
    await qmp.execute('object-add', {
      'qom-type': 'memory-backend-memfd',
      id: `mem-dimm${i}`,
      size: plan.addModuleMiB * (1 << 20),
      share: true,
    });
    await qmp.execute('device_add', { driver: 'pc-dimm', id: `dimm${i}`, memdev: `mem-dimm${i}` });
  }
  return bounded(sizeOf(boot, (await plugged(qmp)).now), spec.growth, boot);
}
