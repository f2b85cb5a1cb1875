// An extra process in a running container (an exec), with its own table:
//   created --start--> running --exit--> stopped --delete--> deleted
//   created --delete--> deleted
import type { ProcessExit } from '../agent-client/client.js';
import { HakoError } from '../errors.js';
import type { ContainerHost } from './container.js';
import { ProcessIo } from './process-io.js';

export type ExecStatus = 'created' | 'running' | 'stopped' | 'deleted';
type ExecEvent = 'start' | 'exit' | 'delete';

const TRANSITIONS: Readonly<Record<ExecStatus, Partial<Record<ExecEvent, ExecStatus>>>> = {
  created: { start: 'running', delete: 'deleted' },
  running: { exit: 'stopped' },
  stopped: { delete: 'deleted' },
  deleted: {},
};

function nextExecStatus(from: ExecStatus, event: ExecEvent): ExecStatus {
  const to = TRANSITIONS[from][event];
  if (!to) throw new HakoError('FAILED_PRECONDITION', `cannot ${event} a process that is ${from}`);
  return to;
}

export class ExecProcess {
  #status: ExecStatus = 'created';
  #exit: Promise<ProcessExit> | undefined;

  constructor(
    private readonly host: ContainerHost,
    readonly containerId: string,
    readonly execId: string,
    /** The OCI process object. */
    readonly process: unknown,
  ) {}

  get status(): ExecStatus {
    return this.#status;
  }

  io(): ProcessIo {
    return new ProcessIo(this.host, this.containerId, this.execId);
  }

  /** Starts the process in the guest; returns its guest pid. */
  async start(): Promise<number> {
    nextExecStatus(this.#status, 'start');
    const json = new TextEncoder().encode(JSON.stringify(this.process));
    const pid = await this.host.guard(
      this.host.agent.execProcess(this.containerId, this.execId, json),
      `exec ${this.execId} in ${this.containerId}`,
    );
    this.#status = nextExecStatus(this.#status, 'start');
    return pid;
  }

  wait(): Promise<ProcessExit> {
    if (this.#status === 'created') {
      return Promise.reject(new HakoError('FAILED_PRECONDITION', `exec ${this.execId} has not started`));
    }
    this.#exit ??= this.host
      .guard(this.host.agent.waitProcess(this.containerId, this.execId), `wait for exec ${this.execId}`)
      .then((exit) => {
        if (this.#status === 'running') this.#status = nextExecStatus(this.#status, 'exit');
        return exit;
      });
    return this.#exit;
  }

  async signal(signal: number): Promise<void> {
    await this.host.guard(
      this.host.agent.signalProcess(this.containerId, this.execId, signal),
      `signal exec ${this.execId}`,
    );
  }

  async delete(): Promise<void> {
    if (this.#status === 'running')
      throw new HakoError('FAILED_PRECONDITION', `exec ${this.execId} is still running`);
    const wasStarted = this.#status === 'stopped';
    this.#status = nextExecStatus(this.#status, 'delete');
    if (wasStarted) {
      await this.host.guard(
        this.host.agent.deleteProcess(this.containerId, this.execId),
        `delete exec ${this.execId}`,
      );
    }
  }
}
