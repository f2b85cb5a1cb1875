// A container inside a sandbox, with one transition table:
//   created --start--> running --exit--> stopped --delete--> deleted
//   running --pause--> paused --resume--> running;  paused --exit--> stopped
//   created --exit--> stopped (killed before it started);  created --delete--> deleted
import type { AgentClient, CgroupStats, ProcessExit } from '../agent-client/client.js';
import { HakoError, isHakoError } from '../errors.js';
import { ExecProcess } from './exec.js';
import { ProcessIo } from './process-io.js';
import type { ContainerRecord } from './state-store.js';

export type ContainerStatus = 'created' | 'running' | 'paused' | 'stopped' | 'deleted';
export type ContainerEvent = 'start' | 'pause' | 'resume' | 'exit' | 'delete';

const TRANSITIONS: Readonly<Record<ContainerStatus, Partial<Record<ContainerEvent, ContainerStatus>>>> = {
  created: { start: 'running', exit: 'stopped', delete: 'deleted' },
  running: { pause: 'paused', exit: 'stopped' },
  paused: { resume: 'running', exit: 'stopped' },
  stopped: { delete: 'deleted' },
  deleted: {},
};

export function nextStatus(from: ContainerStatus, event: ContainerEvent): ContainerStatus {
  const to = TRANSITIONS[from][event];
  if (!to) throw new HakoError('FAILED_PRECONDITION', `cannot ${event} a container that is ${from}`);
  return to;
}

/** What a container needs from its sandbox. */
export interface ContainerHost {
  readonly agent: AgentClient;
  guard<T>(op: Promise<T>, what: string): Promise<T>;
  setContainerStatus(id: string, status: ContainerRecord['status']): Promise<void>;
  removeContainer(id: string): Promise<void>;
  updateResources(id: string, resources: unknown): Promise<void>;
}

export class Container {
  #status: ContainerStatus;
  #exit: Promise<ProcessExit> | undefined;
  #exited: ProcessExit | undefined;

  constructor(
    private readonly host: ContainerHost,
    readonly id: string,
    /** Guest pid of the init process. */
    readonly pid: number,
    status: 'created' | 'running' = 'created',
  ) {
    this.#status = status;
  }

  get status(): ContainerStatus {
    return this.#status;
  }

  /** The init process's exit, once it has happened. */
  get exited(): ProcessExit | undefined {
    return this.#exited;
  }

  #move(event: ContainerEvent): void {
    this.#status = nextStatus(this.#status, event);
  }

  async #agentCall<T>(what: string, op: (a: AgentClient) => Promise<T>): Promise<T> {
    return this.host.guard(op(this.host.agent), `${what} container ${this.id}`);
  }

  /** The init process's stdio. */
  io(): ProcessIo {
    return new ProcessIo(this.host, this.id, '');
  }

  async start(): Promise<void> {
    nextStatus(this.#status, 'start');
    await this.#agentCall('start', (a) => a.startContainer(this.id));
    if (this.#status === 'created') this.#move('start');
    await this.host.setContainerStatus(this.id, 'running');
  }

  /** Resolves with the init process's exit (once, however often called). */
  wait(): Promise<ProcessExit> {
    this.#exit ??= this.#agentCall('wait for', (a) => a.waitProcess(this.id, '')).then(
      async (exit) => {
        this.#exited = exit;
        if (this.#status !== 'stopped' && this.#status !== 'deleted') this.#move('exit');
        await this.host.setContainerStatus(this.id, 'stopped');
        return exit;
      },
      (e: unknown) => {
        // Its VM is gone: so is every process in it. The container can be deleted.
        if (isHakoError(e, 'VM_EXITED') && this.#status !== 'stopped' && this.#status !== 'deleted') {
          this.#move('exit');
        }
        throw e;
      },
    );
    return this.#exit;
  }

  async signal(signal: number, all = false): Promise<void> {
    await this.#agentCall('signal', (a) => a.signalProcess(this.id, '', signal, all));
  }

  async pause(): Promise<void> {
    nextStatus(this.#status, 'pause');
    await this.#agentCall('pause', (a) => a.pauseContainer(this.id));
    this.#move('pause');
  }

  async resume(): Promise<void> {
    nextStatus(this.#status, 'resume');
    await this.#agentCall('resume', (a) => a.resumeContainer(this.id));
    this.#move('resume');
  }

  /** New resource limits: the guest cgroup's, and the VM's size with them. */
  async update(resources: unknown): Promise<void> {
    await this.host.updateResources(this.id, resources);
  }

  stats(): Promise<CgroupStats> {
    return this.#agentCall('read statistics of', (a) => a.statsContainer(this.id));
  }

  processes(): Promise<{ pid: number; execId: string }[]> {
    return this.#agentCall('list processes of', (a) => a.listProcesses(this.id));
  }

  /** A new exec (not started yet); its caller keeps track of exec ids. */
  addExec(execId: string, process: unknown): ExecProcess {
    if (this.#status !== 'running') {
      throw new HakoError(
        'FAILED_PRECONDITION',
        `cannot exec in container ${this.id}: it is ${this.#status}`,
      );
    }
    return new ExecProcess(this.host, this.id, execId, process);
  }

  async delete(): Promise<void> {
    if (this.#status === 'running' || this.#status === 'paused') {
      throw new HakoError('FAILED_PRECONDITION', `container ${this.id} is still ${this.#status}`);
    }
    nextStatus(this.#status, 'delete');
    await this.host.removeContainer(this.id);
    this.#move('delete');
  }
}
