// Connects a guest process's stdio to this process's own (the descriptors
// the caller gave to `create`/`exec`), or to a terminal handed over on a
// console socket. Resolves once the process's output has been relayed.
import { messageOf } from '../errors.js';
import type { Logger } from '../log.js';
import type { ProcessIo } from '../runtime/process-io.js';
import type { Writable } from 'node:stream';
import { startConsoleBridge } from './console.js';
import type { CallerOutputs } from './spawn-helper.js';

export interface Attached {
  readonly output: Promise<void>;
  close(): void;
}

export async function attachStdio(
  io: ProcessIo,
  consoleSocket: string | undefined,
  log: Logger,
  outputs: () => CallerOutputs,
): Promise<Attached> {
  const warn = (what: string) => (e: unknown) => log.log('debug', `${what}: ${messageOf(e)}`);
  if (consoleSocket !== undefined) {
    const bridge = await startConsoleBridge(consoleSocket);
    bridge.onResize((rows, cols) => void io.resize(rows, cols).catch(warn('resize')));
    io.pipeInput(bridge.fromTerminal).catch(warn('terminal input'));
    const output = io.pipeOutput('stdout', bridge.toTerminal).then(() => {
      bridge.toTerminal.end();
    });
    return { output, close: () => bridge.child.kill('SIGTERM') };
  }
  io.pipeInput(process.stdin).catch(warn('stdin'));
  const out = outputs();
  // Each of the caller's streams is closed as soon as no process in the
  // guest holds its end: the caller then sees EOF, as with runc.
  const relay = (which: 'stdout' | 'stderr', sink: Writable) =>
    io.pipeOutput(which, sink).finally(() => {
      if (out.closeAtEnd) sink.end();
    });
  const output = Promise.all([relay('stdout', out.stdout), relay('stderr', out.stderr)]).then(
    () => undefined,
  );
  return { output, close: () => process.stdin.destroy() };
}
