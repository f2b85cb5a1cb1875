// The `hako` command line: parsing only. Each command lives in its own file
// and returns an exit code; errors are printed once, here.
import { DEFAULT_CONTAINERD_CONFIG, DEFAULT_RUNTIME_CLASS, installContainerdCommand } from './install.js';
import { Command, Option } from 'commander';
import { messageOf } from '../errors.js';
import { RealRunner } from '../sys/runner.js';
import { checkCommand } from './check.js';
import { exitCodeFor } from './exit-codes.js';
import { imageBuildCommand } from './image.js';
import { runCommand } from './run.js';
import { dockerRunDetached, registerOciCommands, runcRun } from './oci.js';
import { chooseRunStyle, wordsAfterDashDash } from './run-style.js';
import { existsSync } from 'node:fs';
import { templateLsCommand, templateRmCommand } from './templates.js';
import { envCommand, VERSION, versionCommand } from './env.js';
import type { GlobalOptions } from './wiring.js';

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function globals(program: Command): GlobalOptions {
  const o = program.opts<{
    config?: string;
    root?: string;
    debug?: boolean;
    log?: string;
    logFormat: 'text' | 'json';
  }>();
  return {
    debug: o.debug ?? false,
    logFormat: o.logFormat,
    ...(o.config !== undefined ? { config: o.config } : {}),
    ...(o.root !== undefined ? { root: o.root } : {}),
    ...(o.log !== undefined ? { log: o.log } : {}),
  };
}

export function buildProgram(exit: (code: number) => void, rawArgv: readonly string[] = []): Command {
  // Set before any command is added, so that every command inherits it: a
  // usage error anywhere exits 125 (main), as docker's and podman's do.
  const program = new Command('hako')
    .exitOverride()
    .description('Hako: every container in its own lightweight VM')
    .version(VERSION, '-v, --version')
    .enablePositionalOptions()
    .option('--config <file>', 'configuration file (default: $HAKO_CONFIG or /etc/hako/configuration.toml)')
    .option('--root <dir>', 'state directory (overrides runtime.state_dir)')
    .option('--debug', 'log debug messages')
    .option('--log <file>', 'write logs to this file instead of stderr')
    .addOption(new Option('--log-format <format>', 'log format').choices(['text', 'json']).default('text'))
    .option('--systemd-cgroup', 'accepted: cgroups live in the guest, where Hako manages them itself')
    .option('--criu <path>', 'accepted for compatibility (checkpoint is not supported)')
    .option('--rootless <value>', 'accepted for compatibility');

  program
    .command('run')
    .description('run a command in a new container, in its own VM (or runc-style: hako run [-b B] [-d] <id>)')
    .argument('[command...]', 'the command and its arguments (after --); or, alone, a container id')
    .option('--rm', 'remove the container when it exits (always the case for hako run)')
    .option('-i, --interactive', 'pass stdin to the container')
    .option('-t, --tty', 'give the container a terminal')
    .option('-e, --env <KEY=VALUE>', 'set an environment variable (repeatable)', collect, [])
    .option('-w, --workdir <dir>', 'working directory inside the container')
    .option(
      '-v, --volume <HOST:CONTAINER[:ro]>',
      'bind a host path into the container (repeatable)',
      collect,
      [],
    )
    .option('-u, --user <UID[:GID]>', 'run as this user (numeric)')
    .option('-m, --memory <size>', "the container's memory (e.g. 256m); the VM is sized for it")
    .option('--cpus <n>', "the container's CPUs (e.g. 1.5); the VM gets as many vCPUs, rounded up")
    .option(
      '--network <mode>',
      'none (loopback only, the default for now), user (outbound, through passt) or ns:PATH (join a network namespace)',
    )
    .option(
      '-p, --publish <[HOSTIP:]HOSTPORT:CONTAINERPORT[/udp]>',
      'publish a port (HOSTIP: 127.0.0.1); implies --network user',
      collect,
      [],
    )
    .option('--bundle <dir>', 'an OCI bundle (config.json + rootfs)')
    .option('--rootfs <dir>', 'a root filesystem directory (default: the built-in busybox image)')
    .option('--read-only', 'mount the root filesystem read-only')
    .option('--name <id>', 'container id (default: random)')
    .option('--hostname <name>', 'container host name', 'hako')
    .option('-b <dir>', 'runc-style: bundle directory')
    .option('-d, --detach', 'start the container and return (docker style: print its id; see logs, stop, rm)')
    .option('--pid-file <path>', 'runc-style: pid file')
    .option('--console-socket <path>', 'runc-style: console socket')
    .option('--no-pivot', 'accepted for compatibility')
    .option('--no-new-keyring', 'accepted for compatibility')
    .option('--keep', 'runc-style: keep the container record after it exits (else it is deleted)')
    .option('--preserve-fds <n>', 'runc-style: relay descriptors 3 … 3+N-1 (pipes, files) to the process')
    .option('--no-subreaper', 'accepted for compatibility')
    .passThroughOptions()
    .action(async (command: string[], o: Record<string, unknown>) => {
      const dockerFlag =
        [
          'rm',
          'interactive',
          'tty',
          'workdir',
          'rootfs',
          'readOnly',
          'name',
          'user',
          'memory',
          'cpus',
          'network',
        ].some((k) => o[k] !== undefined) ||
        (o['env'] as string[]).length > 0 ||
        (o['volume'] as string[]).length > 0 ||
        (o['publish'] as string[]).length > 0;
      const bundle =
        typeof o['b'] === 'string' ? o['b'] : typeof o['bundle'] === 'string' ? o['bundle'] : undefined;
      const style = chooseRunStyle({
        words: command,
        afterDashDash: wordsAfterDashDash(rawArgv),
        dockerFlag,
        bundleFlag: bundle !== undefined,
        cwdHasConfig: existsSync('config.json'),
      });
      if (style.style === 'runc') {
        await runcRun(
          globals(program),
          style.id,
          {
            why: style.why,
            bundle,
            detach: o['detach'] === true,
            keep: o['keep'] === true,
            pidFile: typeof o['pidFile'] === 'string' ? o['pidFile'] : undefined,
            consoleSocket: typeof o['consoleSocket'] === 'string' ? o['consoleSocket'] : undefined,
            preserveFds: typeof o['preserveFds'] === 'string' ? o['preserveFds'] : undefined,
          },
          exit,
        );
        return;
      }
      const flags = {
        rm: o['rm'] === true,
        interactive: o['interactive'] === true,
        tty: o['tty'] === true,
        env: o['env'] as string[],
        volumes: o['volume'] as string[],
        ...(typeof o['user'] === 'string' ? { user: o['user'] } : {}),
        ...(typeof o['memory'] === 'string' ? { memory: o['memory'] } : {}),
        ...(typeof o['cpus'] === 'string' ? { cpus: o['cpus'] } : {}),
        ...(typeof o['network'] === 'string' ? { network: o['network'] } : {}),
        publish: o['publish'] as string[],
        readonly: o['readOnly'] === true,
        hostname: o['hostname'] as string,
        ...(typeof o['workdir'] === 'string' ? { workdir: o['workdir'] } : {}),
        ...(typeof o['bundle'] === 'string' ? { bundle: o['bundle'] } : {}),
        ...(typeof o['rootfs'] === 'string' ? { rootfs: o['rootfs'] } : {}),
        ...(typeof o['name'] === 'string' ? { name: o['name'] } : {}),
      };
      if (o['detach'] === true) {
        await dockerRunDetached(globals(program), flags, style.command, exit);
        return;
      }
      exit(await runCommand(globals(program), flags, style.command));
    });

  registerOciCommands(program, () => globals(program), exit);

  program
    .command('check')
    .description('report whether this host is ready to run sandboxes')
    .action(async () => exit(await checkCommand(globals(program), new RealRunner(), (l) => console.log(l))));

  program
    .command('version')
    .description('the versions of Hako, the OCI spec it implements and the guest kernel')
    .action(async () => exit(await versionCommand(globals(program), (l) => console.log(l))));

  program
    .command('env')
    .description('the configuration in effect, the guest image and the paths Hako uses (JSON)')
    .action(async () => exit(await envCommand(globals(program), (l) => console.log(l))));

  const template = program.command('template').description('the VM templates sandboxes start from');
  template
    .command('ls')
    .description('list VM templates: size, RAM held, last use')
    .option('-f, --format <format>', 'table or json', 'table')
    .action(async (o: { format: string }) =>
      exit(await templateLsCommand(globals(program), o.format, (l) => console.log(l))),
    );
  template
    .command('rm')
    .description('remove VM templates (running VMs keep their own copy)')
    .argument('[keys...]')
    .option('--all', 'remove every template')
    .action(async (keys: string[], o: { all?: boolean }) =>
      exit(await templateRmCommand(globals(program), keys, o.all === true, (l) => console.log(l))),
    );

  const install = program.command('install').description("install Hako into a node's container runtime");
  install
    .command('containerd')
    .description(
      "add the runtime handler hako to containerd's CRI configuration (idempotent), and write the RuntimeClass",
    )
    .option('--config <file>', "containerd's configuration", DEFAULT_CONTAINERD_CONFIG)
    .option('--dry-run', 'print what would change, change nothing')
    .option('--uninstall', 'remove what install added')
    .option('--runtime-class <file>', 'where the RuntimeClass manifest goes', DEFAULT_RUNTIME_CLASS)
    .action(async (o: { config: string; dryRun?: boolean; uninstall?: boolean; runtimeClass: string }) =>
      exit(
        await installContainerdCommand(
          {
            config: o.config,
            dryRun: o.dryRun === true,
            uninstall: o.uninstall === true,
            runtimeClass: o.runtimeClass,
          },
          (l) => console.log(l),
        ),
      ),
    );

  const image = program.command('image').description('the guest image (kernel, initramfs, default rootfs)');
  image
    .command('build')
    .description('build the guest image, reusing cached parts')
    .option('--cache-dir <dir>', 'cache directory (default: runtime.image_cache_dir)')
    .option('--kernel-source <tarball>', 'Linux source tarball (default: Debian linux-source-6.1)')
    .action(async (o: { cacheDir?: string; kernelSource?: string }) =>
      exit(await imageBuildCommand(globals(program), o, new RealRunner(), (l) => console.log(l))),
    );
  return program;
}

export async function main(argv: readonly string[]): Promise<void> {
  let code = 0;
  const program = buildProgram((c) => (code = c), argv);
  try {
    await program.parseAsync([...argv]);
  } catch (e) {
    const ce = e as { code?: string; exitCode?: number };
    if (typeof ce.code === 'string' && ce.code.startsWith('commander.')) {
      code = ce.code === 'commander.helpDisplayed' || ce.code === 'commander.version' ? 0 : 125;
    } else {
      process.stderr.write(`hako: ${messageOf(e)}\n`);
      code = exitCodeFor(e);
    }
  }
  process.exit(code);
}
