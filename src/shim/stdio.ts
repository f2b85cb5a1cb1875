// Connects a guest process's stdio to what containerd gave the task: FIFO
// paths (the common case), `file://` URIs, or nothing. Output FIFOs are
// opened read-write so that opening never blocks and writes never fail when
// the client goes away, and closed once the output ended, so that the client
// sees EOF; stdin is held open by a writer of our own until CloseIO, so the
// process sees EOF only when the client really ends it.
import { close as closeFd, constants, createWriteStream, open as openFd } from 'node:fs';
import { promisify } from 'node:util';
import { Socket } from 'node:net';
import { Writable, type Readable } from 'node:stream';
import { HakoError, messageOf } from '../errors.js';
import type { Logger } from '../log.js';
import type { ProcessIo } from '../runtime/process-io.js';

export interface StdioPaths {
  readonly stdin: string;
  readonly stdout: string;
  readonly stderr: string;
  readonly terminal: boolean;
}

/** A sink that drops everything (a stream nobody asked for must still be drained). */
function discard(): Writable {
  return new Writable({ write: (_chunk, _enc, cb) => cb() });
}

const openAsync = promisify(openFd);

/** An output FIFO, opened read-write (never blocks), as a stream that owns the descriptor. */
async function fifoWriter(path: string): Promise<Socket> {
  const fd = await openAsync(path, constants.O_RDWR | constants.O_NONBLOCK);
  return new Socket({ fd, readable: false, writable: true });
}

async function openOutput(uri: string): Promise<Writable> {
  if (uri === '') return discard();
  if (uri.startsWith('file://')) return createWriteStream(uri.slice('file://'.length), { flags: 'a' });
  if (/^[a-z]+:\/\//.test(uri) && !uri.startsWith('fifo://')) {
    throw new HakoError('INVALID_ARGUMENT', `stdio URI ${uri} is not supported (FIFO paths and file:// are)`);
  }
  return fifoWriter(uri.replace(/^fifo:\/\//, ''));
}

export class StdioRelay {
  #stdin: Readable | undefined;
  #stdinKeeper: number | undefined;
  #outputs: { stdout: Writable; stderr: Writable } | undefined;

  private constructor(
    readonly paths: StdioPaths,
    private readonly log: Logger,
  ) {}

  static async open(paths: StdioPaths, log: Logger): Promise<StdioRelay> {
    const r = new StdioRelay(paths, log);
    try {
      const stdout = await openOutput(paths.stdout);
      r.#outputs = { stdout, stderr: discard() };
      // With a terminal, stderr is already in the terminal's output. Both
      // streams may go to one place (`2>&1`): one sink then takes both.
      if (!paths.terminal && paths.stderr !== '') {
        const stderr = paths.stderr === paths.stdout ? stdout : await openOutput(paths.stderr);
        r.#outputs = { stdout, stderr };
      }
      if (paths.stdin !== '') {
        // Our writer is opened before the reader starts reading: a FIFO with
        // no writer reads as EOF, the reader's stream would end and close,
        // and the writer's open would then fail (ENXIO: no reader).
        const reader = await openAsync(paths.stdin, constants.O_RDONLY | constants.O_NONBLOCK);
        r.#stdinKeeper = await openAsync(paths.stdin, constants.O_WRONLY | constants.O_NONBLOCK).catch(
          (e: unknown) => {
            closeFd(reader, () => undefined);
            throw e;
          },
        );
        r.#stdin = new Socket({ fd: reader, readable: true, writable: false });
      }
      return r;
    } catch (e) {
      await r.close();
      throw e instanceof HakoError
        ? e
        : new HakoError('INVALID_ARGUMENT', `cannot open task stdio: ${messageOf(e)}`, { cause: e });
    }
  }

  /** Starts relaying; resolves when the process's output has ended. */
  attach(io: ProcessIo): Promise<void> {
    const outputs = this.#outputs;
    if (!outputs) return Promise.resolve();
    const input = this.#stdin ? io.pipeInput(this.#stdin) : io.closeInput();
    input.catch((e: unknown) => this.log.log('debug', `stdin of ${io.containerId}: ${messageOf(e)}`));
    const streams = [io.pipeOutput('stdout', outputs.stdout)];
    if (!this.paths.terminal) streams.push(io.pipeOutput('stderr', outputs.stderr));
    // Once the process's output has ended and is written, our ends close: a
    // client reading the FIFOs (CRI's ExecSync waits for that) sees EOF.
    return Promise.all(streams).then(() => {
      for (const s of new Set([outputs.stdout, outputs.stderr])) s.destroy();
    });
  }

  /** CloseIO: the client is done writing stdin. */
  closeStdin(): Promise<void> {
    const keeper = this.#stdinKeeper;
    this.#stdinKeeper = undefined;
    if (keeper === undefined) return Promise.resolve();
    return new Promise((resolve) => closeFd(keeper, () => resolve()));
  }

  async close(): Promise<void> {
    this.#stdin?.destroy();
    for (const s of new Set(Object.values(this.#outputs ?? {}))) s.destroy();
    await this.closeStdin();
  }
}
