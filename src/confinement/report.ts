// What `hako check` says about confinement: which part is active for each
// host process of a sandbox, and why any part is not.
import { constants } from 'node:fs';
import { access, readFile } from 'node:fs/promises';
import type { HakoConfig } from '../config/schema.js';
import type { Runner } from '../sys/runner.js';
import { cgroupDirs, parseLayout } from './cgroups.js';
import { QEMU_SANDBOX } from '../hypervisor/qemu/argv.js';
import { VIRTIOFSD_CAPS } from './confinement.js';

export interface ConfinementFinding {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
  readonly fix?: string;
}

const exists = (p: string, mode = constants.F_OK) =>
  access(p, mode).then(
    () => true,
    () => false,
  );

/** Whether this QEMU has seccomp support (-sandbox is an option group only then). */
async function qemuHasSeccomp(runner: Runner, qemu: string): Promise<boolean> {
  const r = await runner.run([qemu, '-sandbox', QEMU_SANDBOX, '-version']).catch(() => undefined);
  return r?.code === 0;
}

async function cgroupFinding(config: HakoConfig): Promise<ConfinementFinding> {
  const parent = config.security.cgroupParent;
  if (parent === '') {
    return {
      name: 'cgroups',
      ok: true,
      detail: 'off ([security] cgroup_parent = ""): sandboxes have no limits of their own',
    };
  }
  const layout = parseLayout(await readFile('/proc/self/mountinfo', 'utf8'));
  if (!layout) {
    return {
      name: 'cgroups',
      ok: false,
      detail: 'no cgroup hierarchy with the memory, cpu and pids controllers is mounted',
      fix: 'mount cgroup2 at /sys/fs/cgroup, or set [security] cgroup_parent = ""',
    };
  }
  // The parent's directories, or the hierarchies' roots where the parent is not made yet.
  const dirs = cgroupDirs(layout, parent);
  const roots = cgroupDirs(layout, '/');
  const writable = await Promise.all(
    dirs.map(async (d, i) =>
      (await exists(d)) ? exists(d, constants.W_OK) : exists(roots[i] ?? d, constants.W_OK),
    ),
  );
  const where = layout.version === 2 ? `cgroup v2 at ${layout.root}` : 'cgroup v1 (memory, cpu, pids)';
  if (writable.every((w) => w)) {
    return {
      name: 'cgroups',
      ok: true,
      detail: `${where}: one per sandbox under ${parent}, limits sized from its VM`,
    };
  }
  return {
    name: 'cgroups',
    ok: false,
    detail: `${where}, but ${parent} cannot be made or written there`,
    fix: 'run as root with a writable cgroup hierarchy, or set [security] cgroup_parent = ""',
  };
}

export async function confinementFindings(config: HakoConfig, runner: Runner): Promise<ConfinementFinding[]> {
  const s = config.security;
  if (!s.confine) {
    return [
      {
        name: 'confinement',
        ok: true,
        detail: 'OFF ([security] confine = false): QEMU and virtiofsd run as unconfined root',
      },
    ];
  }
  const out: ConfinementFinding[] = [];
  const seccomp = await qemuHasSeccomp(runner, config.hypervisor.path);
  const uid =
    config.hypervisor.sharedFs === 'virtio-fs'
      ? `a uid of its own from ${s.vmmUidBase}..${s.vmmUidBase + s.vmmUidCount - 1}, no capabilities`
      : 'root with file capabilities only (it serves virtio-9p itself)';
  out.push({
    name: 'QEMU confinement',
    ok: seccomp,
    detail: seccomp
      ? `seccomp (-sandbox ${QEMU_SANDBOX}) and Hako's baseline filter, no_new_privs, ${uid}, sockets and files passed as descriptors, no core dumps`
      : `${config.hypervisor.path} has no seccomp support (-sandbox)`,
    ...(seccomp ? {} : { fix: "use Debian's qemu-system-x86 (built with libseccomp)" }),
  });
  if (config.hypervisor.sharedFs === 'virtio-fs') {
    out.push({
      name: 'virtiofsd confinement',
      ok: true,
      detail: `its own seccomp filter and namespaces, Hako's baseline filter, no_new_privs, capabilities ${VIRTIOFSD_CAPS.join(',')} (sys_admin and setpcap dropped once set up; no mknod, no setfcap), shares nosuid and nodev`,
    });
  }
  out.push(await cgroupFinding(config));
  return out;
}
