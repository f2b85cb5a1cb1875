// runc-style `hako run [--bundle B] [--detach] [--keep] [--pid-file P]
// [--console-socket S] <id>`: create and start; in the foreground, forward
// the signals we get to the container, wait for it, delete it (unless
// --keep, as runc) and exit with its status.
import type { OciContext } from '../context.js';
import { createContainer, type CreateOptions } from './create.js';
import { deleteCommand } from './delete.js';
import { startCommand } from './start.js';

/** What a foreground run passes on to the container (the relay forwards them). */
const FORWARDED: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];

export async function runcRunCommand(
  ctx: OciContext,
  id: string,
  o: CreateOptions & { detach: boolean; keep?: boolean },
): Promise<number> {
  const relay = await createContainer(ctx, id, o);
  const exited = new Promise<number>((r) =>
    relay.once('exit', (code, signal) => r(code ?? (signal ? 128 : 1))),
  );
  if (o.detach) {
    await startOrKill(ctx, id, relay);
    relay.unref();
    return 0;
  }
  const forward = (s: NodeJS.Signals) => void relay.kill(s);
  for (const s of FORWARDED) process.on(s, forward);
  try {
    await startOrKill(ctx, id, relay);
    const status = await exited;
    if (!o.keep) await deleteCommand(ctx, id, true);
    return status;
  } finally {
    for (const s of FORWARDED) process.off(s, forward);
  }
}

async function startOrKill(ctx: OciContext, id: string, relay: { kill(s: NodeJS.Signals): boolean }) {
  try {
    await startCommand(ctx, id);
  } catch (e) {
    relay.kill('SIGKILL');
    throw e;
  }
}
