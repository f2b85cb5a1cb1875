// Child processes, behind a port so that the runtime can be tested with a
// fake. `dieWithParent` ties a child's life to ours (PR_SET_PDEATHSIG via
// util-linux setpriv): if the hako process is killed, its VM goes too.
// Every child starts in a session (and process group) of its own: a
// terminal's Ctrl-C, `timeout`'s group signal or a closed terminal's SIGHUP
// reach `hako` only, which relays them to the container, never the VM.
import { spawn } from 'node:child_process';
import type { Readable } from 'node:stream';
import { HakoError } from '../errors.js';
import { CappedLog } from './capped-log.js';

export interface SpawnOptions {
  readonly argv: readonly string[];
  /**
   * stderr (and stdout, unless `stdoutLog`) of the child go to this file,
   * appended, through us: at most `maxLogBytes` of it (a guest can make its
   * VMM or shared-fs daemon print without end, onto a tmpfs).
   */
  readonly logFile?: string;
  /** stdout to a file of its own (a guest console), under the same bound. */
  readonly stdoutLog?: string;
  readonly maxLogBytes?: number;
  readonly dieWithParent?: boolean;
  /** Extra environment (added to ours). */
  readonly env?: Readonly<Record<string, string>>;
  /** Called whenever the child writes to stdout (a change to react to); what it wrote is dropped. */
  readonly onStdout?: () => void;
}

/** What a child may write to one log file, at most, by default. */
export const MAX_LOG_BYTES = 1 << 20;

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

/** Copies a child's output stream into its log; never keeps this process alive. */
function drain(stream: Readable | null, log: CappedLog | undefined): void {
  if (!stream || !log) return;
  log.retain();
  stream.on('data', (b: Buffer) => log.write(b));
  stream.on('error', () => undefined);
  stream.on('close', () => log.close());
  (stream as Readable & { unref?: () => void }).unref?.();
}

export class RealRunner implements Runner {
  async spawn(opts: SpawnOptions): Promise<Child> {
    const [cmd, ...args] = opts.dieWithParent
      ? ['setpriv', '--pdeathsig', 'KILL', '--', ...opts.argv]
      : opts.argv;
    if (cmd === undefined) throw new HakoError('INTERNAL', 'spawn: empty argv');
    const max = opts.maxLogBytes ?? MAX_LOG_BYTES;
    const errLog = opts.logFile !== undefined ? new CappedLog(opts.logFile, max) : undefined;
    const outLog = opts.stdoutLog !== undefined ? new CappedLog(opts.stdoutLog, max) : errLog;
    const child = spawn(cmd, args, {
      stdio: ['ignore', outLog || opts.onStdout ? 'pipe' : 'ignore', errLog ? 'pipe' : 'ignore'],
      env: opts.env ? { ...process.env, ...opts.env } : process.env,
      detached: true,
    });
    const exited = new Promise<ChildExit>((resolve) => {
      child.once('exit', (code, signal) => resolve({ code, signal }));
      child.once('error', () => resolve({ code: 127, signal: null }));
    });
    if (opts.onStdout) {
      const onStdout = opts.onStdout;
      child.stdout?.on('data', () => onStdout());
      (child.stdout as unknown as { unref?: () => void } | null)?.unref?.();
    } else drain(child.stdout, outLog);
    drain(child.stderr, errLog);
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', () => resolve());
      child.once('error', (e) =>
        reject(new HakoError('HOST_NOT_READY', `cannot start ${cmd}: ${e.message}`)),
      );
    });
    const pid = child.pid;
    if (pid === undefined) throw new HakoError('INTERNAL', `${cmd} started without a pid`);
    return { pid, exited, kill: (s) => void child.kill(s) };
  }

  run(argv: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
    const [cmd, ...args] = argv;
    if (cmd === undefined) return Promise.reject(new HakoError('INTERNAL', 'run: empty argv'));
    return new Promise((resolve, reject) => {
      const child = spawn(cmd, args, {
        stdio: [opts.input !== undefined ? 'pipe' : 'ignore', 'pipe', 'pipe'],
        timeout: opts.timeoutMs ?? 60_000,
        detached: true,
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
