// The QEMU driver: starts qemu-system-x86_64 from a VmSpec and stops it
// through QMP (`quit`), falling back to SIGKILL.
import { join } from 'node:path';
import { HakoError } from '../../errors.js';
import { logSection, logTail } from '../../sys/log-tail.js';
import type { ProcessTable, ProcessRef } from '../../sys/procs.js';
import { describeExit, type Runner } from '../../sys/runner.js';
import type { Hypervisor, Vm, VmExit, VmSpec } from '../types.js';
import { buildArgv } from './argv.js';
import { QmpClient } from './qmp.js';

class QemuVm implements Vm {
  #stopping: Promise<void> | undefined;

  constructor(
    readonly process: ProcessRef,
    readonly exited: Promise<VmExit>,
    private readonly spec: VmSpec,
    private readonly signal: (s: NodeJS.Signals) => void,
  ) {}

  stop(graceMs: number): Promise<void> {
    this.#stopping ??= this.#stop(graceMs);
    return this.#stopping;
  }

  async #stop(graceMs: number): Promise<void> {
    let done = false;
    void this.exited.then(() => (done = true));
    await Promise.resolve();
    if (!done) {
      try {
        const qmp = await QmpClient.connect(join(this.spec.dir, 'qmp.sock'), Math.min(graceMs, 1000));
        await qmp.execute('quit').catch(() => undefined);
        qmp.close();
      } catch {
        // QMP unusable: fall through to SIGKILL.
      }
      const timer = setTimeout(() => this.signal('SIGKILL'), graceMs);
      await this.exited;
      clearTimeout(timer);
    }
  }

  async kill(): Promise<void> {
    this.signal('SIGKILL');
    await this.exited;
  }

  async diagnostics(): Promise<string> {
    const parts = [await logSection(join(this.spec.dir, 'qemu.log'), 20)];
    if (this.spec.consoleLog) parts.push(await logSection(join(this.spec.dir, 'console.log'), 30));
    return parts.filter((p) => p.length > 0).join('\n');
  }
}

export class QemuHypervisor implements Hypervisor {
  readonly name = 'qemu';

  constructor(private readonly deps: { runner: Runner; procs: ProcessTable; qemuPath: string }) {}

  async start(spec: VmSpec): Promise<Vm> {
    const argv = buildArgv(this.deps.qemuPath, spec);
    const child = await this.deps.runner.spawn({
      argv,
      logFile: join(spec.dir, 'qemu.log'),
      dieWithParent: spec.dieWithParent,
    });
    const startTime = await this.deps.procs.startTime(child.pid);
    if (startTime === undefined) {
      const exit = await child.exited;
      const log = await logTail(join(spec.dir, 'qemu.log'), 20);
      throw new HakoError('VM_START_FAILED', `QEMU exited at once (${describeExit(exit)}): ${log}`);
    }
    return new QemuVm({ pid: child.pid, startTime }, child.exited, spec, (s) => child.kill(s));
  }
}
