// containerd-shim-hako-v2: `start`, `delete`, or (no action) the daemon.
import { messageOf } from '../errors.js';
import { deleteAction } from './delete.js';
import { parseShimFlags } from './flags.js';
import { serve } from './serve.js';
import { start } from './start.js';

export async function shimMain(argv: readonly string[]): Promise<void> {
  try {
    const flags = parseShimFlags(argv);
    switch (flags.action) {
      case 'version':
        process.stdout.write('containerd-shim-hako-v2 0.1.0\n');
        process.exit(0);
        break;
      case 'start':
        process.stdout.write(await start(flags));
        process.exit(0);
        break;
      case 'delete':
        process.stdout.write(await deleteAction(flags));
        process.exit(0);
        break;
      case 'serve':
        await serve(flags);
        break;
    }
  } catch (e) {
    process.stderr.write(`containerd-shim-hako-v2: ${messageOf(e)}\n`);
    process.exit(1);
  }
}
