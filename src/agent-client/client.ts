// The host side of the agent API (proto/agent.proto). Every reply is
// checked: the guest is untrusted, so a read may not return more than was
// asked, a write may not claim more than was sent, and an exit status must
// be a real one.
import type { PodNetwork } from '../network/pod-network.js';
import type { ExtraFd } from '../runtime/process-io.js';
import type { DescMessage, DescMethodUnary, MessageInitShape, MessageShape } from '@bufbuild/protobuf';
import { HakoError } from '../errors.js';
import {
  AgentService,
  Health,
  HealthCheckResponse_ServingStatus,
  type CgroupStats,
  type Storage,
  type StorageSchema,
} from '../gen/agent_pb.js';
import type { TtrpcClient } from '../ttrpc/client.js';
import { callUnary } from '../ttrpc/typed.js';
import { agentError } from './errors.js';

/** Most bytes asked for in one ReadStdout/ReadStderr (the agent's limit). */
export const MAX_READ = 1 << 20;
/** The container id under which port streams (portConnect) are read and written. */
export const PORT_STREAMS = '';
/** Most bytes sent in one WriteStdin (the agent's limit). */
export const MAX_WRITE = 1 << 20;

export interface ProcessExit {
  /** Exit code, or 128 + signal. */
  readonly status: number;
  /** The killing signal, 0 for a normal exit. */
  readonly signal: number;
}

export type StorageInit = MessageInitShape<typeof StorageSchema>;
/** stdout, stderr, or an extra descriptor (3 or more) the process writes. */
export type OutputStream = 'stdout' | 'stderr' | number;

function checkPid(method: string, pid: number): number {
  if (!Number.isInteger(pid) || pid <= 0)
    throw new HakoError('AGENT_PROTOCOL', `agent ${method}: invalid pid ${pid}`);
  return pid;
}

/** Extra descriptors as the request carries them. */
const wire = (fds: readonly ExtraFd[] = []) => fds.map((f) => ({ output: f.output }));

export class AgentClient {
  readonly #ttrpc: TtrpcClient;
  readonly #timeoutMs: number;

  constructor(ttrpc: TtrpcClient, opts: { requestTimeoutMs: number }) {
    this.#ttrpc = ttrpc;
    this.#timeoutMs = opts.requestTimeoutMs;
  }

  get connection(): TtrpcClient {
    return this.#ttrpc;
  }

  /** `timeoutMs` null: no deadline (long-polls: waits and reads). */
  async #call<I extends DescMessage, O extends DescMessage>(
    method: DescMethodUnary<I, O>,
    input: MessageInitShape<I>,
    timeoutMs: number | null = this.#timeoutMs,
  ): Promise<MessageShape<O>> {
    try {
      return await callUnary(this.#ttrpc, method, input, timeoutMs === null ? {} : { timeoutMs });
    } catch (e) {
      throw agentError(method.name, e);
    }
  }

  async check(timeoutMs?: number): Promise<void> {
    const r = await this.#call(Health.method.check, {}, timeoutMs ?? this.#timeoutMs);
    if (r.status !== HealthCheckResponse_ServingStatus.SERVING) {
      throw new HakoError('AGENT_ERROR', `agent is not serving (status ${r.status})`);
    }
  }

  async version(): Promise<string> {
    return (await this.#call(Health.method.version, {})).agentVersion.slice(0, 64);
  }

  async createSandbox(req: {
    sandboxId: string;
    hostname: string;
    storages: StorageInit[];
    hostTimeUnixNano: bigint;
  }): Promise<void> {
    await this.#call(AgentService.method.createSandbox, req);
  }

  async destroySandbox(timeoutMs?: number): Promise<void> {
    await this.#call(AgentService.method.destroySandbox, {}, timeoutMs ?? this.#timeoutMs);
  }

  async createContainer(req: {
    containerId: string;
    ociSpecJson: Uint8Array;
    rootfsPath: string;
    storages: StorageInit[];
    /** Start the process at once (one crun invocation instead of two). */
    start?: boolean;
    /** Descriptors beyond stdio, at 3, 4, ...: whether the process writes each. */
    extraFds?: readonly ExtraFd[];
  }): Promise<number> {
    const { extraFds, ...rest } = req;
    const r = await this.#call(AgentService.method.createContainer, { ...rest, extraFds: wire(extraFds) });
    return checkPid('CreateContainer', r.pid);
  }

  /** Configures the guest's network: the pod's, read from its namespace. */
  async updateNetwork(net: PodNetwork): Promise<void> {
    await this.#call(AgentService.method.updateNetwork, {
      interfaces: net.interfaces.map((i) => ({
        mac: i.mac,
        name: i.name,
        mtu: i.mtu,
        addresses: i.addresses.map((a) => ({ address: a.address, prefixLen: a.prefixLen })),
      })),
      routes: net.routes.map((r) => ({
        ...(r.destination
          ? { destination: { address: r.destination.address, prefixLen: r.destination.prefixLen } }
          : {}),
        gateway: r.gateway ?? '',
        device: r.device,
        source: r.source ?? '',
        scope: r.scope,
        ipv6: r.ipv6,
      })),
      neighbors: net.neighbors.map((n) => ({ address: n.address, mac: n.mac, device: n.device })),
    });
  }

  async startContainer(containerId: string): Promise<void> {
    await this.#call(AgentService.method.startContainer, { containerId });
  }

  async removeContainer(containerId: string, timeoutSeconds = 0): Promise<void> {
    const budget = this.#timeoutMs + timeoutSeconds * 1000;
    await this.#call(AgentService.method.removeContainer, { containerId, timeout: timeoutSeconds }, budget);
  }

  /** Starts an extra process in a running container; returns its guest pid. */
  async execProcess(
    containerId: string,
    execId: string,
    processJson: Uint8Array,
    extraFds: readonly ExtraFd[] = [],
  ): Promise<number> {
    return checkPid(
      'ExecProcess',
      (
        await this.#call(AgentService.method.execProcess, {
          containerId,
          execId,
          processJson,
          extraFds: wire(extraFds),
        })
      ).pid,
    );
  }

  async signalProcess(containerId: string, execId: string, signal: number, all = false): Promise<void> {
    await this.#call(AgentService.method.signalProcess, { containerId, execId, signal, all });
  }

  /** Blocks until the process exits (no timeout). */
  async waitProcess(containerId: string, execId: string): Promise<ProcessExit> {
    const r = await this.#call(AgentService.method.waitProcess, { containerId, execId }, null);
    const validSignal = r.signal >= 0 && r.signal <= 64;
    const validStatus = r.status >= 0 && r.status <= 255 && (r.signal === 0 || r.status === 128 + r.signal);
    if (!validSignal || !validStatus) {
      throw new HakoError(
        'AGENT_PROTOCOL',
        `agent WaitProcess: impossible exit status ${r.status} (signal ${r.signal})`,
      );
    }
    return { status: r.status, signal: r.signal };
  }

  /** Long-polls for output; an empty result means end of stream. */
  async read(which: OutputStream, containerId: string, execId: string, len = MAX_READ): Promise<Uint8Array> {
    const method = which === 'stderr' ? AgentService.method.readStderr : AgentService.method.readStdout;
    const fd = typeof which === 'number' ? which : 0;
    const r = await this.#call(method, { containerId, execId, len, fd }, null);
    if (r.data.length > len) {
      throw new HakoError(
        'AGENT_PROTOCOL',
        `agent ${method.name}: sent ${r.data.length} bytes, ${len} were asked`,
      );
    }
    return r.data;
  }

  /** Writes to stdin (`fd` 0) or to an extra descriptor the process reads. */
  async writeStdin(containerId: string, execId: string, data: Uint8Array, fd = 0): Promise<number> {
    if (data.length > MAX_WRITE)
      throw new RangeError(`stdin chunk of ${data.length} bytes is over ${MAX_WRITE}`);
    const r = await this.#call(AgentService.method.writeStdin, { containerId, execId, data, fd }, null);
    if (r.len > data.length) {
      throw new HakoError(
        'AGENT_PROTOCOL',
        `agent WriteStdin: claims ${r.len} bytes written of ${data.length}`,
      );
    }
    return r.len;
  }

  async closeStdin(containerId: string, execId: string, fd = 0): Promise<void> {
    await this.#call(AgentService.method.closeStdin, { containerId, execId, fd });
  }

  /** The host no longer reads `which`: the process's next write to it fails (EPIPE). */
  async closeOutput(containerId: string, execId: string, which: OutputStream): Promise<void> {
    const fd = typeof which === 'number' ? which : 0;
    await this.#call(AgentService.method.closeOutput, {
      containerId,
      execId,
      stderr: which === 'stderr',
      fd,
    });
  }

  async resizeTty(containerId: string, execId: string, rows: number, columns: number): Promise<void> {
    await this.#call(AgentService.method.ttyWinResize, { containerId, execId, row: rows, column: columns });
  }

  async pauseContainer(containerId: string): Promise<void> {
    await this.#call(AgentService.method.pauseContainer, { containerId });
  }

  async resumeContainer(containerId: string): Promise<void> {
    await this.#call(AgentService.method.resumeContainer, { containerId });
  }

  async updateContainer(containerId: string, resourcesJson: Uint8Array): Promise<void> {
    await this.#call(AgentService.method.updateContainer, { containerId, resourcesJson });
  }

  async statsContainer(containerId: string): Promise<CgroupStats> {
    const r = await this.#call(AgentService.method.statsContainer, { containerId });
    if (!r.cgroup) throw new HakoError('AGENT_PROTOCOL', 'agent StatsContainer: reply without statistics');
    return r.cgroup;
  }

  /** Processes of a container: guest pid and, for execs Hako started, their exec id. */
  async listProcesses(containerId: string): Promise<{ pid: number; execId: string }[]> {
    const r = await this.#call(AgentService.method.listProcesses, { containerId });
    if (r.processes.length > 65536)
      throw new HakoError('AGENT_PROTOCOL', 'agent ListProcesses: too many processes');
    return r.processes.map((p) => ({
      pid: checkPid('ListProcesses', p.pid),
      execId: p.execId.slice(0, 128),
    }));
  }

  async deleteProcess(containerId: string, execId: string): Promise<void> {
    await this.#call(AgentService.method.deleteProcess, { containerId, execId });
  }

  /**
   * Has the guest bring hot-plugged CPUs and memory online, waiting up to
   * `timeoutMs` for `want`; what is online then (the guest's word: clamped).
   */
  async onlineCpuMem(
    want: { vcpus: number; memoryMiB: number },
    timeoutMs: number,
  ): Promise<{ vcpus: number; memoryMiB: number }> {
    const r = await this.#call(AgentService.method.onlineCpuMem, {
      cpus: want.vcpus,
      memoryMib: BigInt(want.memoryMiB),
      timeoutMs,
    });
    return {
      vcpus: Math.min(r.cpus, 4096),
      memoryMiB: Number(r.memoryMib > 1n << 40n ? 1n << 40n : r.memoryMib),
    };
  }

  /**
   * Connects to `port` on the guest's loopback; the port stream's id, which
   * read, writeStdin, closeStdin and closeOutput take as the exec id of the
   * container PORT_STREAMS. FAILED_PRECONDITION when nothing listens there.
   */
  async portConnect(port: number): Promise<string> {
    const { streamId } = await this.#call(AgentService.method.portConnect, { port });
    if (!/^\d{1,20}$/.test(streamId))
      throw new HakoError('AGENT_PROTOCOL', 'agent PortConnect: invalid stream id');
    return streamId;
  }

  /** Frees a port stream (its connection closes). */
  async portClose(streamId: string): Promise<void> {
    await this.#call(AgentService.method.portClose, { streamId });
  }

  /** Blocks until the guest kills a container for memory; returns its id. */
  async nextOomEvent(): Promise<string> {
    return (await this.#call(AgentService.method.getOOMEvent, {}, null)).containerId;
  }

  /** The agent's and the guest's own figures (name → value). */
  async metrics(): Promise<Map<string, number>> {
    const text = (await this.#call(AgentService.method.getMetrics, {})).metrics.slice(0, 65536);
    const out = new Map<string, number>();
    for (const line of text.split('\n')) {
      const [name, value] = line.split(' ');
      if (name && value !== undefined && /^[a-z_]+$/.test(name) && Number.isFinite(Number(value)))
        out.set(name, Number(value));
    }
    return out;
  }

  close(): void {
    this.#ttrpc.close();
  }
}

export type { CgroupStats, Storage };
