// The local terminal during `hako run -t`: raw mode while the container
// runs (restored however we exit), and its size relayed to the guest pty.
import type { ProcessIo } from '../runtime/process-io.js';

export interface TerminalSession {
  restore(): void;
}

export async function attachTerminal(io: ProcessIo, interactive: boolean): Promise<TerminalSession> {
  const stdin = process.stdin;
  const stdout = process.stdout;
  const raw = interactive && stdin.isTTY;
  if (raw) stdin.setRawMode(true);
  const resize = () => {
    if (stdout.isTTY) void io.resize(stdout.rows, stdout.columns).catch(() => undefined);
  };
  if (stdout.isTTY) {
    await io.resize(stdout.rows, stdout.columns).catch(() => undefined);
    process.on('SIGWINCH', resize);
  }
  return {
    restore() {
      process.off('SIGWINCH', resize);
      if (raw && stdin.isTTY) stdin.setRawMode(false);
    },
  };
}
