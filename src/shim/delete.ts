// `containerd-shim-hako-v2 delete`: containerd's cleanup for a container,
// run after the daemon went away (crash), after a failed Create, and in 1.6
// after every normal deletion. It must work from disk alone and be
// idempotent: when the daemon is gone, its sandbox is torn down (VM,
// virtiofsd, mounts, state); when it still serves, there is nothing to do.
// Prints the DeleteResponse protobuf and nothing else.
import { unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { create, toBinary } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { DeleteResponseSchema } from '../gen/containerd/task_pb.js';
import { cleanupSandbox } from '../runtime/cleanup.js';
import { FsStateStore } from '../runtime/state-store.js';
import { RealMounter } from '../sys/mounts.js';
import { HelperFs } from '../sys/confined-fs.js';
import { helperBinary } from '../home.js';
import { loadConfig } from '../config/load.js';
import { confinementFor } from '../wiring.js';
import { RealProcessTable } from '../sys/procs.js';
import { RealRunner } from '../sys/runner.js';
import { isListening } from './address.js';
import { readBundleState } from './bundle-state.js';
import type { ShimFlags } from './flags.js';

/** Exit status reported for a task whose shim is gone (killed, as runc's shim does). */
const LOST_EXIT_STATUS = 137;

export async function deleteAction(flags: ShimFlags): Promise<Uint8Array> {
  const bundle = flags.bundle || process.cwd();
  const read = await readBundleState(bundle);
  // A state file that is not ours steers nothing: the sandbox is left alone.
  if (read !== undefined && 'invalid' in read) process.stderr.write(`hako: not trusted: ${read.invalid}\n`);
  const state = read !== undefined && 'invalid' in read ? undefined : read;
  const runner = new RealRunner();
  const mounter = new RealMounter(runner);
  // A daemon still listening owns the sandbox; otherwise clean up from disk.
  const live = state ? await isListening(state.socket) : false;
  if (state && !live) {
    const store = new FsStateStore(state.stateDir);
    const fs = new HelperFs(runner, helperBinary());
    const { config } = await loadConfig(state.configPath).catch(() => loadConfig(undefined));
    const confinement = confinementFor(config);
    await cleanupSandbox({ store, procs: new RealProcessTable(), fs, confinement, runner }, state.sandboxId);
    await unlink(state.socket).catch(() => undefined);
  }
  if (!live) {
    await mounter.unmount(join(bundle, 'rootfs'));
  }
  const response = create(DeleteResponseSchema, {
    pid: state?.pid ?? 0,
    exitStatus: LOST_EXIT_STATUS,
    exitedAt: timestampFromDate(new Date()),
  });
  return toBinary(DeleteResponseSchema, response);
}
