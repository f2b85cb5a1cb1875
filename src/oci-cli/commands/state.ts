// `hako state <id>`: the container's state as runc prints it.
import { containerDir, type OciContext } from '../context.js';
import { requireContainer, stateJson, statusOf } from '../record.js';

export async function stateCommand(ctx: OciContext, id: string): Promise<number> {
  const c = await requireContainer(containerDir(ctx, id));
  process.stdout.write(`${JSON.stringify(stateJson(c, await statusOf(c, ctx.procs)), null, 2)}\n`);
  return 0;
}
