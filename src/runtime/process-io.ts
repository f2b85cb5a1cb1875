// Relays a guest process's stdio: output is long-polled from the agent and
// written to host streams honouring their back-pressure; input is read from
// a host stream and written to the agent in bounded chunks, then closed.
import type { Readable, Writable } from 'node:stream';
import { MAX_WRITE, type OutputStream } from '../agent-client/client.js';
import { isHakoError } from '../errors.js';
import type { ContainerHost } from './container.js';

/** What stdio relaying needs: an agent, and a guard that explains a VM's death. */
export type IoHost = Pick<ContainerHost, 'agent' | 'guard'>;

/** Resolves when `sink` drains, fails or closes, without leaving listeners behind. */
function drained(sink: Writable): Promise<void> {
  const events = ['drain', 'close', 'error'] as const;
  return new Promise((resolve) => {
    const done = () => {
      for (const e of events) sink.off(e, done);
      resolve();
    };
    for (const e of events) sink.on(e, done);
  });
}

/** A descriptor a process gets beyond stdio, relayed as a pipe: it writes it (output), or reads it. */
export interface ExtraFd {
  readonly output: boolean;
}

/** A terminal's default VEOF character, ^D. */
const EOF_CHAR = 0x04;

export class ProcessIo {
  constructor(
    private readonly host: IoHost,
    readonly containerId: string,
    readonly execId: string,
  ) {}

  /**
   * Copies `which` to `sink` until the process's end of stream. When the
   * sink breaks (its reader went away, as `head` does), the guest closes
   * its end too: the process's next write fails with EPIPE or SIGPIPE, as
   * it would on a host, instead of writing on into a void.
   */
  async pipeOutput(which: OutputStream, sink: Writable): Promise<void> {
    let sinkBroken = false;
    const broken = () => {
      if (sinkBroken) return;
      sinkBroken = true;
      this.host.agent.closeOutput(this.containerId, this.execId, which).catch(() => undefined);
    };
    sink.on('error', broken);
    let written: Promise<void> = Promise.resolve();
    for (;;) {
      const data = await this.host.guard(
        this.host.agent.read(which, this.containerId, this.execId),
        `read ${which} of ${this.containerId}`,
      );
      if (data.length === 0) break;
      if (sink.destroyed) broken();
      // Until the guest has closed its end, what is still read goes nowhere.
      if (sinkBroken) continue;
      let more = true;
      // Called once the chunk has left the stream (or failed to).
      written = new Promise((resolve) => {
        more = sink.write(data, () => resolve());
      });
      if (!more) await drained(sink);
    }
    // Ended once all of it is where the sink writes (a file read right after
    // the exit must hold it all), not when it was handed to the stream.
    await written;
  }

  /**
   * Copies `source` to the process's stdin, then closes it. On a terminal,
   * closing the host's side is no end of input for the process: the end of
   * `source` is typed as the terminal's EOF character (^D) first.
   */
  async pipeInput(
    source: Readable,
    o: {
      readonly terminal?: boolean;
      /** An extra descriptor the process reads, instead of stdin. */ readonly fd?: number;
    } = {},
  ): Promise<void> {
    const { agent } = this.host;
    const fd = o.fd ?? 0;
    try {
      for await (const chunk of source) {
        const buf = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
        for (let off = 0; off < buf.length; off += MAX_WRITE) {
          await agent.writeStdin(this.containerId, this.execId, buf.subarray(off, off + MAX_WRITE), fd);
        }
      }
      if (o.terminal) await agent.writeStdin(this.containerId, this.execId, Buffer.from([EOF_CHAR]));
      await agent.closeStdin(this.containerId, this.execId, fd);
    } catch (e) {
      // The process stopped reading or exited: its input no longer matters.
      if (isHakoError(e, 'FAILED_PRECONDITION') || isHakoError(e, 'NOT_FOUND')) return;
      throw e;
    }
  }

  async closeInput(): Promise<void> {
    await this.host.agent.closeStdin(this.containerId, this.execId);
  }

  async resize(rows: number, columns: number): Promise<void> {
    await this.host.agent.resizeTty(this.containerId, this.execId, rows, columns);
  }
}
