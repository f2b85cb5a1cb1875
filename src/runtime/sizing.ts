// What a container adds to its VM (Kata's model): its CPU limit
// (quota/period, rounded up) and its memory limit (rounded up to whole MiB;
// the VM rounds modules up to memory blocks), on top of the VM's boot size.
// A container without limits adds nothing: it shares the boot size.
import type { VmResources } from '../hypervisor/types.js';

const NOTHING: VmResources = { vcpus: 0, memoryMiB: 0 };

/** A limit the spec gives, if it is a positive whole number (-1 and 0 mean none). */
function positive(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isSafeInteger(v) && v > 0 ? v : undefined;
}

/** What `resources` (an OCI linux.resources object) asks of the VM. */
export function shareOf(resources: unknown): VmResources {
  if (typeof resources !== 'object' || resources === null) return NOTHING;
  const r = resources as { cpu?: { quota?: unknown; period?: unknown }; memory?: { limit?: unknown } };
  const quota = positive(r.cpu?.quota);
  const period = positive(r.cpu?.period) ?? 100_000;
  const limit = positive(r.memory?.limit);
  return {
    vcpus: quota !== undefined ? Math.ceil(quota / period) : 0,
    memoryMiB: limit !== undefined ? Math.ceil(limit / (1 << 20)) : 0,
  };
}

/** The VM a pod wants: the boot size plus every container's share. */
export function podSize(boot: VmResources, shares: Iterable<VmResources>): VmResources {
  let { vcpus, memoryMiB } = boot;
  for (const s of shares) {
    vcpus += s.vcpus;
    memoryMiB += s.memoryMiB;
  }
  return { vcpus, memoryMiB };
}
