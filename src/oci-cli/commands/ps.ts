// `hako ps [--format table|json] <id>`: the container's processes (guest pids).
import { HakoError } from '../../errors.js';
import { containerDir, containerRunDir, type OciContext } from '../context.js';
import { withAgent } from '../proxy.js';
import { requireContainer, statusOf } from '../record.js';

export async function psCommand(ctx: OciContext, id: string, format: string): Promise<number> {
  const c = await requireContainer(containerDir(ctx, id));
  if ((await statusOf(c, ctx.procs)) === 'stopped')
    throw new HakoError('FAILED_PRECONDITION', 'container not running');
  const processes = await withAgent(containerRunDir(ctx, id), (agent) => agent.listProcesses(id));
  if (format === 'json') process.stdout.write(`${JSON.stringify(processes.map((p) => p.pid))}\n`);
  else {
    const rows = processes.map((p) => `${String(p.pid).padEnd(8)}${p.execId}`);
    process.stdout.write(`${['PID     EXEC', ...rows].join('\n')}\n`);
  }
  return 0;
}
