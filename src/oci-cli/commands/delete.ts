// `hako delete [--force] <id>`: removes a stopped (or created) container and
// everything it had, from the state on disk alone; --force kills a running
// one first and succeeds for one that does not exist. poststop hooks run last.
import { HakoError } from '../../errors.js';
import { readBundle } from '../../oci/spec.js';
import { killAndWait } from '../../sys/procs.js';
import { containerDir, type OciContext } from '../context.js';
import { runHooks } from '../hooks.js';
import { notFound } from '../errors.js';
import { readContainer, stateJson, statusOf } from '../record.js';
import { removeContainerState } from './create.js';

export async function deleteCommand(ctx: OciContext, id: string, force: boolean): Promise<number> {
  const c = await readContainer(containerDir(ctx, id));
  if (!c) {
    if (force) return 0;
    throw notFound();
  }
  const status = await statusOf(c, ctx.procs);
  if ((status === 'running' || status === 'paused') && !force) {
    throw new HakoError(
      'FAILED_PRECONDITION',
      `cannot delete container ${id} that is not stopped: ${status}`,
    );
  }
  // The relay takes the VM with it (its children die with it).
  if (c.relay) await killAndWait(ctx.procs, c.relay);
  await removeContainerState(ctx, id);
  const spec = await readBundle(c.record.bundle).then(
    (b) => b.spec,
    () => undefined,
  );
  if (spec) {
    await runHooks(spec, 'poststop', stateJson(c, 'stopped'), ctx.config.runtime.hookTimeoutMs).catch(
      (e: unknown) => process.stderr.write(`poststop hook failed: ${String(e)}\n`),
    );
  }
  return 0;
}
