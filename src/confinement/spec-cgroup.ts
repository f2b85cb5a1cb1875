// The host cgroup a bundle's spec names (`linux.cgroupsPath`), where runc
// would put the container and apply its resources. Hako puts the sandbox's
// QEMU and virtiofsd there instead (Kata's sandbox_cgroup_only), in a child
// cgroup of their own, so host tools (kubelet, cAdvisor, podman) read the
// pod's real use from the cgroup they asked for, and its limits bound it.
//
// Both forms runc takes:
//   /kubepods/burstable/pod<uid>/<id>   cgroupfs: a path from the root;
//   kubepods-pod1.slice:cri:<id>        systemd: slice, prefix and name.
// A systemd path becomes the directory systemd would give the unit
// (kubepods.slice/kubepods-pod1.slice/cri-<id>.scope); Hako makes it
// itself, without asking systemd for a transient unit.
import { HakoError } from '../errors.js';
import { overheadMiB, type VmSize } from './limits.js';
import type { CgroupLimits } from './cgroups.js';

const COMPONENT = /^[A-Za-z0-9._-]{1,255}$/;

function bad(value: string, why: string): HakoError {
  return new HakoError('INVALID_ARGUMENT', `linux.cgroupsPath ${JSON.stringify(value)}: ${why}`);
}

function checked(value: string, parts: readonly string[]): string {
  if (parts.length === 0) throw bad(value, 'names the root cgroup, which no sandbox may take');
  for (const p of parts) {
    if (p === '.' || p === '..' || !COMPONENT.test(p))
      throw bad(value, `${JSON.stringify(p)} is not a plain cgroup name (letters, digits, ".", "_", "-")`);
  }
  return `/${parts.join('/')}`;
}

/** `a-b-c.slice` as systemd lays it out: a.slice/a-b.slice/a-b-c.slice. */
function slicePath(value: string, slice: string): string[] {
  if (slice === '' || slice === '-.slice') return ['system.slice'];
  if (!slice.endsWith('.slice')) throw bad(value, `${JSON.stringify(slice)} is not a systemd slice`);
  const words = slice.slice(0, -'.slice'.length).split('-');
  if (words.some((w) => w === '')) throw bad(value, `${JSON.stringify(slice)} is not a valid slice name`);
  return words.map((_, i) => `${words.slice(0, i + 1).join('-')}.slice`);
}

/**
 * The cgroup path (from the hierarchy's root) that `cgroupsPath` names, or
 * undefined when the spec names none. A relative cgroupfs path is taken
 * under `parent` (Hako's configured cgroup parent).
 */
export function specCgroupPath(cgroupsPath: unknown, parent: string): string | undefined {
  if (cgroupsPath === undefined || cgroupsPath === null || cgroupsPath === '') return undefined;
  if (typeof cgroupsPath !== 'string')
    throw bad(JSON.stringify(cgroupsPath) ?? typeof cgroupsPath, 'must be a string');
  const value = cgroupsPath;
  if (value.length > 4096) throw bad(value.slice(0, 64), 'is longer than 4096 bytes');
  const fields = value.split(':');
  if (fields.length === 3 && !value.startsWith('/')) {
    const [slice = '', prefix = '', name = ''] = fields;
    if (name === '') throw bad(value, 'a systemd path needs a unit name after the second ":"');
    const unit = name.endsWith('.slice') ? name : `${prefix === '' ? '' : `${prefix}-`}${name}.scope`;
    return checked(value, [...slicePath(value, slice), unit]);
  }
  if (value.includes(':')) throw bad(value, 'is neither a cgroup path nor slice:prefix:name');
  const parts = value.split('/').filter((p) => p !== '');
  return value.startsWith('/')
    ? checked(value, parts)
    : checked(value, [...parent.split('/').filter((p) => p !== ''), ...parts]);
}

/** A number the spec gives, if it is a positive whole one. */
function positive(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isSafeInteger(v) && v > 0 ? v : undefined;
}

/**
 * The limits of the spec's cgroup: the container's own (linux.resources)
 * plus what the VM costs beyond its guest, for whatever the spec bounds.
 * A limit the spec does not set stays unset (the sandbox's own cgroup, a
 * child, has the limits sized from the VM).
 */
export function specLimits(resources: unknown, vm: VmSize): Partial<CgroupLimits> {
  const r = (resources ?? {}) as {
    memory?: { limit?: unknown };
    cpu?: { quota?: unknown; period?: unknown };
  };
  const out: { -readonly [K in keyof CgroupLimits]?: CgroupLimits[K] } = {};
  const memory = positive(r.memory?.limit);
  if (memory !== undefined) out.memoryBytes = memory + overheadMiB(vm.accel) * (1 << 20);
  const quota = positive(r.cpu?.quota);
  if (quota !== undefined) {
    const period = positive(r.cpu?.period) ?? 100_000;
    // Per 100 ms, plus one CPU for QEMU's I/O thread and the shared-fs daemon.
    out.cpuQuotaUs = Math.ceil((quota * 100_000) / period) + 100_000;
  }
  return out;
}
