// runc-style `hako run [--bundle B] [--detach] [--pid-file P]
// [--console-socket S] <id>`: create and start; in the foreground, wait for
// the container and exit with its status.
import type { OciContext } from '../context.js';
import { createContainer, type CreateOptions } from './create.js';
import { startCommand } from './start.js';

export async function runcRunCommand(
  ctx: OciContext,
  id: string,
  o: CreateOptions & { detach: boolean },
): Promise<number> {
  const relay = await createContainer(ctx, id, o);
  const exited = new Promise<number>((r) =>
    relay.once('exit', (code, signal) => r(code ?? (signal ? 128 : 1))),
  );
  try {
    await startCommand(ctx, id);
  } catch (e) {
    relay.kill('SIGKILL');
    throw e;
  }
  if (o.detach) {
    relay.unref();
    return 0;
  }
  return exited;
}
