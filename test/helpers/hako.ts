// Runs the real `hako` CLI in a private state directory and checks that a
// test left nothing behind: no process naming that directory, no mount
// under it, no sandbox state in it.
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { HAKO } from './paths.js';

export interface HakoResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: Buffer;
  readonly stderr: string;
}

export interface HakoRun {
  readonly pid: number;
  readonly result: Promise<HakoResult>;
  kill(signal: NodeJS.Signals): void;
  /** Resolves once stdout contains `text`. */
  waitForOutput(text: string, timeoutMs?: number): Promise<void>;
}

/** A private state directory for one test (short, to keep socket paths short). */
export function privateRoot(): string {
  return mkdtempSync('/tmp/hk-');
}

/** Runs `fn` with a private state directory, then checks nothing was left in it. */
export async function inPrivateRoot(fn: (root: string) => Promise<void>): Promise<void> {
  const root = privateRoot();
  try {
    await fn(root);
  } finally {
    await assertClean(root);
  }
}

export interface HakoOptions {
  readonly input?: Buffer | string;
  readonly config?: string;
  /**
   * 'exit' for commands that leave a process holding their stdio behind
   * (runc-style create, run --detach, exec --detach): do not wait for EOF.
   */
  readonly until?: 'close' | 'exit';
  /** Extra environment. */
  readonly env?: Readonly<Record<string, string>>;
}

export function startHako(root: string, args: readonly string[], opts: HakoOptions = {}): HakoRun {
  const global = ['--root', root, ...(opts.config ? ['--config', opts.config] : [])];
  const child = spawn(HAKO, [...global, ...args], {
    stdio: ['pipe', 'pipe', 'pipe'],
    ...(opts.env ? { env: { ...process.env, ...opts.env } } : {}),
  });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const listeners: (() => void)[] = [];
  child.stdout.on('data', (b: Buffer) => {
    out.push(b);
    for (const l of listeners) l();
  });
  child.stderr.on('data', (b: Buffer) => err.push(b));
  child.stdin.on('error', () => undefined);
  if (opts.input !== undefined) child.stdin.end(opts.input);
  else child.stdin.end();
  const result = new Promise<HakoResult>((resolve) =>
    child.on(opts.until ?? 'close', (code: number | null, signal: NodeJS.Signals | null) => {
      // After 'exit', let already-written output arrive, then let go of the pipes.
      setTimeout(
        () => {
          resolve({ code, signal, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString() });
          if (opts.until === 'exit') {
            child.stdout.destroy();
            child.stderr.destroy();
          }
        },
        opts.until === 'exit' ? 50 : 0,
      );
    }),
  );
  return {
    pid: child.pid ?? -1,
    result,
    kill: (s) => child.kill(s),
    waitForOutput(text, timeoutMs = 60_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no "${text}" within ${timeoutMs} ms`)), timeoutMs);
        const check = () => {
          if (Buffer.concat(out).toString().includes(text)) {
            clearTimeout(timer);
            resolve();
          }
        };
        listeners.push(check);
        check();
      });
    },
  };
}

export function runHako(root: string, args: readonly string[], opts: HakoOptions = {}) {
  return startHako(root, args, opts).result;
}

/** Live processes (other than ours) whose command line mentions `dir`, with their argv, by pid. */
export async function commandsNaming(dir: string): Promise<{ pid: number; argv: string[] }[]> {
  const found: { pid: number; argv: string[] }[] = [];
  for (const name of await readdir('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
    if (cmdline.includes(dir) && !/\) Z /.test(stat)) found.push({ pid, argv: cmdline.split('\0') });
  }
  return found.sort((a, b) => a.pid - b.pid);
}

/** Pids of live processes naming `dir` whose command line also has `word` (qemu-system, a shim's name…). */
export async function pidsWith(dir: string, word: string): Promise<number[]> {
  return (await commandsNaming(dir)).filter((p) => p.argv.join(' ').includes(word)).map((p) => p.pid);
}

/** Pids (other than ours) whose command line mentions `dir`. */
export async function processesNaming(dir: string): Promise<number[]> {
  return (await commandsNaming(dir)).map((p) => p.pid);
}

export async function mountsUnder(dir: string): Promise<string[]> {
  const text = await readFile('/proc/self/mountinfo', 'utf8');
  return text
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .filter((p) => p.startsWith(dir));
}

/** What a state root keeps when it holds no sandbox: its marker, and the shim's socket directory. */
export const ROOT_ENTRIES = ['.hako-state-root', '.s'];

/** Asserts that nothing of any sandbox under `root` remains, then removes `root`. */
export async function assertClean(root: string): Promise<void> {
  // Processes may take a moment to be reaped after their parent exits.
  let procs: number[] = [];
  for (let i = 0; i < 50; i++) {
    procs = await processesNaming(root);
    if (procs.length === 0) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.deepEqual(procs, [], `processes of ${root} remain`);
  assert.deepEqual(await mountsUnder(root), [], `mounts under ${root} remain`);
  const left = (await readdir(root).catch(() => [] as string[])).filter((e) => !ROOT_ENTRIES.includes(e));
  assert.deepEqual(left, [], `state left in ${root}`);
  await rm(root, { recursive: true, force: true });
}

export function exitOf(r: HakoResult): number {
  assert.equal(r.signal, null, `hako was killed by ${String(r.signal)}: ${r.stderr}`);
  return r.code ?? -1;
}

export const tmpFile = (root: string, name: string) => join(root, name);
