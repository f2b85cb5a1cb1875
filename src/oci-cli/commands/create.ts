// `hako create [--bundle B] [--pid-file P] [--console-socket S] <id>`: makes
// the container, its process waiting in the guest, and leaves its relay
// running (pid in --pid-file). Nothing half-made remains on failure.
import type { UserNetwork } from '../../network/user-net.js';
import { mkdir, stat, rename, writeFile } from 'node:fs/promises';
import { dirname, basename, join, resolve } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { HakoError, isHakoError } from '../../errors.js';
import { readBundle, type Bundle, type OciSpec } from '../../oci/spec.js';
import { cleanupSandbox } from '../../runtime/cleanup.js';
import { FsStateStore } from '../../runtime/state-store.js';
import { HelperFs } from '../../sys/confined-fs.js';
import { helperBinary } from '../../home.js';
import { confinementFor } from '../../wiring.js';
import { RealRunner } from '../../sys/runner.js';
import { containerDir, type OciContext } from '../context.js';
import { rfc3339Nano, writeRecord } from '../record.js';
import { globalArgs, helperStdio, spawnHelper } from '../spawn-helper.js';
import { awaitReport } from '../status-pipe.js';
import { encodeFds, preservedFds, withPreservedFds } from '../preserved-fds.js';
import { relayNetnsWrapper } from '../relay-netns.js';
import { HOST_NETNS_ENV, hostNetnsId } from '../../network/netns.js';

export interface CreateOptions {
  readonly bundle?: string | undefined;
  readonly pidFile?: string | undefined;
  readonly consoleSocket?: string | undefined;
  /** runc's --preserve-fds: descriptors 3 … 3+N-1 relayed to the process. */
  readonly preserveFds?: string | undefined;
  /** Instead of a bundle: docker-style `hako run -d`. */
  readonly generated?: Generated;
}

/** Writes a pid file as runc does: atomically, decimal, no newline. */
export async function writePidFile(path: string, pid: number): Promise<void> {
  const abs = resolve(path);
  const tmp = join(dirname(abs), `.${basename(abs)}`);
  await writeFile(tmp, String(pid));
  await rename(tmp, abs);
}

export async function removeContainerState(ctx: OciContext, id: string): Promise<void> {
  const store = new FsStateStore(ctx.root);
  const runner = new RealRunner();
  const fs = new HelperFs(runner, helperBinary());
  await cleanupSandbox({ store, procs: ctx.procs, fs, confinement: confinementFor(ctx.config), runner }, id);
}

/**
 * A container made by docker-style `hako run -d`: its spec written as a
 * bundle inside its own state directory, its output kept in a log there.
 */
export interface Generated {
  readonly spec: OciSpec;
  readonly rootfs: string;
  /** The rootfs is the built-in image: a writable layer in the guest. */
  readonly layer: boolean;
  /** Remove the container when its process exits (--rm). */
  readonly autoRemove: boolean;
  /** Its VM's size, when not the configured default. */
  readonly vm?: { readonly vcpus: number; readonly memoryMiB: number };
  /** `--network user`: its own outbound network, with these ports published. */
  readonly network?: UserNetwork;
}

/** The bundle directory of a generated container. */
const generatedBundleDir = (dir: string) => join(dir, 'bundle');

export async function writeGeneratedBundle(
  dir: string,
  g: Pick<Generated, 'spec' | 'rootfs'>,
): Promise<string> {
  const bundleDir = generatedBundleDir(dir);
  await mkdir(bundleDir, { mode: 0o700 });
  const spec = { ...g.spec, root: { ...g.spec.root, path: g.rootfs } };
  await writeFile(join(bundleDir, 'config.json'), JSON.stringify(spec), { mode: 0o600 });
  return bundleDir;
}

async function checkBundle(bundle: Bundle, consoleSocket: string | undefined, detachedRun: boolean) {
  try {
    if (!(await stat(bundle.rootfs)).isDirectory()) throw new Error('not a directory');
  } catch {
    throw new HakoError(
      'ROOTFS_NOT_FOUND',
      `rootfs ${bundle.rootfs} (root.path of ${bundle.dir}/config.json) does not exist`,
    );
  }
  const terminal = bundle.spec.process?.terminal ?? false;
  if (terminal && detachedRun) {
    throw new HakoError(
      'INVALID_ARGUMENT',
      '-t with -d is not supported: a detached container has no terminal',
    );
  }
  if (terminal && consoleSocket === undefined) {
    throw new HakoError(
      'INVALID_ARGUMENT',
      'cannot allocate tty if runc will detach without setting console socket',
    );
  }
  if (!terminal && consoleSocket !== undefined) {
    throw new HakoError('INVALID_ARGUMENT', 'cannot use console socket if runc will not allocate tty');
  }
}

/** Creates the container; returns its relay (a child of this process). */
export async function createContainer(ctx: OciContext, id: string, o: CreateOptions): Promise<ChildProcess> {
  const dir = containerDir(ctx, id);
  const extraFds = preservedFds(o.preserveFds);
  const given = o.generated ? undefined : await readBundle(o.bundle ?? process.cwd());
  if (given) await checkBundle(given, o.consoleSocket, false);
  try {
    await new FsStateStore(ctx.root).create(id);
  } catch (e) {
    if (isHakoError(e, 'ALREADY_EXISTS'))
      throw new HakoError('ALREADY_EXISTS', 'container with given ID already exists');
    throw e;
  }
  try {
    let bundle = given;
    if (!bundle && o.generated) {
      bundle = await readBundle(await writeGeneratedBundle(dir, o.generated));
      await checkBundle(bundle, o.consoleSocket, true);
    }
    if (!bundle) throw new HakoError('INTERNAL', 'create: no bundle');
    await writeRecord(dir, {
      version: 1,
      id,
      bundle: bundle.dir,
      rootfs: bundle.rootfs,
      created: rfc3339Nano(new Date()),
      annotations: bundle.spec.annotations ?? {},
      ...(o.generated
        ? {
            detached: {
              layer: o.generated.layer,
              autoRemove: o.generated.autoRemove,
              ...(o.generated.vm ? { vm: o.generated.vm } : {}),
              ...(o.generated.network ? { network: o.generated.network } : {}),
            },
          }
        : {}),
    });
    const args = [...globalArgs(ctx.g, ctx.root), '__relay', id];
    if (o.consoleSocket !== undefined) args.push('--console-socket', resolve(o.consoleSocket));
    if (extraFds.length > 0) args.push('--extra-fds', encodeFds(extraFds));
    // A generated container's output goes to its log, never to our caller.
    const stdio = helperStdio(o.consoleSocket !== undefined || o.generated !== undefined);
    // `hako run -d --network user` reads the host's network and runs passt in it: its relay stays there.
    const wrapper = o.generated?.network ? [] : relayNetnsWrapper(bundle.spec);
    const relay = spawnHelper(args, withPreservedFds(stdio, extraFds), wrapper, {
      [HOST_NETNS_ENV]: await hostNetnsId(),
    });
    await awaitReport(relay, 'the container relay').catch((e: unknown) => {
      relay.kill('SIGKILL');
      throw e;
    });
    relay.stdio[3]?.destroy();
    if (o.pidFile !== undefined && relay.pid !== undefined) await writePidFile(o.pidFile, relay.pid);
    return relay;
  } catch (e) {
    await removeContainerState(ctx, id).catch(() => undefined);
    throw e;
  }
}

export async function createCommand(ctx: OciContext, id: string, o: CreateOptions): Promise<number> {
  const relay = await createContainer(ctx, id, o);
  relay.unref();
  return 0;
}
