// Shared pieces of the benchmarks: timing, medians, process memory.
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] ?? NaN) : ((s[mid - 1] ?? NaN) + (s[mid] ?? NaN)) / 2;
}

/** Proportional set size of a process, in MiB (from smaps_rollup). */
export async function pssMiB(pid: number): Promise<number> {
  const text = await readFile(`/proc/${pid}/smaps_rollup`, 'utf8');
  const kb = Number(/^Pss:\s+(\d+) kB/m.exec(text)?.[1] ?? NaN);
  return kb / 1024;
}

/** Runs a command to completion; resolves with its wall time in ms. */
export function timeCommand(
  argv: readonly string[],
): Promise<{ ms: number; code: number | null; stderr: string }> {
  const [cmd, ...args] = argv;
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(cmd ?? 'false', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ ms: performance.now() - t0, code, stderr }));
  });
}

/** Runs a command with no stdio (a created container keeps what it inherits); resolves on exit. */
export function exec(argv: readonly string[]): Promise<number | null> {
  const [cmd, ...args] = argv;
  return new Promise((resolve, reject) => {
    const child = spawn(cmd ?? 'false', args, { stdio: 'ignore' });
    child.once('error', reject);
    child.once('exit', (code) => resolve(code));
  });
}

/**
 * Runs a command until a line starting with `marker` appears on its stdout;
 * returns ms, then kills it. (A kernel that logs its command line, which
 * names the marker, must not count as having run init.)
 */
export function timeUntilOutput(
  argv: readonly string[],
  marker: string,
  timeoutMs = 60_000,
): Promise<number> {
  const [cmd, ...args] = argv;
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(cmd ?? 'false', args, { stdio: ['ignore', 'pipe', 'ignore'] });
    let seen = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`no "${marker}" within ${timeoutMs} ms`));
    }, timeoutMs);
    child.stdout.on('data', (b: Buffer) => {
      seen += b.toString();
      if (seen.startsWith(marker) || seen.includes(`\n${marker}`)) {
        const ms = performance.now() - t0;
        clearTimeout(timer);
        child.kill('SIGKILL');
        child.on('close', () => resolve(ms));
      }
    });
  });
}

export function fmt(n: number, digits = 0): string {
  return n.toFixed(digits);
}
