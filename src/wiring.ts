// The composition root: the only place where the real OS ports, the QEMU
// driver and a configuration are put together into a SandboxEnv. Used by
// the CLI and by the shim.
import { access } from 'node:fs/promises';
import { constants } from 'node:fs';
import { availableParallelism, totalmem } from 'node:os';
import { VHOST_NET } from './hypervisor/qemu/fds.js';
import type { HakoConfig } from './config/schema.js';
import { chooseAccel, probeHost, readCpuinfo } from './hypervisor/accel.js';
import { QemuHypervisor } from './hypervisor/qemu/driver.js';
import { resolveGuestImage } from './image/guest-image.js';
import type { Logger } from './log.js';
import { cleanupSandbox, isStale } from './runtime/cleanup.js';
import { keepsRecord } from './oci-cli/record.js';
import type { SandboxEnv } from './runtime/env.js';
import { hostTscKhz } from './runtime/kernel-cmdline.js';
import { FsStateStore } from './runtime/state-store.js';
import { HelperFs } from './sys/confined-fs.js';
import { HostConfinement, NoConfinement, type Confinement } from './confinement/confinement.js';
import { helperBinary } from './home.js';
import { RealProcessTable } from './sys/procs.js';
import { RealRunner } from './sys/runner.js';

export async function buildEnv(config: HakoConfig, log: Logger): Promise<SandboxEnv> {
  const runner = new RealRunner();
  const procs = new RealProcessTable();
  const cpuinfo = await readCpuinfo();
  const accel = chooseAccel(await probeHost(cpuinfo), config.hypervisor.accelerator);
  log.log('info', `accelerator: ${accel.accel} (${accel.reason})`);
  return {
    config,
    image: await resolveGuestImage(config),
    accel,
    hypervisor: new QemuHypervisor({
      runner,
      procs,
      qemuPath: config.hypervisor.path,
      helper: helperBinary(),
    }),
    runner,
    procs,
    fs: new HelperFs(runner, helperBinary()),
    store: new FsStateStore(config.runtime.stateDir),
    log,
    tscKhz: hostTscKhz(cpuinfo),
    hostCapacity: { vcpus: availableParallelism(), memoryMiB: Math.floor(totalmem() / (1 << 20)) },
    vhostNet: await access(VHOST_NET, constants.R_OK | constants.W_OK).then(
      () => true,
      () => false,
    ),
    confinement: confinementFor(config),
    helper: helperBinary(),
  };
}

/** What confines sandboxes with this configuration ([security]). */
export function confinementFor(config: HakoConfig): Confinement {
  if (!config.security.confine) return new NoConfinement();
  return new HostConfinement({ security: config.security, sharedFs: config.hypervisor.sharedFs });
}

/**
 * Removes sandboxes left over by a process that died without cleaning up,
 * whoever it was (hako run, a shim daemon, an OCI relay): see isStale. A
 * runc-style container keeps its record for `delete` (keepDir).
 */
export async function sweepStale(env: SandboxEnv): Promise<void> {
  for (const id of await env.store.list()) {
    if (!(await isStale(env, id))) continue;
    env.log.log('info', `removing stale sandbox ${id}`);
    const keepDir = await keepsRecord(env.store.dir(id));
    await cleanupSandbox(env, id, { keepDir }).catch((e: unknown) =>
      env.log.log('warn', `stale sandbox ${id}: ${String(e)}`),
    );
  }
}
