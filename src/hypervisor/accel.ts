// Chooses the accelerator. KVM is used only where it can run an ordinary
// guest kernel: /dev/kvm must open read-write, the CPU must expose VMX or
// SVM, and the host's KVM must not be PVM (which only runs PVM-enabled
// guest kernels and hangs ours). Otherwise TCG. The reason is kept so that
// `hako check` and the logs can say why.
import { constants } from 'node:fs';
import { access, readFile } from 'node:fs/promises';
import type { Accelerator } from './types.js';

export interface AccelChoice {
  readonly accel: Accelerator;
  readonly reason: string;
}

/** The facts the decision rests on, gathered from the host. */
export interface KvmProbe {
  readonly devKvmUsable: boolean;
  readonly cpuFlags: ReadonlySet<string>;
  readonly pvm: boolean;
  readonly kvmModule: 'intel' | 'amd' | 'none';
}

/** /proc/cpuinfo, read once per command for every fact taken from it. */
export function readCpuinfo(): Promise<string> {
  return readFile('/proc/cpuinfo', 'utf8').catch(() => '');
}

export async function probeHost(cpuinfo: string): Promise<KvmProbe> {
  const exists = async (p: string, mode = constants.F_OK): Promise<boolean> =>
    access(p, mode).then(
      () => true,
      () => false,
    );
  const flagsLine = cpuinfo.split('\n').find((l) => l.startsWith('flags')) ?? '';
  const cpuFlags = new Set(flagsLine.split(':')[1]?.trim().split(/\s+/) ?? []);
  return {
    devKvmUsable: await exists('/dev/kvm', constants.R_OK | constants.W_OK),
    cpuFlags,
    pvm: await exists('/sys/module/kvm_pvm'),
    kvmModule: (await exists('/sys/module/kvm_intel'))
      ? 'intel'
      : (await exists('/sys/module/kvm_amd'))
        ? 'amd'
        : 'none',
  };
}

export function chooseAccel(probe: KvmProbe, wanted: 'auto' | Accelerator): AccelChoice {
  if (wanted === 'tcg') return { accel: 'tcg', reason: 'configured: accelerator = "tcg"' };
  const problems: string[] = [];
  if (!probe.devKvmUsable) problems.push('/dev/kvm is missing or not read-write');
  if (probe.pvm) problems.push('the host KVM is PVM (kvm_pvm), which cannot run a normal guest kernel');
  if (!probe.cpuFlags.has('vmx') && !probe.cpuFlags.has('svm')) problems.push('the CPU exposes no VMX/SVM');
  if (probe.kvmModule === 'none') problems.push('neither kvm_intel nor kvm_amd is loaded');
  if (problems.length === 0) {
    return { accel: 'kvm', reason: `KVM usable (${probe.kvmModule}, /dev/kvm read-write)` };
  }
  if (wanted === 'kvm') {
    return { accel: 'kvm', reason: `configured: accelerator = "kvm" although ${problems.join('; ')}` };
  }
  return { accel: 'tcg', reason: `TCG software emulation: ${problems.join('; ')}` };
}
