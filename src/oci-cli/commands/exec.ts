// `hako exec [--process F | -- cmd args] [--tty] [--detach] [--pid-file P]
// [--console-socket S] [--cwd D] [--env K=V] [--user U[:G]] <id>`: runs an
// extra process in a running container. Foreground: relays its stdio and
// exits with its status (255 when Hako fails). --detach: a helper whose pid
// goes into --pid-file relays it instead.
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { HakoError } from '../../errors.js';
import { createLogger } from '../../log.js';
import { readBundle } from '../../oci/spec.js';
import { containerDir, containerRunDir, type OciContext } from '../context.js';
import { runExec } from '../exec-relay.js';
import { requireContainer, statusOf, type OciContainer } from '../record.js';
import { globalArgs, helperStdio, ownOutputs, spawnHelper } from '../spawn-helper.js';
import { awaitReport } from '../status-pipe.js';
import { applyExecFlags, type ExecFlags } from '../exec-flags.js';
import { writePidFile } from './create.js';
import { encodeFds, preservedFds, withPreservedFds } from '../preserved-fds.js';

export interface ExecOptions extends ExecFlags {
  readonly process?: string | undefined;
  readonly tty: boolean;
  readonly detach: boolean;
  readonly pidFile?: string | undefined;
  readonly consoleSocket?: string | undefined;
  readonly cwd?: string | undefined;
  readonly env: readonly string[];
}

/** Exit status of `exec` when Hako itself fails (runc's). */
export const EXEC_FAILURE = 255;

/** The process to exec: --process, or the container's own with the given args. */
async function processSpec(c: OciContainer, o: ExecOptions, args: readonly string[]) {
  if (o.process !== undefined) {
    let proc: Record<string, unknown>;
    try {
      proc = JSON.parse(await readFile(o.process, 'utf8')) as Record<string, unknown>;
    } catch (e) {
      throw new HakoError('INVALID_ARGUMENT', `process file ${o.process}: ${(e as Error).message}`);
    }
    return applyExecFlags(proc, o);
  }
  if (args.length === 0) throw new HakoError('INVALID_ARGUMENT', 'exec needs a command, or --process');
  const base = (await readBundle(c.record.bundle)).spec.process;
  return applyExecFlags(
    {
      ...(base ?? {}),
      args,
      terminal: o.tty,
      cwd: o.cwd ?? base?.cwd ?? '/',
      env: [...(base?.env ?? []), ...o.env],
    },
    o,
  );
}

export async function execCommand(
  ctx: OciContext,
  id: string,
  o: ExecOptions,
  args: readonly string[],
): Promise<number> {
  const c = await requireContainer(containerDir(ctx, id));
  const status = await statusOf(c, ctx.procs);
  // runc's --ignore-paused is not offered: a process started in a frozen
  // guest cgroup would leave crun waiting until the container is resumed.
  if (status !== 'running')
    throw new HakoError('FAILED_PRECONDITION', `cannot exec in a ${status} container`);
  const proc = await processSpec(c, o, args);
  const terminal = proc['terminal'] === true || o.tty;
  if (terminal && o.detach && o.consoleSocket === undefined) {
    throw new HakoError(
      'INVALID_ARGUMENT',
      'cannot allocate tty if runc will detach without setting console socket',
    );
  }
  const extraFds = preservedFds(o.preserveFds);
  const execId = `exec-${randomBytes(6).toString('hex')}`;
  const body = new TextEncoder().encode(JSON.stringify({ ...proc, terminal }));
  const consoleSocket = o.consoleSocket !== undefined ? resolve(o.consoleSocket) : undefined;
  if (!o.detach) {
    const log = createLogger({
      level: 'warn',
      format: ctx.g.logFormat,
      ...(ctx.g.log !== undefined ? { file: ctx.g.log } : {}),
    });
    // The process relaying the exec is this one: its pid stands for the exec's.
    if (o.pidFile !== undefined) await writePidFile(o.pidFile, process.pid);
    return runExec(
      ctx.g,
      { id, execId, process: body, consoleSocket, outputs: ownOutputs, extraFds, extraBase: 3 },
      log,
      () => undefined,
    );
  }
  const file = join(containerRunDir(ctx, id), `${execId}.json`);
  await writeFile(file, body, { mode: 0o600 });
  const args2 = [...globalArgs(ctx.g, ctx.root), '__exec-relay', id, execId, file];
  if (consoleSocket !== undefined) args2.push('--console-socket', consoleSocket);
  if (extraFds.length > 0) args2.push('--extra-fds', encodeFds(extraFds));
  const helper = spawnHelper(args2, withPreservedFds(helperStdio(consoleSocket !== undefined), extraFds));
  await awaitReport(helper, 'the exec relay');
  helper.stdio[3]?.destroy();
  if (o.pidFile !== undefined && helper.pid !== undefined) await writePidFile(o.pidFile, helper.pid);
  helper.unref();
  return 0;
}
