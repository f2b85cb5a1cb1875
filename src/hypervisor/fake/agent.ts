// A fake guest agent in TypeScript, serving the real agent API over ttrpc.
// Each container's init process is a script (a function of its args and
// stdin) so that tests can drive the host side without a VM. It can also be
// told to misbehave, for the tests that treat the guest as hostile.
import type { Duplex } from 'node:stream';
import { Code, TtrpcError } from '../../ttrpc/status.js';
import { TtrpcServer } from '../../ttrpc/server.js';
import { registerUnary } from '../../ttrpc/typed.js';
import { AgentService, Health, HealthCheckResponse_ServingStatus } from '../../gen/agent_pb.js';

export interface ScriptResult {
  readonly stdout?: string;
  readonly stderr?: string;
  readonly status: number;
}

/** What a fake process does: gets its args and all of its stdin. */
export type ProcessScript = (args: readonly string[], stdin: Buffer) => ScriptResult;

interface FakeProcess {
  args: string[];
  stdin: Buffer[];
  stdinClosed: boolean;
  stdout: Buffer;
  stderr: Buffer;
  exit: { status: number; signal: number } | undefined;
  waiters: (() => void)[];
}

export interface FakeAgentOptions {
  readonly script?: ProcessScript;
  /** Reply to ReadStdout with more bytes than asked (a hostile guest). */
  readonly oversizedReads?: boolean;
  /** Exit status WaitProcess reports instead of the real one (a hostile guest). */
  readonly bogusExitStatus?: number;
  /** The stream id PortConnect answers (a hostile guest's, when not digits). */
  readonly portStreamId?: string;
  /**
   * Answers each GetOOMEvent at once with this id (a hostile guest that
   * floods OOM events); without it, GetOOMEvent waits for good.
   */
  readonly oomFlood?: () => string;
  /** Called as each container is created (tests change the world at that moment). */
  readonly onCreateContainer?: (id: string) => void;
}

const echo: ProcessScript = (args, stdin) => ({
  stdout: args.join(' ') + '\n' + stdin.toString(),
  status: 0,
});

export class FakeAgent {
  readonly server = new TtrpcServer();
  readonly calls: string[] = [];
  readonly #containers = new Map<string, { started: boolean; init: FakeProcess }>();
  #sandbox = false;

  constructor(private readonly opts: FakeAgentOptions = {}) {
    const s = this.server;
    registerUnary(s, Health.method.check, async () => {
      this.calls.push('Check');
      return { status: HealthCheckResponse_ServingStatus.SERVING };
    });
    registerUnary(s, Health.method.version, async () => ({ agentVersion: 'fake', grpcVersion: 'ttrpc' }));
    registerUnary(s, AgentService.method.createSandbox, async () => {
      this.calls.push('CreateSandbox');
      if (this.#sandbox) throw new TtrpcError(Code.ALREADY_EXISTS, 'sandbox exists');
      this.#sandbox = true;
      return {};
    });
    registerUnary(s, AgentService.method.destroySandbox, async () => {
      this.calls.push('DestroySandbox');
      this.#containers.clear();
      return {};
    });
    registerUnary(s, AgentService.method.createContainer, async (r) => {
      this.calls.push('CreateContainer');
      const spec = JSON.parse(new TextDecoder().decode(r.ociSpecJson)) as { process?: { args?: string[] } };
      const args = spec.process?.args ?? [];
      if (args[0] === 'missing-command') {
        throw Object.assign(new TtrpcError(Code.NOT_FOUND, `executable file \`${args[0]}\` not found`), {});
      }
      const init: FakeProcess = {
        args,
        stdin: [],
        stdinClosed: false,
        stdout: Buffer.alloc(0),
        stderr: Buffer.alloc(0),
        exit: undefined,
        waiters: [],
      };
      this.#containers.set(r.containerId, { started: r.start, init });
      this.opts.onCreateContainer?.(r.containerId);
      if (r.start) this.#maybeRun(init);
      return { pid: 100 + this.#containers.size };
    });
    registerUnary(s, AgentService.method.startContainer, async (r) => {
      this.calls.push('StartContainer');
      const c = this.#get(r.containerId);
      c.started = true;
      this.#maybeRun(c.init);
      return {};
    });
    registerUnary(s, AgentService.method.removeContainer, async (r) => {
      this.calls.push('RemoveContainer');
      this.#get(r.containerId);
      this.#containers.delete(r.containerId);
      return {};
    });
    registerUnary(s, AgentService.method.onlineCpuMem, async (r) => {
      this.calls.push(`OnlineCpuMem:${r.cpus}:${r.memoryMib}`);
      return { cpus: r.cpus, memoryMib: r.memoryMib };
    });
    registerUnary(s, AgentService.method.portConnect, async (r) => {
      this.calls.push(`PortConnect:${r.port}`);
      return { streamId: this.opts.portStreamId ?? '1' };
    });
    registerUnary(s, AgentService.method.updateContainer, async (r) => {
      this.calls.push('UpdateContainer');
      this.#get(r.containerId);
      return {};
    });
    registerUnary(s, AgentService.method.signalProcess, async (r) => {
      this.calls.push(`SignalProcess:${r.signal}`);
      const p = this.#get(r.containerId).init;
      if (p.exit) throw new TtrpcError(Code.NOT_FOUND, 'process already finished');
      this.#finish(p, { status: 128 + r.signal, signal: r.signal });
      return {};
    });
    registerUnary(s, AgentService.method.waitProcess, async (r) => {
      const p = this.#get(r.containerId).init;
      if (!p.exit) await new Promise<void>((resolve) => p.waiters.push(resolve));
      const exit = p.exit ?? { status: 255, signal: 0 };
      return this.opts.bogusExitStatus !== undefined
        ? { status: this.opts.bogusExitStatus, signal: 0 }
        : exit;
    });
    registerUnary(s, AgentService.method.writeStdin, async (r) => {
      const p = this.#get(r.containerId).init;
      if (p.stdinClosed) throw new TtrpcError(Code.FAILED_PRECONDITION, 'stdin is closed');
      p.stdin.push(Buffer.from(r.data));
      return { len: r.data.length };
    });
    registerUnary(s, AgentService.method.closeStdin, async (r) => {
      const c = this.#get(r.containerId);
      c.init.stdinClosed = true;
      if (c.started) this.#maybeRun(c.init);
      return {};
    });
    registerUnary(s, AgentService.method.getOOMEvent, async () => {
      this.calls.push('GetOOMEvent');
      const flood = this.opts.oomFlood;
      if (!flood) await new Promise<never>(() => undefined);
      return { containerId: flood?.() ?? '' };
    });
    for (const [method, which] of [
      [AgentService.method.readStdout, 'stdout'],
      [AgentService.method.readStderr, 'stderr'],
    ] as const) {
      registerUnary(s, method, async (r) => {
        const p = this.#get(r.containerId).init;
        while (p[which].length === 0 && !p.exit)
          await new Promise<void>((resolve) => p.waiters.push(resolve));
        const n = this.opts.oversizedReads ? p[which].length + 10 : Math.min(r.len, p[which].length);
        const data = this.opts.oversizedReads ? Buffer.alloc(n, 1) : p[which].subarray(0, n);
        p[which] = p[which].subarray(Math.min(n, p[which].length));
        return { data };
      });
    }
  }

  serve(socket: Duplex): void {
    this.server.serve(socket);
  }

  #get(id: string) {
    const c = this.#containers.get(id);
    if (!c) throw new TtrpcError(Code.NOT_FOUND, `container ${id} not found`);
    return c;
  }

  /** Runs the script once stdin is closed (the fake's processes read all input first). */
  #maybeRun(p: FakeProcess): void {
    if (p.exit || !p.stdinClosed) return;
    const result = (this.opts.script ?? echo)(p.args, Buffer.concat(p.stdin));
    p.stdout = Buffer.from(result.stdout ?? '');
    p.stderr = Buffer.from(result.stderr ?? '');
    this.#finish(p, { status: result.status, signal: 0 });
  }

  #finish(p: FakeProcess, exit: { status: number; signal: number }): void {
    p.exit = exit;
    for (const w of p.waiters.splice(0)) w();
  }
}
