// The host side of a container terminal for the runc-style CLI: the
// console-bridge helper (tools/console-bridge, Rust) allocates a host pty,
// hands its master to the caller's console socket with SCM_RIGHTS (which
// Node cannot send) and bridges the pty's slave to pipes, reporting size
// changes on fd 3. See docs/design/oci-cli.md.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { HakoError } from '../errors.js';
import { repoDir } from '../home.js';

export interface ConsoleBridge {
  /** What the container prints, for the caller's terminal. */
  readonly toTerminal: Writable;
  /** What is typed on the caller's terminal, for the container. */
  readonly fromTerminal: Readable;
  onResize(listener: (rows: number, cols: number) => void): void;
  readonly child: ChildProcess;
}

export function bridgeBinary(): string {
  return join(
    repoDir(),
    'tools',
    'console-bridge',
    'target',
    'x86_64-unknown-linux-gnu',
    'release',
    'hako-console-bridge',
  );
}

export async function startConsoleBridge(consoleSocket: string): Promise<ConsoleBridge> {
  const child = spawn(bridgeBinary(), [consoleSocket], { stdio: ['pipe', 'pipe', 'pipe', 'pipe'] });
  const [toTerminal, fromTerminal, stderr, resizes] = [
    child.stdin,
    child.stdout,
    child.stderr,
    child.stdio[3],
  ];
  if (!toTerminal || !fromTerminal || !stderr || !resizes)
    throw new HakoError('INTERNAL', 'console bridge without pipes');
  let errText = '';
  stderr.on('data', (b: Buffer) => (errText += b.toString()));
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', (e) =>
      reject(new HakoError('HOST_NOT_READY', `cannot start the console bridge: ${e.message}`)),
    );
  });
  const listeners: ((rows: number, cols: number) => void)[] = [];
  let first: [number, number] | undefined;
  let buffered = '';
  let handedOver: () => void = () => undefined;
  const ok = new Promise<void>((r) => (handedOver = r));
  (resizes as Readable).on('data', (b: Buffer) => {
    buffered += b.toString();
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const text = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      if (text === 'ok') handedOver();
      const [rows, cols] = text.split(' ').map(Number);
      if (!rows || !cols) continue;
      first ??= [rows, cols];
      for (const l of listeners) l(rows, cols);
    }
  });
  const outcome = await Promise.race([
    ok.then(() => 'ok' as const),
    new Promise<number | null>((r) => child.once('exit', (code) => r(code))),
  ]);
  if (outcome !== 'ok') {
    throw new HakoError(
      'INVALID_ARGUMENT',
      `console socket ${consoleSocket}: ${errText.trim() || `bridge exited ${outcome}`}`,
    );
  }
  toTerminal.on('error', () => undefined);
  return {
    toTerminal,
    fromTerminal,
    child,
    onResize(listener) {
      listeners.push(listener);
      if (first) listener(first[0], first[1]);
    },
  };
}
