// `hako start <id>`: starts a created container's process (crun runs its
// startContainer hooks in the guest), then the poststart hooks: if one
// fails, the container is killed and removed and start fails, as runc's.
import { HakoError, messageOf } from '../../errors.js';
import { deleteCommand } from './delete.js';
import { readBundle } from '../../oci/spec.js';
import { containerDir, containerRunDir, type OciContext } from '../context.js';
import { runHooks } from '../hooks.js';
import { withAgent } from '../proxy.js';
import { markStarted, requireContainer, stateJson, statusOf } from '../record.js';

export async function startCommand(ctx: OciContext, id: string): Promise<number> {
  const c = await requireContainer(containerDir(ctx, id));
  const status = await statusOf(c, ctx.procs);
  if (status === 'stopped')
    throw new HakoError('FAILED_PRECONDITION', 'cannot start a container that has stopped');
  if (status === 'creating')
    throw new HakoError('FAILED_PRECONDITION', 'cannot start a container that is still being created');
  if (status !== 'created')
    throw new HakoError('FAILED_PRECONDITION', 'cannot start an already running container');
  const { spec } = await readBundle(c.record.bundle);
  await withAgent(containerRunDir(ctx, id), (agent) => agent.startContainer(id));
  await markStarted(c.dir);
  try {
    await runHooks(spec, 'poststart', stateJson(c, 'running'), ctx.config.runtime.hookTimeoutMs);
  } catch (e) {
    await deleteCommand(ctx, id, true).catch(() => undefined);
    throw new HakoError('FAILED_PRECONDITION', `poststart hook failed, container removed: ${messageOf(e)}`, {
      cause: e,
    });
  }
  return 0;
}
