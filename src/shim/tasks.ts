// The shim's core: tasks (containers) and their exec processes, grouped
// into sandboxes (one VM per pod). It keeps the runtime-v2 event order:
// TaskCreate → TaskStart → TaskExit → TaskDelete, with exec-added /
// exec-started / exit for execs. A process's exit is watched from the
// moment it exists, and its TaskExit waits for its TaskStart, so an early
// exit is never lost nor published first. The Task service (task-service.ts)
// only decodes requests and calls these methods.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { ProcessExit } from '../agent-client/client.js';
import { HakoError, messageOf } from '../errors.js';
import {
  TaskCreateSchema,
  TaskDeleteSchema,
  TaskExecAddedSchema,
  TaskExecStartedSchema,
  TaskExitSchema,
  TaskOOMSchema,
  TaskPausedSchema,
  TaskResumedSchema,
  TaskStartSchema,
} from '../gen/containerd/events_pb.js';
import type { Mount } from '../gen/containerd/types_pb.js';
import type { Logger } from '../log.js';
import { readBundle } from '../oci/spec.js';
import type { Container } from '../runtime/container.js';
import type { SandboxEnv } from '../runtime/env.js';
import type { ExecProcess } from '../runtime/exec.js';
import { checkId } from '../runtime/ids.js';
import { Sandbox } from '../runtime/sandbox.js';
import type { OciSpec } from '../oci/spec.js';
import type { Mounter } from '../sys/mounts.js';
import { writeBundleState } from './bundle-state.js';
import type { EventSink } from './events.js';
import { groupOf, isCriSandbox } from './grouping.js';
import { StdioRelay, type StdioPaths } from './stdio.js';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { within } from '../within.js';
import { sweepStale } from '../wiring.js';

export interface ShimDeps {
  readonly events: EventSink;
  readonly log: Logger;
  /**
   * The environment for a new sandbox, from a configuration file (or the
   * default one) and its first container's annotations (the enabled
   * io.hako.config ones: config/annotations.ts).
   */
  env(
    configPath: string | undefined,
    annotations: Readonly<Record<string, string>> | undefined,
  ): Promise<SandboxEnv>;
  readonly mounter: Mounter;
  /** The daemon's socket (recorded for the `delete` action). */
  readonly socketPath: string;
}

export interface Exit {
  readonly status: number;
  readonly at: Date;
}

/** How long a process's output may keep flowing after it exited. */
const OUTPUT_GRACE_MS = 10_000;

class Deferred<T> {
  resolve!: (v: T) => void;
  readonly promise = new Promise<T>((r) => (this.resolve = r));
}

/** The init process or an exec, as the Task API sees it. */
interface Proc {
  readonly execId: string;
  readonly stdio: StdioPaths;
  relay: StdioRelay | undefined;
  pid: number;
  /** true once TaskStart/TaskExecStarted is published; false if deleted unstarted. */
  readonly started: Deferred<boolean>;
  /** Settles once the process exited and its output was relayed (Wait may come before Start). */
  readonly exit: Deferred<Exit>;
  exited: Exit | undefined;
  readonly exec: ExecProcess | undefined;
}

interface Task {
  readonly id: string;
  readonly bundle: string;
  readonly group: string;
  readonly sandbox: Sandbox;
  readonly container: Container;
  readonly init: Proc;
  readonly execs: Map<string, Proc>;
  readonly rootfs: string | undefined;
}

export type ProcStatus = 'created' | 'running' | 'paused' | 'stopped';

export interface ProcState {
  readonly pid: number;
  readonly status: ProcStatus;
  readonly stdio: StdioPaths;
  readonly exit: Exit | undefined;
  readonly bundle: string;
}

interface Group {
  readonly env: Promise<SandboxEnv>;
  readonly sandbox: Promise<Sandbox>;
  readonly members: Set<string>;
}

function newProc(execId: string, stdio: StdioPaths, exec?: ExecProcess): Proc {
  return {
    execId,
    stdio,
    relay: undefined,
    pid: 0,
    started: new Deferred(),
    exit: new Deferred(),
    exited: undefined,
    exec,
  };
}

export class ShimTasks {
  readonly #tasks = new Map<string, Task>();
  readonly #creating = new Set<string>();
  readonly #groups = new Map<string, Group>();
  readonly #stopping = new Map<string, Promise<void>>();
  readonly #swept = new Set<string>();

  constructor(private readonly deps: ShimDeps) {}

  get size(): number {
    return this.#tasks.size + this.#creating.size;
  }

  #task(id: string): Task {
    const t = this.#tasks.get(id);
    if (!t) throw new HakoError('NOT_FOUND', `task ${id} not found`);
    return t;
  }

  #proc(id: string, execId: string): Proc {
    const t = this.#task(id);
    if (execId === '') return t.init;
    const p = t.execs.get(execId);
    if (!p) throw new HakoError('NOT_FOUND', `process ${execId} not found in task ${id}`);
    return p;
  }

  // ---- sandboxes -----------------------------------------------------------

  /**
   * The group's sandbox; a new one carries its first container's network
   * namespace and lives in the host cgroup its spec names (as runc would
   * put that container: CRI's pod cgroup).
   */
  #sandboxFor(group: string, configPath: string | undefined, first: OciSpec): Group {
    const existing = this.#groups.get(group);
    if (existing) return existing;
    const env = this.deps.env(configPath, first.annotations);
    const g: Group = { env, sandbox: this.#boot(group, env, first), members: new Set() };
    this.#groups.set(group, g);
    g.sandbox.catch(() => this.#groups.delete(group));
    return g;
  }

  /** Sweeps each state directory once: sandboxes of dead daemons (killed before their cleanup) go. */
  #sweep(env: SandboxEnv): void {
    if (this.#swept.has(env.store.root)) return;
    this.#swept.add(env.store.root);
    void sweepStale(env).catch((e: unknown) => this.deps.log.log('warn', `sweep: ${messageOf(e)}`));
  }

  async #boot(group: string, envReady: Promise<SandboxEnv>, first: OciSpec): Promise<Sandbox> {
    await this.#stopping.get(group);
    const env = await envReady;
    this.#sweep(env);
    const sandbox = await Sandbox.start(env, {
      id: group,
      dieWithParent: false,
      firstSpec: first,
      forwardPorts: isCriSandbox(first.annotations),
    });
    sandbox.watchOom((containerId) => this.deps.events.publish('/tasks/oom', TaskOOMSchema, { containerId }));
    return sandbox;
  }

  async #release(t: Task): Promise<void> {
    const g = this.#groups.get(t.group);
    if (!g) return;
    g.members.delete(t.id);
    if (g.members.size > 0) return;
    await this.#stopGroup(t.group, g);
  }

  /** Forgets a group and stops its sandbox; a new boot of the group waits for that. */
  async #stopGroup(group: string, g: Group): Promise<void> {
    if (this.#groups.get(group) === g) this.#groups.delete(group);
    const stopping = g.sandbox
      .then((s) => s.stop())
      .catch((e: unknown) => this.deps.log.log('warn', `stop sandbox ${group}: ${messageOf(e)}`));
    this.#stopping.set(group, stopping);
    await stopping;
    if (this.#stopping.get(group) === stopping) this.#stopping.delete(group);
  }

  // ---- exits ---------------------------------------------------------------

  /** Watches `p` from now on: records its exit once it exited and its output was relayed. */
  #watch(t: Task, p: Proc, wait: () => Promise<ProcessExit>, output: Promise<void>): void {
    // Output that breaks off (its VM went away) has ended all the same.
    const outputEnded = output.catch((e: unknown) => {
      this.deps.log.log('debug', `output of ${p.execId || t.id}: ${messageOf(e)}`);
    });
    const exited = wait()
      .catch((e: unknown): ProcessExit => {
        this.deps.log.log('warn', `lost process ${p.execId || t.id} of ${t.id}: ${messageOf(e)}`);
        return { status: 255, signal: 0 };
      })
      .then(async (e) => {
        await within(outputEnded, OUTPUT_GRACE_MS);
        const exit = { status: e.status, at: new Date() };
        p.exited = exit;
        p.exit.resolve(exit);
        return exit;
      });
    void exited.then(async (exit) => {
      if (!(await p.started.promise)) return;
      this.deps.events.publish('/tasks/exit', TaskExitSchema, {
        containerId: t.id,
        id: p.execId || t.id,
        pid: p.pid,
        exitStatus: exit.status,
        exitedAt: timestampFromDate(exit.at),
      });
    });
  }

  // ---- Task API --------------------------------------------------------------

  async create(req: {
    id: string;
    bundle: string;
    rootfs: readonly Mount[];
    stdio: StdioPaths;
    configPath: string | undefined;
  }): Promise<number> {
    const id = checkId(req.id, 'task id');
    if (this.#tasks.has(id) || this.#creating.has(id))
      throw new HakoError('ALREADY_EXISTS', `task ${id} already exists`);
    this.#creating.add(id);
    try {
      return await this.#create(id, req);
    } finally {
      this.#creating.delete(id);
    }
  }

  async #create(
    id: string,
    req: { bundle: string; rootfs: readonly Mount[]; stdio: StdioPaths; configPath: string | undefined },
  ): Promise<number> {
    const bundle = await readBundle(req.bundle);
    const group = checkId(groupOf(id, bundle.spec.annotations), 'sandbox id');
    let rootfs = bundle.rootfs;
    let mountedRootfs: string | undefined;
    let relay: StdioRelay | undefined;
    /** The sandbox holding the container, once it is created there. */
    let created: Sandbox | undefined;
    const g = this.#sandboxFor(group, req.configPath, bundle.spec);
    g.members.add(id);
    try {
      // Recorded before the sandbox exists: if this daemon is killed while
      // it boots, containerd's `delete` still finds what to clean up.
      const state = {
        sandboxId: group,
        stateDir: (await g.env).store.root,
        socket: this.deps.socketPath,
        ...(req.configPath !== undefined ? { configPath: req.configPath } : {}),
      };
      await writeBundleState(bundle.dir, { ...state, pid: 0 });
      if (req.rootfs.length > 0) {
        mountedRootfs = join(bundle.dir, 'rootfs');
        await mkdir(mountedRootfs, { recursive: true });
        for (const m of req.rootfs) await this.deps.mounter.mountFs(m, mountedRootfs);
        rootfs = mountedRootfs;
      }
      const sandbox = await g.sandbox;
      relay = await StdioRelay.open(req.stdio, this.deps.log);
      const spec = { ...bundle.spec, process: { ...bundle.spec.process, terminal: req.stdio.terminal } };
      const readonly = bundle.spec.root.readonly ?? false;
      const container = await sandbox.createContainer({ id, spec, rootfs, readonly, bundleDir: bundle.dir });
      created = sandbox;
      // Recorded before the task is registered: a task that `delete` could
      // not find from disk must not exist.
      await writeBundleState(bundle.dir, { ...state, pid: container.pid });
      const init = newProc('', req.stdio);
      init.relay = relay;
      init.pid = container.pid;
      const t: Task = {
        id,
        bundle: bundle.dir,
        group,
        sandbox,
        container,
        init,
        execs: new Map(),
        rootfs: mountedRootfs,
      };
      this.#tasks.set(id, t);
      this.#watch(t, init, () => container.wait(), relay.attach(container.io()));
      this.deps.events.publish('/tasks/create', TaskCreateSchema, {
        containerId: id,
        bundle: bundle.dir,
        rootfs: [...req.rootfs],
        io: { ...req.stdio },
        pid: container.pid,
      });
      return container.pid;
    } catch (e) {
      await created?.removeContainer(id).catch((err: unknown) => {
        this.deps.log.log('warn', `remove container ${id} after a failed create: ${messageOf(err)}`);
      });
      await relay?.close();
      if (mountedRootfs) await this.deps.mounter.unmount(mountedRootfs).catch(() => undefined);
      g.members.delete(id);
      if (g.members.size === 0 && this.#groups.get(group) === g) await this.#stopGroup(group, g);
      throw e;
    }
  }

  async start(id: string, execId: string): Promise<number> {
    const t = this.#task(id);
    if (execId === '') {
      await t.container.start();
      this.deps.events.publish('/tasks/start', TaskStartSchema, { containerId: id, pid: t.init.pid });
      t.init.started.resolve(true);
      return t.init.pid;
    }
    const p = this.#proc(id, execId);
    const exec = p.exec;
    if (!exec) throw new HakoError('INTERNAL', `process ${execId} has no exec`);
    p.pid = await exec.start();
    const output = p.relay ? p.relay.attach(exec.io()) : Promise.resolve();
    this.#watch(t, p, () => exec.wait(), output);
    this.deps.events.publish('/tasks/exec-started', TaskExecStartedSchema, {
      containerId: id,
      execId,
      pid: p.pid,
    });
    p.started.resolve(true);
    return p.pid;
  }

  async exec(id: string, execId: string, stdio: StdioPaths, process: Record<string, unknown>): Promise<void> {
    const t = this.#task(id);
    checkId(execId, 'exec id');
    if (t.execs.has(execId))
      throw new HakoError('ALREADY_EXISTS', `process ${execId} already exists in task ${id}`);
    const exec = t.container.addExec(execId, { ...process, terminal: stdio.terminal });
    const p = newProc(execId, stdio, exec);
    try {
      p.relay = await StdioRelay.open(stdio, this.deps.log);
    } catch (e) {
      await exec.delete();
      throw e;
    }
    t.execs.set(execId, p);
    this.deps.events.publish('/tasks/exec-added', TaskExecAddedSchema, { containerId: id, execId });
  }

  state(id: string, execId: string): ProcState {
    const t = this.#task(id);
    const p = this.#proc(id, execId);
    let status: ProcStatus;
    if (p.exited) status = 'stopped';
    else if (execId === '') {
      const s = t.container.status;
      // An exited init counts as running until its output was relayed (then p.exited is set).
      status = s === 'deleted' ? 'stopped' : s === 'stopped' ? 'running' : s;
    } else status = p.exec?.status === 'created' ? 'created' : 'running';
    return { pid: p.pid, status, stdio: p.stdio, exit: p.exited, bundle: t.bundle };
  }

  async kill(id: string, execId: string, signal: number, all: boolean): Promise<void> {
    const t = this.#task(id);
    const p = this.#proc(id, execId);
    if (p.exited || (execId === '' && t.container.exited))
      throw new HakoError('NOT_FOUND', 'process already finished');
    if (execId === '') await t.container.signal(signal, all);
    else {
      if (!p.exec || p.exec.status === 'created')
        throw new HakoError('FAILED_PRECONDITION', `process ${execId} is not running`);
      await p.exec.signal(signal);
    }
  }

  wait(id: string, execId: string): Promise<Exit> {
    return this.#proc(id, execId).exit.promise;
  }

  async delete(id: string, execId: string): Promise<{ pid: number; exit: Exit }> {
    const t = this.#task(id);
    const p = this.#proc(id, execId);
    const now = { status: 0, at: new Date() };
    if (execId !== '') {
      if (p.exec?.status === 'running' && !p.exited)
        throw new HakoError('FAILED_PRECONDITION', `process ${execId} is still running`);
      await p.exec?.delete();
      await p.relay?.close();
      p.started.resolve(false);
      t.execs.delete(execId);
      const exit = p.exited ?? now;
      this.deps.events.publish('/tasks/delete', TaskDeleteSchema, {
        containerId: id,
        id: execId,
        pid: p.pid,
        exitStatus: exit.status,
        exitedAt: timestampFromDate(exit.at),
      });
      return { pid: p.pid, exit };
    }
    const status = t.container.status;
    if (status === 'running' || status === 'paused') {
      throw new HakoError('FAILED_PRECONDITION', `task ${id} is still ${status}`);
    }
    if (status === 'stopped') await t.init.exit.promise;
    t.init.started.resolve(false);
    // The last container of a sandbox goes with the sandbox (#release): removing
    // it first would only cost another crun run in the guest.
    const last = this.#groups.get(t.group)?.members.size === 1;
    if (!last) await t.container.delete();
    for (const e of t.execs.values()) await e.relay?.close();
    await t.init.relay?.close();
    if (t.rootfs) await this.deps.mounter.unmount(t.rootfs).catch(() => undefined);
    this.#tasks.delete(id);
    const exit = t.init.exited ?? now;
    this.deps.events.publish('/tasks/delete', TaskDeleteSchema, {
      containerId: id,
      pid: t.init.pid,
      exitStatus: exit.status,
      exitedAt: timestampFromDate(exit.at),
    });
    await this.#release(t);
    return { pid: t.init.pid, exit };
  }

  async pause(id: string): Promise<void> {
    await this.#task(id).container.pause();
    this.deps.events.publish('/tasks/paused', TaskPausedSchema, { containerId: id });
  }

  async resume(id: string): Promise<void> {
    await this.#task(id).container.resume();
    this.deps.events.publish('/tasks/resumed', TaskResumedSchema, { containerId: id });
  }

  pids(id: string): Promise<{ pid: number; execId: string }[]> {
    return this.#task(id).container.processes();
  }

  async closeIO(id: string, execId: string): Promise<void> {
    await this.#proc(id, execId).relay?.closeStdin();
  }

  async resize(id: string, execId: string, width: number, height: number): Promise<void> {
    const t = this.#task(id);
    const p = this.#proc(id, execId);
    const io = p.exec ? p.exec.io() : t.container.io();
    await io.resize(height, width);
  }

  update(id: string, resources: unknown): Promise<void> {
    return this.#task(id).container.update(resources);
  }

  stats(id: string) {
    return this.#task(id).container.stats();
  }

  taskPid(id: string): number {
    return this.#tasks.get(id)?.init.pid ?? 0;
  }

  /** Stops every sandbox (daemon shutdown). */
  async stopAll(): Promise<void> {
    for (const [group, g] of [...this.#groups]) await this.#stopGroup(group, g);
  }
}
