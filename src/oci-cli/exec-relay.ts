// Runs an exec'd process of a runc-style container and relays its stdio:
// in the `exec` command itself (foreground), or in a detached helper whose
// pid goes into --pid-file (exec --detach), which lives exactly as long as
// the process and exits with its status. Reaches the agent through the
// container's relay (proxy.ts).
import { readFile, rm } from 'node:fs/promises';
import { createLogger, type Logger } from '../log.js';
import { ProcessIo, type ExtraFd, type IoHost } from '../runtime/process-io.js';
import { HELPER_FD_BASE, relayFds } from './preserved-fds.js';
import type { GlobalOptions } from '../cli/wiring.js';
import { attachStdio } from './attach.js';
import { callerOutputs, type CallerOutputs } from './spawn-helper.js';
import { OUTPUT_GRACE_MS, within } from '../within.js';
import { containerRunDir, ociContext } from './context.js';
import { connectProxy } from './proxy.js';
import { failure, reporter, type Report } from './status-pipe.js';

export interface ExecRun {
  readonly id: string;
  readonly execId: string;
  readonly process: Uint8Array;
  readonly consoleSocket: string | undefined;
  readonly outputs: () => CallerOutputs;
  /** Preserved descriptors, held by this process from `extraBase` on. */
  readonly extraFds: readonly ExtraFd[];
  readonly extraBase: number;
}

/** Starts the exec and relays it; calls `started` once it runs; resolves with its exit status. */
export async function runExec(
  g: GlobalOptions,
  e: ExecRun,
  log: Logger,
  started: (r: Report) => void,
): Promise<number> {
  const ctx = await ociContext(g);
  const agent = await connectProxy(containerRunDir(ctx, e.id), ctx.config.agent.requestTimeoutMs);
  try {
    const pid = await agent.execProcess(e.id, e.execId, e.process, e.extraFds);
    const host: IoHost = { agent, guard: (op) => op };
    const io = new ProcessIo(host, e.id, e.execId);
    const attached = await attachStdio(io, e.consoleSocket, log, e.outputs);
    const extras = relayFds(io, e.extraFds, e.extraBase, (m) => log.log('debug', m));
    started({ ok: true, pid });
    const exit = await agent.waitProcess(e.id, e.execId);
    await within(Promise.all([attached.output, extras]), OUTPUT_GRACE_MS);
    attached.close();
    await agent.deleteProcess(e.id, e.execId).catch(() => undefined);
    return exit.status;
  } finally {
    agent.close();
  }
}

/** The detached exec helper (`hako __exec-relay`). */
export async function execRelayMain(
  g: GlobalOptions,
  o: {
    id: string;
    execId: string;
    processFile: string;
    consoleSocket: string | undefined;
    extraFds: readonly ExtraFd[];
  },
): Promise<never> {
  const report = reporter();
  const log = createLogger({
    level: g.debug ? 'debug' : 'warn',
    format: 'json',
    ...(g.log !== undefined ? { file: g.log } : { file: '/dev/null' }),
  });
  try {
    const processJson = await readFile(o.processFile);
    await rm(o.processFile, { force: true });
    const status = await runExec(
      g,
      {
        id: o.id,
        execId: o.execId,
        process: processJson,
        consoleSocket: o.consoleSocket,
        outputs: callerOutputs,
        extraFds: o.extraFds,
        extraBase: HELPER_FD_BASE,
      },
      log,
      report,
    );
    process.exit(status);
  } catch (e) {
    report(failure(e));
    process.exit(255);
  }
}
