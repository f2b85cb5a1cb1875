// The relay: one host process per runc-style container, started by
// `create`, whose pid goes into --pid-file. conmon and containerd's runc shim
// wait on that pid as if it were the container's process, so the relay
// lives exactly as long as the container's process and exits with its
// status. It owns the VM (QEMU and virtiofsd die with it: PR_SET_PDEATHSIG),
// relays the process's stdio to the descriptors the caller gave `create`,
// forwards the signals it receives, and serves the agent proxy (proxy.ts)
// that the other commands use. When the process exits it records the exit,
// stops the VM (the state stays until `delete`) and exits.
import { readBundle } from '../oci/spec.js';
import { join } from 'node:path';
import type { GlobalOptions } from '../cli/wiring.js';
import { createLogger } from '../log.js';
import type { Container } from '../runtime/container.js';
import { Sandbox } from '../runtime/sandbox.js';
import { refOf } from '../sys/procs.js';
import { buildEnv } from '../wiring.js';
import { attachStdio } from './attach.js';
import { callerOutputs, logOutputs } from './spawn-helper.js';
import { OUTPUT_GRACE_MS, within } from '../within.js';
import { signalNumber } from '../cli/exit-codes.js';
import { withVmSize } from '../cli/run-flags.js';
import { ociContext } from './context.js';
import { hasHooks, runHooks } from './hooks.js';
import { ownsNewNetns } from './relay-netns.js';
import { withNetnsPath } from '../network/spec-netns.js';
import { controlSocket, serveProxy } from './proxy.js';
import { files, markCreated, requireContainer, writeExit, writeRelay } from './record.js';
import { failure, reporter } from './status-pipe.js';
import { HELPER_FD_BASE, relayFds } from './preserved-fds.js';
import type { ExtraFd } from '../runtime/process-io.js';

const FORWARDED_SIGNALS: readonly NodeJS.Signals[] = [
  'SIGTERM',
  'SIGINT',
  'SIGHUP',
  'SIGQUIT',
  'SIGUSR1',
  'SIGUSR2',
];
/** Exit status recorded when the VM itself died under the container. */
const LOST_STATUS = 137;

export async function relayMain(
  g: GlobalOptions,
  id: string,
  consoleSocket: string | undefined,
  extraFds: readonly ExtraFd[] = [],
): Promise<never> {
  const report = reporter();
  const ctx = await ociContext(g);
  const dir = join(ctx.root, id);
  // Never stderr: that is the container's.
  const log = createLogger({
    level: g.debug ? 'debug' : 'warn',
    format: 'json',
    file: g.log ?? join(dir, 'relay.log'),
  });
  let sandbox: Sandbox | undefined;
  try {
    const self = await refOf(ctx.procs, process.pid);
    if (self) await writeRelay(dir, self);
    const c = await requireContainer(dir);
    const { spec, rootfs, dir: bundleDir } = await readBundle(c.record.bundle);
    const vm = c.record.detached?.vm;
    const env = await buildEnv(vm ? withVmSize(ctx.config, vm) : ctx.config, log);
    const detached = c.record.detached;
    const first = {
      id,
      // A new namespace the spec asks for is the relay's own (relay-netns.ts), which hooks may configure:
      // named by path, it is the pod's, which the sandbox carries and the container shares in the guest.
      spec:
        ownsNewNetns(spec) && !detached?.network ? withNetnsPath(spec, `/proc/${process.pid}/ns/net`) : spec,
      rootfs,
      bundleDir,
      readonly: spec.root.readonly ?? false,
      layer: detached?.layer ?? false,
      extraFds,
      ...(detached?.network ? { userNetwork: detached.network } : {}),
    };
    sandbox = await Sandbox.start(env, { id, adopt: true, dieWithParent: true }, first);
    const container = sandbox.container(id);
    const state = {
      ociVersion: spec.ociVersion,
      id,
      status: 'creating',
      pid: process.pid,
      bundle: c.record.bundle,
      annotations: c.record.annotations,
    };
    // createContainer and startContainer run in the guest (crun).
    for (const hook of ['prestart', 'createRuntime'] as const)
      await runHooks(spec, hook, state, ctx.config.runtime.hookTimeoutMs);
    // What the hooks configured (docker's libnetwork-setkey, nerdctl's) reaches the VM before the container runs.
    if (hasHooks(spec, 'prestart') || hasHooks(spec, 'createRuntime')) await sandbox.syncNetwork();
    // And what changes later (`docker network connect`), while the container runs.
    await sandbox.followNetwork();
    const outputs = detached ? () => logOutputs(files.output(dir)) : callerOutputs;
    const io = container.io();
    const attached = await attachStdio(io, consoleSocket, log, outputs);
    const extras = relayFds(io, extraFds, HELPER_FD_BASE, (m) => log.log('debug', m));
    const proxy = await serveProxy(sandbox.agent, controlSocket(sandbox.runDir));
    forwardSignals(container);
    await markCreated(dir);
    report({ ok: true, pid: process.pid });
    const exit = await container.wait().catch(() => ({ status: LOST_STATUS, signal: 0 }));
    await within(Promise.all([attached.output, extras]), OUTPUT_GRACE_MS);
    await writeExit(dir, { status: exit.status, at: new Date().toISOString() });
    proxy.close();
    attached.close();
    await sandbox.stop({ keepDir: !detached?.autoRemove }).catch(() => undefined);
    process.exit(exit.status);
  } catch (e) {
    report(failure(e));
    await sandbox?.stop({ keepDir: true }).catch(() => undefined);
    process.exit(1);
  }
}

function forwardSignals(container: Container): void {
  for (const s of FORWARDED_SIGNALS) {
    process.on(s, () => {
      void container.signal(signalNumber(s)).catch(() => undefined);
    });
  }
  process.on('SIGPIPE', () => undefined);
}
