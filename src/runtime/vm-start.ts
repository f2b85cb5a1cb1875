// How a sandbox's VM starts: from a VM template (templates.ts) when the
// configuration allows it and the shared fs can be hot-plugged (with the
// pod's NICs, hot-plugged too), else by booting the guest kernel. Either
// way the shared-fs daemon is started (by `startFs`) before QEMU, which
// connects to it.
import { rm } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { isHakoError, messageOf } from '../errors.js';
import type { SandboxJail } from '../confinement/confinement.js';
import type { Device, Vm } from '../hypervisor/types.js';
import type { SandboxEnv } from './env.js';
import {
  cloneFiles,
  discardTemplate,
  ensureTemplate,
  type CloneFiles,
  type TemplateSpec,
} from './templates.js';
import { vmSpec } from './vm-spec.js';

export interface VmStart {
  readonly id: string;
  readonly dir: string;
  /** The agent's port, and the kernel arguments that name it. */
  readonly transport: { devices(): Device[]; kernelArgs(): string[] };
  readonly fsDevices: readonly Device[];
  /** The pod's NICs: on a booted VM's command line, hot-plugged into one from a template. */
  readonly netDevices: readonly Device[];
  readonly dieWithParent: boolean;
  readonly jail: SandboxJail;
  readonly startFs: () => Promise<void>;
  /** Starts the shared-fs and network daemons anew (their one connection went to a VM that failed). */
  readonly restartDaemons: () => Promise<void>;
}

const RNG: Device = { kind: 'rng', id: 'rng0' };
/** Most NICs a VM from a template takes (one hot-plug port each); a pod with more boots. */
export const TEMPLATE_NICS = 4;
/** A port for the shared fs, and one per NIC. */
const HOTPLUG_PORTS: Device[] = Array.from({ length: 1 + TEMPLATE_NICS }, (_, i) => ({
  kind: 'hotplug-port',
  id: `hotplug${i}`,
  chassis: i + 1,
}));
const GENERATION_ID: Device = { kind: 'vm-generation-id', id: 'vmgenid0' };

/** Whether this VM can start from a template: its shared fs must be one hot-pluggable device. */
export function usesTemplate(env: SandboxEnv, fsDevices: readonly Device[]): boolean {
  return (
    env.config.factory.enableTemplate && fsDevices.length === 1 && fsDevices[0]?.kind === 'vhost-user-fs'
  );
}

export async function startVm(env: SandboxEnv, o: VmStart): Promise<Vm> {
  if (!usesTemplate(env, o.fsDevices) || o.netDevices.length > TEMPLATE_NICS)
    return boot(env, o, o.startFs());
  // The template and its clones have the same devices, the shared fs and the NICs apart.
  const devices = [...o.transport.devices(), RNG, ...HOTPLUG_PORTS, GENERATION_ID];
  const common = {
    transportArgs: o.transport.kernelArgs(),
    machine: 'q35' as const,
    extraKernelArgs: ['hako.template=1'],
    jail: o.jail.vmm,
    seccomp: o.jail.seccomp,
  };
  // The template's own sockets live in its own directory.
  const inDir = (dir: string) =>
    devices.map((d) =>
      d.kind === 'serial-port' ? { ...d, socketPath: join(dir, basename(d.socketPath)) } : d,
    );
  const specFor: TemplateSpec = (dir, memoryFile) =>
    vmSpec(env, { ...common, devices: inDir(dir), id: 'template', dir, dieWithParent: true, memoryFile });
  const port = o.transport.devices().find((d) => d.kind === 'serial-port');
  let fsReady: Promise<void> | undefined;
  let clone: CloneFiles;
  try {
    const template = await ensureTemplate(env, specFor, port?.id ?? '');
    fsReady = o.startFs();
    fsReady.catch(() => undefined);
    clone = await cloneFiles(env, template, o.id, o.jail.helper);
  } catch (e) {
    // Templates are an optimisation: a start that cannot have one boots.
    env.log.log('warn', `cannot start from a VM template (${messageOf(e)}); booting the VM instead`);
    return boot(env, o, fsReady ?? o.startFs());
  }
  try {
    await fsReady;
    const spec = vmSpec(env, {
      ...common,
      devices,
      id: o.id,
      dir: o.dir,
      dieWithParent: o.dieWithParent,
      memoryFile: { path: join(clone.dir, 'memory') },
    });
    const hotplug = [...o.fsDevices, ...o.netDevices];
    return await env.hypervisor.restore(spec, clone, hotplug, env.config.agent.dialTimeoutMs);
  } catch (e) {
    if (!isHakoError(e, 'TEMPLATE_INVALID')) throw e;
    // Its state cannot be loaded: the template is removed, for the next
    // start to make a new one, and this one boots, with a shared-fs daemon
    // of its own (the failed VM had its one connection). A start that
    // fails later keeps the template.
    await discardTemplate(env, clone);
    env.log.log(
      'warn',
      `the VM template in ${clone.from.dir} cannot be loaded (removed; the next start makes a new one): ${messageOf(e)}; booting the VM instead`,
    );
    return boot(env, o, o.restartDaemons());
  } finally {
    // QEMU holds the RAM copy open (and passes it to the shared-fs daemon): the names can go.
    await rm(clone.dir, { recursive: true, force: true });
  }
}

/** Boots the VM with every device, its shared fs included, once `fsReady`. */
async function boot(env: SandboxEnv, o: VmStart, fsReady: Promise<void>): Promise<Vm> {
  await fsReady;
  const devices = [...o.transport.devices(), ...o.fsDevices, ...o.netDevices, RNG];
  const spec = vmSpec(env, {
    transportArgs: o.transport.kernelArgs(),
    id: o.id,
    dir: o.dir,
    devices,
    dieWithParent: o.dieWithParent,
    jail: o.jail.vmm,
    seccomp: o.jail.seccomp,
  });
  return env.hypervisor.start(spec);
}
