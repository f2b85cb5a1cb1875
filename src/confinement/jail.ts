// How one host process of a sandbox is started: the host helper's `exec`
// (tools/host-helper/src/jail.rs) with what confines it, and the
// descriptors it opens for the process before confining it. Pure: the
// command line only.

/** What confines one process. */
export interface JailPlan {
  readonly uid?: number;
  readonly gid?: number;
  readonly groups?: readonly number[];
  /** Capabilities left in the bounding set; undefined leaves them all. */
  readonly keepCaps?: readonly string[];
  readonly noNewPrivs: boolean;
  /**
   * The helper's baseline seccomp filter (tools/host-helper/src/filter.rs):
   * kernel-module, kexec, ptrace, bpf, keyring, io_uring… calls refused.
   */
  readonly seccomp?: boolean;
  /** cgroup directories the process joins before it runs. */
  readonly cgroups: readonly string[];
  /** No core dumps (a VMM's would hold guest RAM). */
  readonly noCore: boolean;
  /**
   * New network, IPC and mount namespaces, with empty private /tmp,
   * /var/tmp and /dev/shm: a VMM whose descriptors are all passed needs
   * none of the host's (no localhost service, no abstract socket, nothing
   * left behind for the next process of its uid).
   */
  readonly isolate?: boolean;
}

export const UNCONFINED: JailPlan = { noNewPrivs: false, cgroups: [], noCore: false };

/** A descriptor the helper makes (as root) and passes at a fixed number. */
export interface PassedFd {
  readonly fd: number;
  /**
   * A listening or connected Unix socket, a file opened r, w (created) or
   * rw, or a queue of a tap (`path`: NETNS:IFNAME, with :mq for a
   * multi-queue tap).
   */
  readonly how: 'listen' | 'connect' | 'r' | 'w' | 'rw' | 'tap';
  readonly path: string;
}

function fdArg(p: PassedFd): string[] {
  if (p.how === 'listen') return ['--listen', `${p.fd}=${p.path}`];
  if (p.how === 'connect') return ['--connect', `${p.fd}=${p.path}`];
  if (p.how === 'tap') return ['--tap', `${p.fd}=${p.path}`];
  return ['--open', `${p.fd}=${p.path}:${p.how}`];
}

/** The helper's command line that starts `argv` confined by `plan`. */
export function jailedArgv(
  helper: string,
  plan: JailPlan,
  o: { readonly dieWithParent: boolean; readonly fds?: readonly PassedFd[] },
  argv: readonly string[],
): string[] {
  const out = [helper, 'exec'];
  if (plan.uid !== undefined) out.push('--uid', String(plan.uid));
  if (plan.gid !== undefined) out.push('--gid', String(plan.gid));
  if (plan.groups && plan.groups.length > 0) out.push('--groups', plan.groups.join(','));
  if (plan.keepCaps) out.push('--keep-caps', plan.keepCaps.length > 0 ? plan.keepCaps.join(',') : 'none');
  if (plan.noNewPrivs) out.push('--no-new-privs');
  if (plan.seccomp) out.push('--seccomp');
  if (plan.noCore) out.push('--no-core');
  if (plan.isolate) out.push('--isolate');
  for (const c of plan.cgroups) out.push('--cgroup', c);
  if (o.dieWithParent) out.push('--pdeathsig');
  for (const p of o.fds ?? []) out.push(...fdArg(p));
  return [...out, '--', ...argv];
}
