// Test-only pause points, for the kill -9 matrix (test/e2e/kill-matrix.test.ts):
// with HAKO_TEST_PAUSE_DIR set, a process that reaches step S while the
// file <dir>/pause holds S writes <dir>/paused-S (its pid) and waits until
// the file names another step or is gone, so that a test can kill a chosen
// process at a chosen step, deterministically. Without the variable (always,
// outside tests) a pause point is one environment lookup.
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export type PauseStep =
  'template-build' | 'clone-copy' | 'fs-start' | 'vm-spawn' | 'create-sandbox' | 'first-container' | 'stop';

const POLL_MS = 20;

export async function pausePoint(step: PauseStep): Promise<void> {
  const dir = process.env['HAKO_TEST_PAUSE_DIR'];
  if (dir === undefined || dir === '') return;
  const wanted = () =>
    readFile(join(dir, 'pause'), 'utf8').then(
      (s) => s.trim() === step,
      () => false,
    );
  if (!(await wanted())) return;
  // Whole when it appears: the test reads the pid it holds at once.
  const marker = join(dir, `paused-${step}`);
  await writeFile(`${marker}.${process.pid}`, String(process.pid));
  await rename(`${marker}.${process.pid}`, marker);
  while (await wanted()) await new Promise((r) => setTimeout(r, POLL_MS));
}
