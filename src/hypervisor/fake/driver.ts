// A fake Hypervisor: no VM, but the same contract. Its "VM process" is a
// real, harmless child (sleep) so that pid bookkeeping and cleanup are
// exercised for real, and it serves a FakeAgent on the agent socket the
// transport expects, so the whole host side runs unchanged.
import { createServer, type Server } from 'node:net';
import { refOf } from '../../sys/procs.js';
import { RealProcessTable } from '../../sys/procs.js';
import type { Runner } from '../../sys/runner.js';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type {
  Device,
  Hypervisor,
  TapNic,
  Vm,
  VmExit,
  VmGrowth,
  VmResources,
  VmSpec,
  VmTemplate,
} from '../types.js';
import { planResize, sizeOf, sizeOfBoot, type Plugged } from '../resize-plan.js';
import { FakeAgent, type FakeAgentOptions } from './agent.js';
import { HakoError } from '../../errors.js';

export class FakeHypervisor implements Hypervisor {
  readonly name = 'fake';
  readonly started: VmSpec[] = [];
  readonly agents: FakeAgent[] = [];
  readonly vms: FakeVm[] = [];

  constructor(
    private readonly runner: Runner,
    private readonly agentOptions: FakeAgentOptions = {},
  ) {}

  readonly templatesSaved: VmSpec[] = [];
  readonly restored: { spec: VmSpec; hotplug: readonly Device[] }[] = [];

  /** Set to make saveTemplate fail (a guest that never comes up). */
  templateError: Error | undefined;

  /** Writes a template's two files, as QEMU would. */
  async saveTemplate(spec: VmSpec, template: VmTemplate): Promise<void> {
    this.templatesSaved.push(spec);
    if (this.templateError) throw this.templateError;
    await writeFile(join(template.dir, 'memory'), 'fake RAM');
    await writeFile(join(template.dir, 'state'), 'fake state');
  }

  /** Set to make restore fail (TEMPLATE_INVALID: a state QEMU cannot load). */
  restoreError: Error | undefined;

  /** Starts like a cold boot, after checking that the template is there. */
  async restore(spec: VmSpec, template: VmTemplate, hotplug: readonly Device[]): Promise<Vm> {
    await readFile(join(template.dir, 'state'));
    if (this.restoreError) throw this.restoreError;
    this.restored.push({ spec, hotplug });
    return this.start(spec);
  }

  async start(spec: VmSpec): Promise<Vm> {
    this.started.push(spec);
    const port = spec.devices.find((d) => d.kind === 'serial-port');
    if (port?.kind !== 'serial-port') throw new HakoError('VM_START_FAILED', 'fake VM needs an agent port');
    const agent = new FakeAgent(this.agentOptions);
    this.agents.push(agent);
    const server = createServer((socket) => agent.serve(socket));
    await new Promise<void>((resolve) => server.listen(port.socketPath, resolve));
    const child = await this.runner.spawn({ argv: ['sleep', '3600'] });
    const ref = await refOf(new RealProcessTable(), child.pid);
    if (!ref) throw new HakoError('VM_START_FAILED', 'fake VM process vanished');
    const sizing = { boot: sizeOfBoot(spec), growth: spec.growth };
    const vm = new FakeVm(ref, child.exited, server, agent, (s) => child.kill(s), sizing);
    this.vms.push(vm);
    return vm;
  }
}

export class FakeVm implements Vm {
  constructor(
    readonly process: { pid: number; startTime: string },
    readonly exited: Promise<VmExit>,
    private readonly server: Server,
    readonly agent: FakeAgent,
    private readonly signal: (s: NodeJS.Signals) => void,
    private readonly sizing: { boot: VmResources; growth: VmGrowth | undefined } = {
      boot: { vcpus: 1, memoryMiB: 512 },
      growth: undefined,
    },
  ) {
    this.#plugged = { vcpus: sizing.boot.vcpus, modules: [] };
    void exited.then(() => {
      agent.server.closeAll();
      server.close();
    });
  }

  /** Simulates the VM dying (e.g. QEMU killed). */
  crash(): void {
    this.signal('SIGKILL');
  }

  async stop(): Promise<void> {
    this.signal('SIGTERM');
    await this.exited;
  }

  async kill(): Promise<void> {
    this.signal('SIGKILL');
    await this.exited;
  }

  diagnostics(): Promise<string> {
    return Promise.resolve('fake VM');
  }

  /** The NICs added after the start, in order. */
  readonly plugged: TapNic[] = [];

  plugNic(d: TapNic): Promise<void> {
    this.plugged.push(d);
    return Promise.resolve();
  }

  /** Its CPUs and the memory modules resize added. */
  #plugged: Plugged;
  #nextModule = 0;

  resize(want: VmResources): Promise<VmResources> {
    const { boot, growth } = this.sizing;
    const plan = planResize(boot, growth, this.#plugged, want);
    const kept = this.#plugged.modules.filter((m) => !plan.removeModules.includes(m.id));
    const added = plan.addModuleMiB > 0 ? [{ id: `dimm${this.#nextModule++}`, mib: plan.addModuleMiB }] : [];
    this.#plugged = { vcpus: this.#plugged.vcpus + plan.cpus, modules: [...kept, ...added] };
    return Promise.resolve(sizeOf(boot, this.#plugged));
  }

  unplugNic(id: string): Promise<void> {
    const i = this.plugged.findIndex((d) => d.id === id);
    if (i < 0) return Promise.reject(new HakoError('NOT_FOUND', `the VM has no hot-plugged NIC ${id}`));
    this.plugged.splice(i, 1);
    return Promise.resolve();
  }
}
