// `hako kill [--all] <id> [signal]`: signals the container's process (or all of them).
import { HakoError } from '../../errors.js';
import { containerDir, containerRunDir, type OciContext } from '../context.js';
import { withAgent } from '../proxy.js';
import { requireContainer, statusOf } from '../record.js';
import { parseSignal } from '../signals.js';

export async function killCommand(
  ctx: OciContext,
  id: string,
  signal: string | undefined,
  all: boolean,
): Promise<number> {
  const sig = parseSignal(signal);
  const c = await requireContainer(containerDir(ctx, id));
  const status = await statusOf(c, ctx.procs);
  if (status === 'stopped' || status === 'creating')
    throw new HakoError('FAILED_PRECONDITION', 'container not running');
  try {
    await withAgent(containerRunDir(ctx, id), (agent) => agent.signalProcess(id, '', sig, all));
  } catch (e) {
    throw e instanceof HakoError && e.code === 'NOT_FOUND'
      ? new HakoError('FAILED_PRECONDITION', 'container not running')
      : e;
  }
  return 0;
}
