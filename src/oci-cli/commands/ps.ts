// `hako ps [--format table|json] <id> [ps-args…]`: the container's
// processes. As runc, the table is `ps`'s own output (`ps -ef` unless
// arguments are given); here `ps` runs in the container, where its
// processes are, so it lists them with the pids they see (the container
// must hold a `ps`). --format json: the guest pids, as a JSON list.
import { HakoError } from '../../errors.js';
import { containerDir, containerRunDir, type OciContext } from '../context.js';
import { withAgent } from '../proxy.js';
import { requireContainer, statusOf } from '../record.js';
import { execCommand } from './exec.js';

export async function psCommand(
  ctx: OciContext,
  id: string,
  format: string,
  psArgs: readonly string[] = [],
): Promise<number> {
  const c = await requireContainer(containerDir(ctx, id));
  if ((await statusOf(c, ctx.procs)) === 'stopped')
    throw new HakoError('FAILED_PRECONDITION', 'container not running');
  if (format === 'json') {
    if (psArgs.length > 0)
      throw new HakoError('INVALID_ARGUMENT', 'ps arguments cannot be used with --format json');
    const processes = await withAgent(containerRunDir(ctx, id), (agent) => agent.listProcesses(id));
    process.stdout.write(`${JSON.stringify(processes.map((p) => p.pid))}\n`);
    return 0;
  }
  if (format !== 'table') throw new HakoError('INVALID_ARGUMENT', `invalid format ${JSON.stringify(format)}`);
  const args = psArgs.length > 0 ? psArgs : ['-ef'];
  const none = { caps: [], additionalGids: [], noNewPrivs: false };
  return execCommand(ctx, id, { tty: false, detach: false, env: [], ...none }, ['ps', ...args]);
}
