// One entry point for the two executables built from this code: `hako` and
// `containerd-shim-hako-v2` (chosen by the name the wrapper script passes).
import { basename } from 'node:path';
import { main } from './cli/main.js';
import { shimMain } from './shim/main.js';

export async function runEntry(argv: readonly string[]): Promise<void> {
  if (basename(argv[1] ?? '') === 'containerd-shim-hako-v2') await shimMain(argv.slice(2));
  else await main(argv);
}
