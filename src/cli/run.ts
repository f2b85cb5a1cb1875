// `hako run`: boots a sandbox VM, runs one container in it with its stdio
// relayed, exits with its status, and tears everything down, whatever
// happens. The VM and virtiofsd die with this process (PR_SET_PDEATHSIG);
// what a killed run leaves on disk is swept by the next one.
import { HakoError, messageOf } from '../errors.js';
import { requireDefaultRootfs, resolveGuestImage } from '../image/guest-image.js';
import { checkId, newId } from '../runtime/ids.js';
import { Sandbox } from '../runtime/sandbox.js';
import { resolveRunTarget, type RunFlags } from './run-spec.js';
import { vmSize, withVmSize } from './run-flags.js';
import { SignalRelay } from './signals.js';
import { OUTPUT_GRACE_MS, within } from '../within.js';
import { attachTerminal } from './terminal.js';
import { publishRun } from './publish.js';
import { loadGlobalConfig, makeEnv, sweepStale, type GlobalOptions } from './wiring.js';

export interface RunOptions extends RunFlags {
  readonly interactive: boolean;
  readonly rm: boolean;
  readonly name?: string;
}

export async function runCommand(
  g: GlobalOptions,
  o: RunOptions,
  command: readonly string[],
): Promise<number> {
  const id = o.name !== undefined ? checkId(o.name) : newId();
  const loaded = await loadGlobalConfig(g);
  const target = await resolveRunTarget(o, command, async () =>
    requireDefaultRootfs(await resolveGuestImage(loaded.config)),
  );
  const config = withVmSize(loaded.config, vmSize(target.sizing, loaded.config.hypervisor));
  const env = await makeEnv(g, { ...loaded, config });
  await sweepStale(env);
  const signals = new SignalRelay();
  let sandbox: Sandbox | undefined;
  try {
    const first = {
      id,
      spec: target.spec,
      rootfs: target.rootfs,
      readonly: target.readonly,
      layer: target.layer,
      start: true,
      ...(target.bundleDir !== undefined ? { bundleDir: target.bundleDir } : {}),
      ...(target.userNetwork ? { userNetwork: target.userNetwork } : {}),
    };
    // A signal that comes while the VM boots abandons the run: the container
    // is then not created (or, if it already was, ends with its sandbox).
    const abandoned = () => signals.early !== undefined;
    const sandboxOpts = {
      id,
      dieWithParent: true,
      hostname: o.hostname,
      abandoned,
    };
    sandbox = await Sandbox.start(env, sandboxOpts, first);
    if (signals.early !== undefined) return 128 + signals.early;
    const container = sandbox.container(id);
    signals.attach(container);
    env.log.log('debug', 'container started', { id });
    const io = container.io();
    const outputs = Promise.all([
      io.pipeOutput('stdout', process.stdout),
      ...(target.terminal ? [] : [io.pipeOutput('stderr', process.stderr)]),
    ]);
    outputs.catch(() => undefined);
    const interactive = o.interactive || target.relayStdin === true;
    const terminal = target.terminal ? await attachTerminal(io, interactive) : undefined;
    // Seen by ps, exec, kill, stop and state while it runs (by id or --name).
    const published = await publishRun(sandbox, id, target.spec, target.rootfs).catch((e: unknown) => {
      env.log.log('warn', `the container is not visible to other hako commands: ${messageOf(e)}`);
      return undefined;
    });
    try {
      const input = interactive
        ? io.pipeInput(process.stdin, { terminal: target.terminal })
        : io.closeInput();
      input.catch((e: unknown) => env.log.log('debug', `stdin: ${messageOf(e)}`));
      const exit = await container.wait();
      env.log.log('debug', 'container exited', { id, status: exit.status });
      await published?.exited(exit.status);
      await within(outputs, OUTPUT_GRACE_MS);
      process.stdin.pause();
      // The container goes with its sandbox (sandbox.stop below): removing it
      // first would only cost another round of crun in the guest.
      return exit.status;
    } finally {
      published?.close();
      terminal?.restore();
    }
  } finally {
    signals.stop();
    if (sandbox) {
      await sandbox.stop().catch((e: unknown) => {
        throw new HakoError('INTERNAL', `cleanup of sandbox ${id} failed: ${messageOf(e)}`, { cause: e });
      });
    }
  }
}
