// `hako pause <id>` and `hako resume <id>`: freeze and thaw the container in the guest.
import { HakoError } from '../../errors.js';
import { containerDir, containerRunDir, type OciContext } from '../context.js';
import { withAgent } from '../proxy.js';
import { markPaused, requireContainer, statusOf } from '../record.js';

export async function pauseCommand(ctx: OciContext, id: string, pause: boolean): Promise<number> {
  const c = await requireContainer(containerDir(ctx, id));
  const status = await statusOf(c, ctx.procs);
  if (pause && status !== 'running') throw new HakoError('FAILED_PRECONDITION', 'container not running');
  if (!pause && status !== 'paused') throw new HakoError('FAILED_PRECONDITION', 'container not paused');
  await withAgent(containerRunDir(ctx, id), (agent) =>
    pause ? agent.pauseContainer(id) : agent.resumeContainer(id),
  );
  await markPaused(c.dir, pause);
  return 0;
}
