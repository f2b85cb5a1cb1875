// Child processes, behind a port so that the runtime can be tested with a
// fake. `dieWithParent` ties a child's life to ours (PR_SET_PDEATHSIG via
// util-linux setpriv): if the hako process is killed, its VM goes too.
import { spawn } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import { HakoError } from '../errors.js';

export interface SpawnOptions {
  readonly argv: readonly string[];
  /** stdout and stderr of the child go to this file (appended). */
  readonly logFile?: string;
  readonly dieWithParent?: boolean;
  /** Extra environment (added to ours). */
  readonly env?: Readonly<Record<string, string>>;
}

export interface ChildExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** "exit code N" or "killed by SIGX", for messages. */
export function describeExit(exit: { readonly code: number | null; readonly signal: string | null }): string {
  return exit.signal ? `killed by ${exit.signal}` : `exit code ${exit.code}`;
}

export interface Child {
  readonly pid: number;
  readonly exited: Promise<ChildExit>;
  kill(signal: NodeJS.Signals): void;
}

export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface Runner {
  /** Starts a long-lived process. Rejects if it cannot be started. */
  spawn(opts: SpawnOptions): Promise<Child>;
  /** Runs a command to completion, capturing its output. */
  run(argv: readonly string[], opts?: RunOptions): Promise<RunResult>;
}

export interface RunOptions {
  readonly input?: string;
  readonly timeoutMs?: number;
  readonly cwd?: string;
  /** Called with each line of stdout and stderr as it arrives. */
  readonly onLine?: (line: string) => void;
}

export class RealRunner implements Runner {
  async spawn(opts: SpawnOptions): Promise<Child> {
    const [cmd, ...args] = opts.dieWithParent
      ? ['setpriv', '--pdeathsig', 'KILL', '--', ...opts.argv]
      : opts.argv;
    if (cmd === undefined) throw new HakoError('INTERNAL', 'spawn: empty argv');
    const log = opts.logFile !== undefined ? openSync(opts.logFile, 'a') : 'ignore';
    try {
      const child = spawn(cmd, args, {
        stdio: ['ignore', log, log],
        env: opts.env ? { ...process.env, ...opts.env } : process.env,
      });
      const exited = new Promise<ChildExit>((resolve) => {
        child.once('exit', (code, signal) => resolve({ code, signal }));
        child.once('error', () => resolve({ code: 127, signal: null }));
      });
      await new Promise<void>((resolve, reject) => {
        child.once('spawn', () => resolve());
        child.once('error', (e) =>
          reject(new HakoError('HOST_NOT_READY', `cannot start ${cmd}: ${e.message}`)),
        );
      });
      const pid = child.pid;
      if (pid === undefined) throw new HakoError('INTERNAL', `${cmd} started without a pid`);
      return { pid, exited, kill: (s) => void child.kill(s) };
    } finally {
      if (typeof log === 'number') closeSync(log);
    }
  }

  run(argv: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
    const [cmd, ...args] = argv;
    if (cmd === undefined) return Promise.reject(new HakoError('INTERNAL', 'run: empty argv'));
    return new Promise((resolve, reject) => {
      const child = spawn(cmd, args, {
        stdio: [opts.input !== undefined ? 'pipe' : 'ignore', 'pipe', 'pipe'],
        timeout: opts.timeoutMs ?? 60_000,
        ...(opts.cwd !== undefined ? { cwd: opts.cwd } : {}),
      });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      const lines = (sink: Buffer[]) => {
        let partial = '';
        return (b: Buffer) => {
          sink.push(b);
          if (!opts.onLine) return;
          const text = partial + b.toString();
          const parts = text.split('\n');
          partial = parts.pop() ?? '';
          for (const l of parts) opts.onLine(l);
        };
      };
      child.stdout?.on('data', lines(out));
      child.stderr?.on('data', lines(err));
      child.once('error', (e) => reject(new HakoError('HOST_NOT_READY', `cannot run ${cmd}: ${e.message}`)));
      child.once('close', (code, signal) =>
        resolve({
          code: code ?? (signal ? 128 : 1),
          stdout: Buffer.concat(out).toString(),
          stderr: Buffer.concat(err).toString(),
        }),
      );
      if (opts.input !== undefined && child.stdin) {
        child.stdin.on('error', () => undefined);
        child.stdin.end(opts.input);
      }
    });
  }
}
