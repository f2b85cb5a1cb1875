// A container inside a sandbox, with one transition table:
//   created --start--> running --exit--> stopped --delete--> deleted
//   created --exit--> stopped (killed before it started), created --delete--> deleted
import type { AgentClient, ProcessExit } from '../agent-client/client.js';
import { HakoError } from '../errors.js';
import { ProcessIo } from './process-io.js';
import type { ContainerRecord } from './state-store.js';

export type ContainerStatus = 'created' | 'running' | 'stopped' | 'deleted';
export type ContainerEvent = 'start' | 'exit' | 'delete';

const TRANSITIONS: Readonly<Record<ContainerStatus, Partial<Record<ContainerEvent, ContainerStatus>>>> = {
  created: { start: 'running', exit: 'stopped', delete: 'deleted' },
  running: { exit: 'stopped' },
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
}

export class Container {
  #status: ContainerStatus;
  #exit: Promise<ProcessExit> | undefined;

  constructor(
    private readonly host: ContainerHost,
    readonly id: string,
    status: 'created' | 'running' = 'created',
  ) {
    this.#status = status;
  }

  get status(): ContainerStatus {
    return this.#status;
  }

  #move(event: ContainerEvent): void {
    this.#status = nextStatus(this.#status, event);
  }

  /** The init process's stdio. */
  io(): ProcessIo {
    return new ProcessIo(this.host, this.id, '');
  }

  async start(): Promise<void> {
    nextStatus(this.#status, 'start');
    await this.host.guard(this.host.agent.startContainer(this.id), `start container ${this.id}`);
    if (this.#status === 'created') this.#move('start');
    await this.host.setContainerStatus(this.id, 'running');
  }

  /** Resolves with the init process's exit (once, however often called). */
  wait(): Promise<ProcessExit> {
    this.#exit ??= this.host
      .guard(this.host.agent.waitProcess(this.id, ''), `wait for container ${this.id}`)
      .then(async (exit) => {
        if (this.#status !== 'stopped' && this.#status !== 'deleted') this.#move('exit');
        await this.host.setContainerStatus(this.id, 'stopped');
        return exit;
      });
    return this.#exit;
  }

  async signal(signal: number, all = false): Promise<void> {
    await this.host.guard(
      this.host.agent.signalProcess(this.id, '', signal, all),
      `signal container ${this.id}`,
    );
  }

  async delete(): Promise<void> {
    if (this.#status === 'running') {
      throw new HakoError('FAILED_PRECONDITION', `container ${this.id} is still running`);
    }
    nextStatus(this.#status, 'delete');
    await this.host.removeContainer(this.id);
    this.#move('delete');
  }
}
