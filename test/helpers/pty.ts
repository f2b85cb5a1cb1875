// Runs a command on a pseudo-terminal driven step by step (helpers/pty-drive.py).
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { REPO } from './paths.js';

export type PtyStep = { expect: string } | { send: string } | { resize: [number, number] };

export function runInPty(
  steps: readonly PtyStep[],
  command: readonly string[],
): Promise<{ exit: number; output: string }> {
  const driver = join(REPO, 'test', 'helpers', 'pty-drive.py');
  return new Promise((resolve, reject) => {
    const child = spawn('python3', [driver, JSON.stringify(steps), '--', ...command], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.on('close', () => {
      try {
        resolve(JSON.parse(out) as { exit: number; output: string });
      } catch {
        reject(new Error(`pty driver printed: ${out}`));
      }
    });
  });
}
