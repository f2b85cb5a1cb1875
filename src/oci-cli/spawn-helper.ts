// Starts one of Hako's own helper processes (relay, exec relay): the `hako`
// executable with a hidden command, the caller's global options, the given
// stdio, and a report pipe on fd 3. Detached: it outlives the command.
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { join } from 'node:path';
import type { GlobalOptions } from '../cli/wiring.js';
import { repoDir } from '../home.js';

export function globalArgs(g: GlobalOptions, root: string): string[] {
  return [
    '--root',
    root,
    ...(g.config !== undefined ? ['--config', g.config] : []),
    ...(g.log !== undefined ? ['--log', g.log] : []),
    '--log-format',
    g.logFormat,
    ...(g.debug ? ['--debug'] : []),
  ];
}

export function spawnHelper(args: readonly string[], stdio: StdioOptions): ChildProcess {
  return spawn(join(repoDir(), 'bin', 'hako'), args, { stdio, detached: true });
}
