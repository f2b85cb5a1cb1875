// The guest kernel command line: fast-boot options measured on this kind of
// machine (environment.md), the agent's options, and the user's extras.
import type { MachineType } from '../hypervisor/types.js';

/** Whether the guest randomises addresses, from the guest_aslr setting. */
export function guestAslr(setting: 'auto' | 'on' | 'off', accel: 'kvm' | 'tcg'): boolean {
  return setting === 'on' || (setting === 'auto' && accel === 'kvm');
}

/**
 * Whether the agent warms crun up at boot: only under TCG, where the first
 * run of any code pays for translating it, and with a spare vCPU to do it on.
 */
export function guestWarmUp(accel: 'kvm' | 'tcg', vcpus: number): boolean {
  return accel === 'tcg' && vcpus > 1;
}

/** The host TSC frequency in kHz (from /proc/cpuinfo), for tsc_early_khz (avoids a calibration hang under TCG). */
export function hostTscKhz(cpuinfo: string): number | undefined {
  const m = /^cpu MHz\s*:\s*([0-9.]+)/m.exec(cpuinfo);
  if (!m?.[1]) return undefined;
  const khz = Math.round(parseFloat(m[1]) * 1000);
  return Number.isFinite(khz) && khz > 0 ? khz : undefined;
}

export interface CmdlineOptions {
  readonly machine: MachineType;
  readonly debug: boolean;
  readonly agentDebug: boolean;
  /** Address-space randomisation in the guest (off: `norandmaps`). */
  readonly aslr: boolean;
  readonly tscKhz: number | undefined;
  /** The agent runs crun once at boot to warm it up (agent/src/crun.rs). */
  readonly warmUp: boolean;
  readonly transportArgs: readonly string[];
  readonly extra: string;
}

/**
 * The guest kernel keeps its CPU-vulnerability mitigations (the kernel's
 * default): they guard the guest kernel against its own containers, and
 * cost nothing measurable here (npm run bench:start, "mitigations off /
 * on"). `kernel_params = "mitigations=off"` turns them off.
 */
export function kernelCmdline(o: CmdlineOptions): string[] {
  const args = [
    'console=ttyS0',
    o.debug ? 'loglevel=7' : 'quiet',
    'panic=-1',
    'cryptomgr.notests',
    'random.trust_cpu=on',
    'no_timer_check',
    '8250.nr_uarts=1',
    'rcupdate.rcu_expedited=1',
  ];
  if (o.tscKhz !== undefined) args.push(`tsc_early_khz=${o.tscKhz}`);
  if (o.machine === 'microvm') args.push('pci=off');
  // Hot-plugged memory stays offline until the agent puts it in the movable
  // zone, from which the guest can give it back (agent/src/hotplug.rs).
  else args.push('memhp_default_state=offline');
  if (!o.aslr) args.push('norandmaps');
  args.push(...o.transportArgs);
  if (o.agentDebug) args.push('hako.debug=1');
  if (o.warmUp) args.push('hako.warmup=1');
  args.push(...o.extra.split(/\s+/).filter((w) => w.length > 0));
  return args;
}
