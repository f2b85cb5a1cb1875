// What runc's `exec` flags do to the process to run (pure): --user,
// --cap, --additional-gids and --no-new-privs change it; what a VM cannot
// honour is refused with an error naming the flag, never ignored.
import { HakoError } from '../errors.js';
import { numericUser } from '../cli/run-flags.js';

export interface ExecFlags {
  readonly user?: string | undefined;
  readonly caps: readonly string[];
  readonly additionalGids: readonly string[];
  readonly noNewPrivs: boolean;
  readonly processLabel?: string | undefined;
  readonly apparmor?: string | undefined;
  /** Checked and relayed by the exec command (preserved-fds.ts). */
  readonly preserveFds?: string | undefined;
  readonly cpuAffinity?: string | undefined;
}

type Proc = Record<string, unknown>;
type Caps = Partial<Record<'bounding' | 'effective' | 'permitted' | 'inheritable' | 'ambient', string[]>>;

function bad(message: string): HakoError {
  return new HakoError('INVALID_ARGUMENT', message);
}

function id(value: string, flag: string): number {
  if (!/^\d{1,10}$/.test(value) || Number(value) > 0xfffffffe)
    throw bad(`${flag} ${value}: not a numeric id`);
  return Number(value);
}

/** `CAP_NET_ADMIN`, `net_admin` or `NET_ADMIN`: the name the spec uses. */
function capName(value: string): string {
  const upper = value.toUpperCase();
  const name = upper.startsWith('CAP_') ? upper : `CAP_${upper}`;
  if (!/^CAP_[A-Z_]{2,30}$/.test(name)) throw bad(`--cap ${value}: not a capability name`);
  return name;
}

function union(a: readonly string[] | undefined, b: readonly string[]): string[] {
  return [...new Set([...(a ?? []), ...b])];
}

/** `proc` with the flags applied; throws for a flag a VM cannot honour. */
export function applyExecFlags(proc: Proc, f: ExecFlags): Proc {
  if (f.processLabel !== undefined)
    throw bad('--process-label: the guest kernel runs no SELinux, so no label can be applied');
  if (f.apparmor !== undefined)
    throw bad('--apparmor: the guest kernel runs no AppArmor, so no profile can be applied');
  let out: Proc = { ...proc };
  if (f.user !== undefined) {
    const user = numericUser(f.user);
    if (!user) throw bad(`--user ${f.user}: not a numeric id`);
    const prev = (proc['user'] as Record<string, unknown> | undefined) ?? {};
    out = { ...out, user: { ...prev, ...user } };
  }
  if (f.additionalGids.length > 0) {
    const gids = f.additionalGids.map((g) => id(g, '--additional-gids'));
    const user = (out['user'] as Record<string, unknown> | undefined) ?? { uid: 0, gid: 0 };
    const prev = (user['additionalGids'] as number[] | undefined) ?? [];
    out = { ...out, user: { ...user, additionalGids: [...new Set([...prev, ...gids])] } };
  }
  if (f.caps.length > 0) {
    const names = f.caps.map(capName);
    const caps = (proc['capabilities'] as Caps | undefined) ?? {};
    const next: Caps = {
      ...caps,
      bounding: union(caps.bounding, names),
      effective: union(caps.effective, names),
      permitted: union(caps.permitted, names),
    };
    // Ambient capabilities need their inheritable bits: added only where the
    // process already has an inheritable set (runc's rule).
    if (caps.inheritable !== undefined) {
      next.inheritable = union(caps.inheritable, names);
      next.ambient = union(caps.ambient, names);
    }
    out = { ...out, capabilities: next };
  }
  if (f.noNewPrivs) out = { ...out, noNewPrivileges: true };
  if (f.cpuAffinity !== undefined) {
    // The guest checks the CPUs against the VM's; here only the form.
    if (!/^\d{1,4}(-\d{1,4})?(,\d{1,4}(-\d{1,4})?)*$/.test(f.cpuAffinity))
      throw bad(`--cpu-affinity ${f.cpuAffinity}: not a CPU list such as 0-3,7`);
    out = { ...out, execCPUAffinity: { initial: f.cpuAffinity, final: f.cpuAffinity } };
  }
  return out;
}
