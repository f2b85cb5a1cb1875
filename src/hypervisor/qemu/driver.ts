// The QEMU driver: starts qemu-system-x86_64 from a VmSpec, through the host
// helper (which opens QEMU's sockets and files, confines it and executes
// it), and stops it through QMP (`quit`), falling back to SIGKILL.
import { open } from 'node:fs/promises';
import { constants } from 'node:fs';
import { join } from 'node:path';
import { jailedArgv } from '../../confinement/jail.js';
import { HakoError, isHakoError, messageOf } from '../../errors.js';
import { logSection, logTail } from '../../sys/log-tail.js';
import type { ProcessTable, ProcessRef } from '../../sys/procs.js';
import { describeExit, type Runner } from '../../sys/runner.js';
import { within } from '../../within.js';
import type { Device, Hypervisor, TapNic, Vm, VmExit, VmResources, VmSpec, VmTemplate } from '../types.js';
import { resizeVm } from './resize.js';
import { sizeOfBoot } from '../resize-plan.js';
import { buildArgv, serialPortId } from './argv.js';
import { planQemuFds, qmpSocket, type QemuFds } from './fds.js';
import { QmpClient } from './qmp.js';
import { receiveState, type StateReceiver } from './state-socket.js';
import { pausePoint } from '../../test-pause.js';
import { connectWhenUp, hotplugCommands, migrationDone, portOpened, statePath } from './template.js';

/** What QEMU may print to its log, and a guest to its console log (debug only). */
const QEMU_LOG_BYTES = 1 << 20;
const CONSOLE_LOG_BYTES = 4 << 20;
/** How long QMP `quit` may take to be sent before SIGKILL. */
const QUIT_MS = 1000;
/** How long asking a live QEMU about itself may take, for an error message. */
const PROBE_MS = 1000;
/** How long connecting to QMP may take to hot-plug a NIC. */
const PLUG_MS = 5000;
/** How long the guest may take to release a NIC being unplugged. */
const UNPLUG_MS = 15_000;

/** A running QEMU (exported for tests). */
export class QemuVm implements Vm {
  #stopping: Promise<void> | undefined;

  /** The hot-plug ports no device holds yet. */
  readonly #freePorts: string[];
  /** The port each hot-plugged device holds, by device id. */
  readonly #portOf = new Map<string, string>();

  constructor(
    readonly process: ProcessRef,
    readonly exited: Promise<VmExit>,
    readonly spec: VmSpec,
    private readonly signal: (s: NodeJS.Signals) => void,
    private readonly deps: { readonly runner: Runner; readonly helper: string },
    /** The devices hot-plugged at the start, one port each, in order. */
    plugged: readonly Device[] = [],
  ) {
    const ports = spec.devices.filter((d) => d.kind === 'hotplug-port').map((d) => d.id);
    for (const [i, d] of plugged.entries()) this.#portOf.set(d.id, ports[i] ?? '');
    this.#freePorts = ports.slice(plugged.length);
  }

  async plugNic(d: TapNic): Promise<void> {
    const port = this.#freePorts.shift();
    if (port === undefined) {
      const why =
        this.spec.machine === 'microvm'
          ? 'a microvm takes no device after it started (a VM from a template does)'
          : 'every hot-plug port is taken';
      throw new HakoError(
        'FAILED_PRECONDITION',
        `cannot add NIC ${d.id} (tap ${d.tap}) to the running VM: ${why}`,
      );
    }
    // The tap's queues reach QEMU through the helper (SCM_RIGHTS), as a netdev; then the NIC.
    const plug = await this.deps.runner.run([
      this.deps.helper,
      'plug',
      '--qmp',
      qmpSocket(this.spec),
      '--netdev',
      d.id,
      '--tap',
      `${d.netns}:${d.tap}`,
      '--queues',
      String(d.queues),
      ...(d.vhost ? ['--vhost'] : []),
    ]);
    if (plug.code !== 0) {
      throw new HakoError('VM_START_FAILED', `cannot add NIC ${d.id} (tap ${d.tap}): ${plug.stderr.trim()}`);
    }
    const qmp = await QmpClient.connect(qmpSocket(this.spec), PLUG_MS);
    try {
      for (const c of hotplugCommands(d, port)) await qmp.execute(c.execute, c.arguments);
      this.#portOf.set(d.id, port);
    } finally {
      qmp.close();
    }
  }

  async unplugNic(id: string): Promise<void> {
    const port = this.#portOf.get(id);
    if (port === undefined) throw new HakoError('NOT_FOUND', `the VM has no hot-plugged NIC ${id}`);
    const qmp = await QmpClient.connect(qmpSocket(this.spec), PLUG_MS);
    try {
      const device = `${id}-dev`;
      const deleted = new Promise<boolean>((resolve) =>
        qmp.onEvent((e) => {
          if (e.event === 'DEVICE_DELETED' && (e.data as { device?: unknown } | undefined)?.device === device)
            resolve(true);
        }),
      );
      await qmp.execute('device_del', { id: device });
      // The guest ejects the device (PCIe hot-plug): it may take seconds, or never come.
      if (!(await within(deleted, UNPLUG_MS)))
        throw new HakoError(
          'FAILED_PRECONDITION',
          `the guest did not release NIC ${id} within ${UNPLUG_MS} ms`,
        );
      await qmp.execute('netdev_del', { id });
      this.#portOf.delete(id);
      this.#freePorts.push(port);
    } finally {
      qmp.close();
    }
  }

  async resize(want: VmResources): Promise<VmResources> {
    if (!this.spec.growth) return sizeOfBoot(this.spec);
    const qmp = await QmpClient.connect(qmpSocket(this.spec), PLUG_MS);
    try {
      return await resizeVm(qmp, this.spec, want);
    } finally {
      qmp.close();
    }
  }

  stop(graceMs: number): Promise<void> {
    this.#stopping ??= this.#stop(graceMs);
    return this.#stopping;
  }

  async #stop(graceMs: number): Promise<void> {
    let done = false;
    void this.exited.then(() => (done = true));
    await Promise.resolve();
    if (done) return;
    // SIGKILL after graceMs whatever QMP does: a QEMU that accepts the
    // connection and never answers cannot hold the stop up.
    const timer = setTimeout(() => this.signal('SIGKILL'), graceMs);
    const quit = (async () => {
      const qmp = await QmpClient.connect(qmpSocket(this.spec), Math.min(graceMs, QUIT_MS));
      try {
        await qmp.execute('quit');
      } finally {
        qmp.close();
      }
    })();
    await within(
      quit.catch(() => undefined),
      Math.min(graceMs, QUIT_MS),
    );
    await this.exited;
    clearTimeout(timer);
  }

  async kill(): Promise<void> {
    this.signal('SIGKILL');
    await this.exited;
  }

  /**
   * What a live QEMU says of itself (run state, which chardevs have a peer),
   * for error messages; '' once it is gone or when it does not answer.
   */
  async #probe(): Promise<string> {
    let gone = false;
    void this.exited.then(() => (gone = true));
    await Promise.resolve();
    if (gone) return '';
    const probe = (async () => {
      const qmp = await QmpClient.connect(qmpSocket(this.spec), PROBE_MS);
      try {
        const status = (await qmp.execute('query-status')) as { status?: string };
        const chardevs = (await qmp.execute('query-chardev')) as {
          label?: string;
          'frontend-open'?: boolean;
        }[];
        const open = chardevs.map((c) => `${c.label ?? '?'}=${c['frontend-open'] ? 'open' : 'closed'}`);
        return `QEMU: ${status.status ?? 'unknown'}; chardevs ${open.join(' ')}`;
      } finally {
        qmp.close();
      }
    })();
    return (
      (await within(
        probe.catch(() => ''),
        PROBE_MS,
      )) ?? ''
    );
  }

  async diagnostics(): Promise<string> {
    const parts = [await this.#probe(), await logSection(join(this.spec.dir, 'qemu.log'), 20)];
    if (this.spec.consoleLog) parts.push(await logSection(join(this.spec.dir, 'console.log'), 30));
    return parts.filter((p) => p.length > 0).join('\n');
  }
}

/**
 * Gives a RAM file to the uid QEMU runs as (it opens /proc/self/fd/N anew,
 * which checks the file's owner and mode), or back to us. Opened without
 * following a link.
 */
async function ownRamFile(path: string, uid: number, gid: number, sizeBytes?: number): Promise<void> {
  const flags = constants.O_RDWR | constants.O_NOFOLLOW | (sizeBytes !== undefined ? constants.O_CREAT : 0);
  const f = await open(path, flags, 0o600);
  try {
    if (sizeBytes !== undefined && (await f.stat()).size < sizeBytes) await f.truncate(sizeBytes);
    await f.chown(uid, gid);
  } finally {
    await f.close();
  }
}

export class QemuHypervisor implements Hypervisor {
  readonly name = 'qemu';

  constructor(
    private readonly deps: { runner: Runner; procs: ProcessTable; qemuPath: string; helper: string },
  ) {}

  start(spec: VmSpec): Promise<Vm> {
    return this.#spawn(spec, planQemuFds(spec), [], []);
  }

  async #spawn(
    spec: VmSpec,
    fds: QemuFds,
    extraArgs: readonly string[],
    hotplug: readonly Device[],
  ): Promise<QemuVm> {
    const { uid, gid } = spec.jail;
    if (spec.memoryFile && uid !== undefined) await ownRamFile(spec.memoryFile.path, uid, gid ?? uid);
    const qemu = [...buildArgv(this.deps.qemuPath, spec, fds, hotplug), ...extraArgs];
    const argv = jailedArgv(
      this.deps.helper,
      spec.jail,
      { dieWithParent: spec.dieWithParent, fds: fds.passed },
      qemu,
    );
    const child = await this.deps.runner.spawn({
      argv,
      logFile: join(spec.dir, 'qemu.log'),
      ...(spec.consoleLog ? { stdoutLog: join(spec.dir, 'console.log') } : {}),
      maxLogBytes: spec.consoleLog ? CONSOLE_LOG_BYTES : QEMU_LOG_BYTES,
    });
    const startTime = await this.deps.procs.startTime(child.pid);
    if (startTime === undefined) {
      const exit = await child.exited;
      const log = await logTail(join(spec.dir, 'qemu.log'), 20);
      throw new HakoError('VM_START_FAILED', `QEMU exited at once (${describeExit(exit)}): ${log}`);
    }
    return new QemuVm(
      { pid: child.pid, startTime },
      child.exited,
      spec,
      (s) => child.kill(s),
      this.deps,
      hotplug,
    );
  }

  /**
   * Runs `steps` against a VM's QMP within `deadline`; on failure or when
   * time runs out, kills the VM (which ends any QMP call still waiting) and
   * says what QEMU printed. TEMPLATE_INVALID keeps its code.
   */
  async #drive(
    vm: QemuVm,
    what: string,
    deadline: number,
    steps: (qmp: QmpClient) => Promise<void>,
  ): Promise<void> {
    let qmp: QmpClient | undefined;
    try {
      const driven = (async () => {
        qmp = await connectWhenUp(vm.spec, vm.exited, deadline);
        await steps(qmp);
        return true;
      })();
      driven.catch(() => undefined);
      // A backstop: the steps' own timeouts, which say what was awaited, come first.
      if (!(await within(driven, Math.max(1, deadline + BACKSTOP_MS - Date.now())))) {
        throw new HakoError('VM_START_FAILED', 'no answer from QEMU in time');
      }
    } catch (e) {
      await vm.kill();
      const log = await vm.diagnostics();
      const code = isHakoError(e, 'TEMPLATE_INVALID') ? 'TEMPLATE_INVALID' : 'VM_START_FAILED';
      throw new HakoError(code, `${what}: ${messageOf(e)}${log ? `\n${log}` : ''}`, { cause: e });
    } finally {
      qmp?.close();
    }
  }

  async saveTemplate(
    spec: VmSpec,
    template: VmTemplate,
    readyPort: string,
    timeoutMs: number,
  ): Promise<void> {
    const memory = spec.memoryFile?.path;
    if (memory === undefined) throw new HakoError('INTERNAL', 'a VM template needs its RAM in a file');
    // Made (full size) by us, in a directory QEMU cannot enter.
    await ownRamFile(memory, spec.jail.uid ?? 0, spec.jail.gid ?? spec.jail.uid ?? 0, spec.memoryMiB << 20);
    const fds = planQemuFds(spec);
    // Started paused (-S), so that the port cannot open before we listen.
    const vm = await this.#spawn(spec, fds, ['-S'], []);
    // Whatever else is awaited, the template VM does not outlive its time.
    const hardStop = setTimeout(() => void vm.kill(), timeoutMs + 2 * BACKSTOP_MS);
    let state: StateReceiver | undefined;
    try {
      await pausePoint('template-build');
      const deadline = Date.now() + timeoutMs;
      // The state is streamed to us: QEMU spawns nothing.
      const receiver = await receiveState(statePath(template), template.dir, spec.jail.uid);
      state = receiver;
      await this.#drive(vm, 'making a VM template', deadline, async (qmp) => {
        const ready = portOpened(qmp, serialPortId(readyPort));
        await qmp.execute('cont');
        await portOpenedWithin(ready, Math.max(1, deadline - Date.now()), readyPort, vm.exited);
        await qmp.execute('stop');
        await qmp.execute('migrate-set-capabilities', { capabilities: [IGNORE_SHARED] });
        await qmp.execute('migrate', { uri: receiver.uri });
        await migrationDone(qmp, 'saving the VM template', deadline);
        if ((await within(receiver.received, Math.max(1, deadline - Date.now()))) === undefined) {
          throw new HakoError('VM_START_FAILED', 'the VM state did not arrive in time');
        }
      });
    } finally {
      clearTimeout(hardStop);
      await vm.kill();
      await state?.close();
      // Back to us: the template outlives the uid its builder ran as.
      await ownRamFile(memory, process.getuid?.() ?? 0, process.getgid?.() ?? 0).catch(() => undefined);
    }
  }

  async restore(
    spec: VmSpec,
    template: VmTemplate,
    hotplug: readonly Device[],
    timeoutMs: number,
  ): Promise<Vm> {
    // One port per hot-plugged device, in order.
    const ports = spec.devices.filter((d) => d.kind === 'hotplug-port');
    if (hotplug.length > ports.length)
      throw new HakoError('INTERNAL', `${hotplug.length} devices to hot-plug, ${ports.length} ports`);
    const fds = planQemuFds(spec, { hotplug, migration: { path: statePath(template), how: 'r' } });
    // Paused (-S) until the devices a template cannot hold are in.
    const vm = await this.#spawn(spec, fds, ['-S', '-incoming', 'defer'], hotplug);
    const deadline = Date.now() + timeoutMs;
    await this.#drive(vm, `starting a VM from the saved VM in ${template.dir}`, deadline, async (qmp) => {
      await qmp.execute('migrate-set-capabilities', { capabilities: [IGNORE_SHARED] });
      try {
        await qmp.execute('migrate-incoming', { uri: `fd:${fds.migration()}` });
        await migrationDone(qmp, 'loading the VM template', deadline, 'TEMPLATE_INVALID');
      } catch (e) {
        // QEMU exits (with a status, not killed) when it cannot load the state.
        const exit = await within(vm.exited, 200);
        if (exit?.code == null || exit.signal !== null) throw e;
        throw new HakoError(
          'TEMPLATE_INVALID',
          `its state cannot be loaded: QEMU exited (${describeExit(exit)})`,
          {
            cause: e,
          },
        );
      }
      for (const [i, d] of hotplug.entries()) {
        for (const c of hotplugCommands(d, ports[i]?.id ?? '')) await qmp.execute(c.execute, c.arguments);
      }
      await qmp.execute('cont');
    });
    return vm;
  }
}

/** How long past its deadline a QMP conversation is cut short. */
const BACKSTOP_MS = 2000;

/** RAM stays in the template's file: only the device state is saved and loaded. */
const IGNORE_SHARED = { capability: 'x-ignore-shared', state: true };

/** Resolves once the guest opened `port`; rejects after `ms` or when the VM exits first. */
async function portOpenedWithin(
  opened: Promise<void>,
  ms: number,
  port: string,
  exited: Promise<VmExit>,
): Promise<void> {
  const died = exited.then((x) => {
    throw new HakoError('VM_EXITED', `QEMU exited (${describeExit(x)})`);
  });
  died.catch(() => undefined);
  if (!(await within(Promise.race([opened.then(() => true), died]), ms))) {
    throw new HakoError('AGENT_TIMEOUT', `the template's guest did not open ${port} within ${ms} ms`);
  }
}
