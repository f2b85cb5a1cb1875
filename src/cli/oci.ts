// Registers the runc-compatible commands (create, start, state, kill,
// delete, exec, ps, list, pause, resume, update, features, spec) and the
// hidden helper commands (__relay, __exec-relay). Parsing only: each command
// lives in src/oci-cli/commands/. Failures are reported as runc reports them
// (exit 1, "container does not exist"…); see src/oci-cli/errors.ts.
import type { Command } from 'commander';
import { ociContext, type OciContext } from '../oci-cli/context.js';
import { reportFailure } from '../oci-cli/errors.js';
import { createCommand } from '../oci-cli/commands/create.js';
import { deleteCommand } from '../oci-cli/commands/delete.js';
import { EXEC_FAILURE, execCommand } from '../oci-cli/commands/exec.js';
import { featuresCommand } from '../oci-cli/commands/features.js';
import { killCommand } from '../oci-cli/commands/kill.js';
import { listCommand } from '../oci-cli/commands/list.js';
import { pauseCommand } from '../oci-cli/commands/pause.js';
import { psCommand } from '../oci-cli/commands/ps.js';
import { specCommand } from '../oci-cli/commands/spec.js';
import { startCommand } from '../oci-cli/commands/start.js';
import { stateCommand } from '../oci-cli/commands/state.js';
import { updateCommand } from '../oci-cli/commands/update.js';
import { execRelayMain } from '../oci-cli/exec-relay.js';
import { relayMain } from '../oci-cli/relay.js';
import { decodeFds } from '../oci-cli/preserved-fds.js';
import { runcRunCommand } from '../oci-cli/commands/run.js';
import type { GlobalOptions } from './wiring.js';
import { logsCommand, rmCommand, runDetached, stopCommand, type DetachedOptions } from './detached.js';
import { HakoError, isHakoError, messageOf } from '../errors.js';
import { readBundle } from '../oci/spec.js';
import { resolve } from 'node:path';
import { runCommand } from './run.js';
import { writePidFile } from '../oci-cli/commands/create.js';

type Opts = Record<string, unknown>;
const str = (o: Opts, k: string): string | undefined => {
  const v = o[k];
  return typeof v === 'string' ? v : undefined;
};
const collect = (v: string, prev: string[]) => [...prev, v];

/** Runs a runc-style command: its failures exit `failureCode` with runc's message. */
async function runOci(
  g: GlobalOptions,
  fn: (ctx: OciContext) => Promise<number> | number,
  exit: (code: number) => void,
  failureCode = 1,
): Promise<void> {
  try {
    exit(await fn(await ociContext(g)));
  } catch (e) {
    reportFailure(e, g);
    exit(failureCode);
  }
}

export function registerOciCommands(
  program: Command,
  globals: () => GlobalOptions,
  exit: (code: number) => void,
): void {
  const oci =
    (fn: (ctx: OciContext) => Promise<number> | number, failureCode = 1) =>
    () =>
      runOci(globals(), fn, exit, failureCode);

  program
    .command('create')
    .description('create a container (runc-compatible)')
    .argument('<id>')
    .option('-b, --bundle <dir>', 'bundle directory (default: the current directory)')
    .option('--console-socket <path>', 'Unix socket that receives the pty master')
    .option('--pid-file <path>', 'write the pid standing for the container process here')
    .option('--no-pivot', 'accepted for compatibility (the guest always pivots)')
    .option('--no-new-keyring', 'accepted for compatibility')
    .option('--preserve-fds <n>', 'relay descriptors 3 … 3+N-1 (pipes, files) to the process')
    .action((id: string, o: Opts) =>
      oci((ctx) =>
        createCommand(ctx, id, {
          bundle: str(o, 'bundle'),
          pidFile: str(o, 'pidFile'),
          consoleSocket: str(o, 'consoleSocket'),
          preserveFds: str(o, 'preserveFds'),
        }),
      )(),
    );

  program
    .command('start')
    .description('start a created container')
    .argument('<id>')
    .action((id: string) => oci((ctx) => startCommand(ctx, id))());

  program
    .command('state')
    .description("print a container's state as JSON")
    .argument('<id>')
    .action((id: string) => oci((ctx) => stateCommand(ctx, id))());

  program
    .command('kill')
    .description("send a signal to a container's process")
    .argument('<id>')
    .argument('[signal]', 'name (KILL, SIGKILL) or number; default SIGTERM')
    .option('-a, --all', 'signal every process of the container')
    .action((id: string, signal: string | undefined, o: Opts) =>
      oci((ctx) => killCommand(ctx, id, signal, o['all'] === true))(),
    );

  program
    .command('delete')
    .description('delete a container and everything it holds')
    .argument('<id>')
    .option('-f, --force', 'kill a running container first; success if it does not exist')
    .action((id: string, o: Opts) => oci((ctx) => deleteCommand(ctx, id, o['force'] === true))());

  program
    .command('exec')
    .description('run an extra process in a running container')
    .argument('<id>')
    .argument('[command...]')
    .option('-p, --process <file>', 'the OCI process JSON')
    .option('-t, --tty', 'allocate a terminal')
    .option('-d, --detach', 'detach: a helper whose pid goes into --pid-file relays the process')
    .option('--pid-file <path>')
    .option('--console-socket <path>')
    .option('--cwd <dir>')
    .option('-e, --env <K=V>', 'environment variable (repeatable)', collect, [])
    .option('-u, --user <uid[:gid]>')
    .option('--no-new-privs', 'set no_new_privs for the process')
    .option('-c, --cap <cap>', 'add a capability (repeatable)', collect, [])
    .option('-g, --additional-gids <gid>', 'add a supplementary group (repeatable)', collect, [])
    .option('--process-label <label>', 'refused: the guest runs no SELinux')
    .option('--apparmor <profile>', 'refused: the guest runs no AppArmor')
    .option('--preserve-fds <n>', 'relay descriptors 3 … 3+N-1 (pipes, files) to the process')
    .option('--cpu-affinity <cpus>', "the process's CPUs in the VM, as 0-3,7")
    .passThroughOptions()
    .action((id: string, command: string[], o: Opts) =>
      oci(
        (ctx) =>
          execCommand(
            ctx,
            id,
            {
              tty: o['tty'] === true,
              detach: o['detach'] === true,
              env: o['env'] as string[],
              process: str(o, 'process'),
              pidFile: str(o, 'pidFile'),
              consoleSocket: str(o, 'consoleSocket'),
              cwd: str(o, 'cwd'),
              user: str(o, 'user'),
              caps: o['cap'] as string[],
              additionalGids: o['additionalGids'] as string[],
              noNewPrivs: o['newPrivs'] === false,
              processLabel: str(o, 'processLabel'),
              apparmor: str(o, 'apparmor'),
              preserveFds: str(o, 'preserveFds'),
              cpuAffinity: str(o, 'cpuAffinity'),
            },
            command[0] === '--' ? command.slice(1) : command,
          ),
        o['detach'] === true ? 1 : EXEC_FAILURE,
      )(),
    );

  program
    .command('ps')
    .description("list a container's processes; without an id, list containers (as docker ps)")
    .argument('[id]')
    .argument('[ps-args...]', "ps's arguments (default -ef), after --")
    .option('-f, --format <format>', 'table or json', 'table')
    .option('-q, --quiet', 'without an id: ids only')
    .passThroughOptions()
    .action((id: string | undefined, psArgs: string[], o: Opts) =>
      oci((ctx) =>
        id === undefined
          ? listCommand(ctx, str(o, 'format') ?? 'table', o['quiet'] === true)
          : psCommand(ctx, id, str(o, 'format') ?? 'table', psArgs[0] === '--' ? psArgs.slice(1) : psArgs),
      )(),
    );

  program
    .command('logs')
    .description('what a container started with hako run -d printed')
    .argument('<id>')
    .action((id: string) => oci((ctx) => logsCommand(ctx, id, writeAll))());

  program
    .command('stop')
    .description('stop containers: SIGTERM, then SIGKILL after the timeout (the record stays)')
    .argument('<ids...>')
    .option('-t, --time <seconds>', 'seconds to wait before SIGKILL', '10')
    .action((ids: string[], o: Opts) =>
      oci((ctx) => stopCommand(ctx, ids, seconds(str(o, 'time') ?? '10'), (l) => console.log(l)))(),
    );

  program
    .command('rm')
    .description('remove stopped containers (-f: running ones too)')
    .argument('<ids...>')
    .option('-f, --force', 'kill running containers first')
    .action((ids: string[], o: Opts) =>
      oci((ctx) => rmCommand(ctx, ids, o['force'] === true, (l) => console.log(l)))(),
    );

  program
    .command('list')
    .alias('ls')
    .description('list containers')
    .option('-f, --format <format>', 'table or json', 'table')
    .option('-q, --quiet', 'ids only')
    .action((o: Opts) => oci((ctx) => listCommand(ctx, str(o, 'format') ?? 'table', o['quiet'] === true))());

  program
    .command('pause')
    .description("freeze a container's processes")
    .argument('<id>')
    .action((id: string) => oci((ctx) => pauseCommand(ctx, id, true))());

  program
    .command('resume')
    .description("thaw a container's processes")
    .argument('<id>')
    .action((id: string) => oci((ctx) => pauseCommand(ctx, id, false))());

  program
    .command('update')
    .description("change a container's resources")
    .argument('<id>')
    .option('-r, --resources <file>', 'LinuxResources JSON (- for stdin)')
    .option('--memory <bytes>')
    .option('--memory-swap <bytes>')
    .option('--memory-reservation <bytes>')
    .option('--cpu-quota <n>')
    .option('--cpu-period <n>')
    .option('--cpu-share <n>')
    .option('--cpuset-cpus <list>')
    .option('--cpuset-mems <list>')
    .option('--pids-limit <n>')
    .action((id: string, o: Opts) => {
      const pick = (k: string) => (str(o, k) !== undefined ? { [k]: str(o, k) } : {});
      const keys = [
        'resources',
        'memory',
        'memorySwap',
        'memoryReservation',
        'cpuQuota',
        'cpuPeriod',
        'cpuShare',
        'cpusetCpus',
        'cpusetMems',
        'pidsLimit',
      ];
      return oci((ctx) =>
        updateCommand(ctx, id, Object.assign({}, ...keys.map(pick)) as Record<string, string>),
      )();
    });

  program
    .command('features')
    .description('print the features this runtime supports (JSON)')
    .action(() => oci(() => featuresCommand())());

  program
    .command('spec')
    .description('write a template config.json')
    .option('-b, --bundle <dir>')
    .option('--rootless', 'accepted for compatibility')
    .action((o: Opts) => oci(() => specCommand(str(o, 'bundle')))());

  program
    .command('__relay', { hidden: true })
    .argument('<id>')
    .option('--console-socket <path>')
    .option('--extra-fds <list>')
    .action((id: string, o: Opts) =>
      relayMain(globals(), id, str(o, 'consoleSocket'), decodeFds(str(o, 'extraFds'))),
    );

  program
    .command('__exec-relay', { hidden: true })
    .argument('<id>')
    .argument('<execId>')
    .argument('<processFile>')
    .option('--console-socket <path>')
    .option('--extra-fds <list>')
    .action((id: string, execId: string, processFile: string, o: Opts) =>
      execRelayMain(globals(), {
        id,
        execId,
        processFile,
        consoleSocket: str(o, 'consoleSocket'),
        extraFds: decodeFds(str(o, 'extraFds')),
      }),
    );
}

/** Writes to stdout and waits until it is out: the process exits right after, and a pipe takes 64 KiB at a time. */
function writeAll(b: Buffer): Promise<void> {
  return new Promise((resolve, reject) => process.stdout.write(b, (e) => (e ? reject(e) : resolve())));
}

function seconds(value: string): number {
  if (!/^\d{1,6}$/.test(value))
    throw new HakoError('INVALID_ARGUMENT', `-t ${value}: not a number of seconds`);
  return Number(value);
}

/** docker-style `run -d`: see src/cli/detached.ts. */
export async function dockerRunDetached(
  g: GlobalOptions,
  o: DetachedOptions,
  command: readonly string[],
  exit: (code: number) => void,
): Promise<void> {
  await runOci(g, (ctx) => runDetached(ctx, o, command, (l) => console.log(l)), exit, 125);
}

/** runc-style `run <id>` (the docker-style form is src/cli/run.ts). */
export async function runcRun(
  g: GlobalOptions,
  id: string,
  o: {
    /** Why the runc style was chosen: named in the error if it fails. */
    why: string;
    bundle: string | undefined;
    detach: boolean;
    keep: boolean;
    pidFile: string | undefined;
    consoleSocket: string | undefined;
    preserveFds?: string | undefined;
  },
  exit: (code: number) => void,
): Promise<void> {
  const spec = await readBundle(o.bundle ?? process.cwd()).then(
    (b) => b.spec,
    () => undefined,
  );
  if (spec?.process?.terminal === true && !o.detach && o.consoleSocket === undefined) {
    // runc gives the container a pty relayed to its own stdio, as the
    // foreground `hako run` does (without a terminal on our stdin: none).
    if (o.pidFile !== undefined) await writePidFile(o.pidFile, process.pid);
    const flags = { interactive: true, tty: false, rm: true, readonly: false, env: [], hostname: id };
    exit(await runCommand(g, { ...flags, bundle: resolve(o.bundle ?? '.'), name: id }, []));
    return;
  }
  await runOci(
    g,
    (ctx) =>
      runcRunCommand(ctx, id, o).catch((e: unknown) => {
        throw new HakoError(isHakoError(e) ? e.code : 'INTERNAL', `${o.why}: ${messageOf(e)}`, { cause: e });
      }),
    exit,
  );
}
