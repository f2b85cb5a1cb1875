// `hako start <id>`: starts a created container's process, with the
// startContainer and poststart hooks around it.
import { HakoError } from '../../errors.js';
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
  if (status !== 'created')
    throw new HakoError('FAILED_PRECONDITION', 'cannot start an already running container');
  const { spec } = await readBundle(c.record.bundle);
  await runHooks(spec, 'startContainer', stateJson(c, 'created'), ctx.config.runtime.hookTimeoutMs);
  await withAgent(containerRunDir(ctx, id), (agent) => agent.startContainer(id));
  await markStarted(c.dir);
  await runHooks(spec, 'poststart', stateJson(c, 'running'), ctx.config.runtime.hookTimeoutMs).catch(
    (e: unknown) => process.stderr.write(`poststart hook failed: ${String(e)}\n`),
  );
  return 0;
}
