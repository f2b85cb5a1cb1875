// Where this installation lives: the source tree holding bin/hako, the
// built helpers and the guest image recipes.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** $HAKO_HOME (set by bin/hako), else the tree this module was compiled into (dist/src/..). */
export function repoDir(): string {
  const home = process.env['HAKO_HOME'];
  if (home) return home;
  return join(dirname(fileURLToPath(import.meta.url)), '..', '..');
}

/** The Rust host helper (tools/host-helper): confined file operations and process starts. */
export function helperBinary(): string {
  return join(
    repoDir(),
    'tools',
    'host-helper',
    'target',
    'x86_64-unknown-linux-gnu',
    'release',
    'hako-host-helper',
  );
}
