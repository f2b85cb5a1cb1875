// Waiting for a daemon's file (a socket, a marker) to appear: polled, as
// nothing tells us when another process creates a file, and given up when
// the daemon ends first or the deadline passes.
import { access } from 'node:fs/promises';

export type Appearance = 'appeared' | 'ended' | 'timeout';

/** Polls for `path` every 2 ms until it exists, `ended` settles, or `deadline` (epoch ms) passes. */
export async function pathAppears(
  path: string,
  deadline: number,
  ended?: Promise<unknown>,
): Promise<Appearance> {
  let over = false;
  void ended?.then(
    () => (over = true),
    () => (over = true),
  );
  for (;;) {
    if (over) return 'ended';
    if (
      await access(path).then(
        () => true,
        () => false,
      )
    )
      return 'appeared';
    if (Date.now() > deadline) return 'timeout';
    await new Promise((r) => setTimeout(r, 2));
  }
}
