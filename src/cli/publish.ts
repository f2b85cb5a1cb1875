// A foreground `hako run` publishes its container as a runc-style one while
// it runs (its record, a bundle written in its state directory, itself as
// the relay, and the agent proxy), so that `hako ps`, `exec`, `kill`,
// `stop` and `state` find it by id or --name, as docker's do. Everything
// lives in the sandbox's directory and goes with it.
import type { Server } from 'node:net';
import type { OciSpec } from '../oci/spec.js';
import { writeGeneratedBundle } from '../oci-cli/commands/create.js';
import { controlSocket, serveProxy } from '../oci-cli/proxy.js';
import {
  markCreated,
  markStarted,
  rfc3339Nano,
  writeExit,
  writeRecord,
  writeRelay,
} from '../oci-cli/record.js';
import type { Sandbox } from '../runtime/sandbox.js';
import { refOf, RealProcessTable } from '../sys/procs.js';

export interface Published {
  /** Records the exit (state then says stopped) and stops serving. */
  exited(status: number): Promise<void>;
  close(): void;
}

export async function publishRun(
  sandbox: Sandbox,
  id: string,
  spec: OciSpec,
  rootfs: string,
): Promise<Published> {
  const dir = sandbox.dir;
  const bundle = await writeGeneratedBundle(dir, { spec, rootfs });
  await writeRecord(dir, {
    version: 1,
    id,
    bundle,
    rootfs,
    created: rfc3339Nano(new Date()),
    annotations: spec.annotations ?? {},
    ephemeral: true,
  });
  const proxy: Server = await serveProxy(sandbox.agent, controlSocket(sandbox.runDir));
  const self = await refOf(new RealProcessTable(), process.pid);
  if (self) await writeRelay(dir, self);
  await markCreated(dir);
  await markStarted(dir);
  return {
    async exited(status) {
      await writeExit(dir, { status, at: new Date().toISOString() }).catch(() => undefined);
    },
    close: () => void proxy.close(),
  };
}
