// Docker-style detached containers: `hako run -d [--name N] [--rm] … -- CMD`
// prints the id and returns while the container keeps running. It is a
// runc-style container underneath (a relay owns its VM, src/oci-cli), so
// `list`, `state`, `exec`, `kill` and `delete` find it; its output goes to a
// log in its state directory. `logs`, `stop` and `rm` are docker's.
import { readFile } from 'node:fs/promises';
import { HakoError } from '../errors.js';
import { requireDefaultRootfs, resolveGuestImage } from '../image/guest-image.js';
import { checkId, newId } from '../runtime/ids.js';
import { createContainer } from '../oci-cli/commands/create.js';
import { deleteCommand } from '../oci-cli/commands/delete.js';
import { killCommand } from '../oci-cli/commands/kill.js';
import { startCommand } from '../oci-cli/commands/start.js';
import { containerDir, type OciContext } from '../oci-cli/context.js';
import { files, readContainer, requireContainer, statusOf } from '../oci-cli/record.js';
import { resolveRunTarget, type RunFlags } from './run-spec.js';
import { vmSize } from './run-flags.js';

export interface DetachedOptions extends RunFlags {
  readonly name?: string;
  readonly rm: boolean;
}

/** `hako run -d`: creates and starts the container, prints its id. */
export async function runDetached(
  ctx: OciContext,
  o: DetachedOptions,
  command: readonly string[],
  out: (line: string) => void,
): Promise<number> {
  const id = o.name !== undefined ? checkId(o.name) : newId();
  const target = await resolveRunTarget(o, command, async () =>
    requireDefaultRootfs(await resolveGuestImage(ctx.config)),
  );
  const relay = await createContainer(ctx, id, {
    generated: {
      spec: target.spec,
      rootfs: target.rootfs,
      layer: target.layer,
      autoRemove: o.rm,
      vm: vmSize(target.sizing, ctx.config.hypervisor),
      ...(target.userNetwork ? { network: target.userNetwork } : {}),
    },
  });
  try {
    await startCommand(ctx, id);
  } catch (e) {
    relay.kill('SIGKILL');
    await deleteCommand(ctx, id, true).catch(() => undefined);
    throw e;
  }
  relay.unref();
  out(id);
  return 0;
}

/** `hako logs ID`: what a detached container printed (stdout and stderr, in order). */
export async function logsCommand(
  ctx: OciContext,
  id: string,
  write: (b: Buffer) => Promise<void>,
): Promise<number> {
  const c = await requireContainer(containerDir(ctx, id));
  if (!c.record.detached) {
    throw new HakoError(
      'INVALID_ARGUMENT',
      `container ${id} was not started with hako run -d: its output went to the caller of create`,
    );
  }
  await write(await readFile(files.output(c.dir)).catch(() => Buffer.alloc(0)));
  return 0;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `hako stop [-t SECONDS] ID…`: SIGTERM, then SIGKILL past the timeout; the record stays. */
export async function stopCommand(
  ctx: OciContext,
  ids: readonly string[],
  timeoutSeconds: number,
  out: (line: string) => void,
): Promise<number> {
  for (const id of ids) {
    const dir = containerDir(ctx, id);
    await requireContainer(dir);
    // A foreground run removes its container as it ends: gone is stopped.
    const stopped = async () => {
      const c = await readContainer(dir);
      return !c || (await statusOf(c, ctx.procs)) === 'stopped';
    };
    if (!(await stopped())) {
      await killCommand(ctx, id, 'TERM', false).catch(() => undefined);
      const deadline = Date.now() + timeoutSeconds * 1000;
      while (!(await stopped()) && Date.now() < deadline) await sleep(100);
      if (!(await stopped())) {
        await killCommand(ctx, id, 'KILL', false).catch(() => undefined);
        while (!(await stopped())) await sleep(100);
      }
    }
    out(id);
  }
  return 0;
}

/** `hako rm [-f] ID…`: removes stopped containers; -f kills running ones first. */
export async function rmCommand(
  ctx: OciContext,
  ids: readonly string[],
  force: boolean,
  out: (line: string) => void,
): Promise<number> {
  for (const id of ids) {
    await deleteCommand(ctx, id, force);
    out(id);
  }
  return 0;
}
