// Turns `hako run` flags into the container to run: its OCI spec and its
// root filesystem on the host. Everything is checked here, before any VM is
// started, so that bad input costs nothing and leaves nothing behind.
import type { UserNetwork } from '../network/user-net.js';
import { stat } from 'node:fs/promises';
import { HakoError } from '../errors.js';
import { defaultSpec } from '../oci/default-spec.js';
import { readBundle, type OciSpec } from '../oci/spec.js';
import { availableParallelism } from 'node:os';
import {
  applyRunFlags,
  parseCpus,
  parseMemory,
  parseNetwork,
  parseVolume,
  withNetwork,
  type Sizing,
} from './run-flags.js';

export interface RunFlags {
  readonly bundle?: string;
  readonly rootfs?: string;
  readonly env: readonly string[];
  readonly workdir?: string;
  readonly tty: boolean;
  readonly readonly: boolean;
  readonly hostname: string;
  /** -v HOST:CONTAINER[:ro] */
  readonly volumes?: readonly string[];
  /** -u UID[:GID] */
  readonly user?: string;
  /** --memory (docker's format) */
  readonly memory?: string;
  /** --cpus */
  readonly cpus?: string;
  /** --network none | user | ns:PATH */
  readonly network?: string;
  /** -p [HOSTIP:]HOSTPORT:CONTAINERPORT[/udp] (implies --network user) */
  readonly publish?: readonly string[];
}

export interface RunTarget {
  readonly spec: OciSpec;
  readonly rootfs: string;
  readonly readonly: boolean;
  readonly terminal: boolean;
  /**
   * The bundle's own spec asks for a terminal: as with runc, the caller's
   * stdin is relayed to it whether or not `-i` is given (else a shell on
   * it would wait for input that never comes).
   */
  readonly relayStdin?: boolean;
  /** The rootfs is the built-in image: shared read-only, written to a layer of the container's own. */
  readonly layer: boolean;
  readonly bundleDir?: string;
  /** --memory and --cpus: the VM is sized for them (run-flags.ts vmSize). */
  readonly sizing: Sizing;
  /** `--network user`: the sandbox's own outbound network, with these ports published. */
  readonly userNetwork?: UserNetwork;
}

function parseEnv(entries: readonly string[], hostEnv: NodeJS.ProcessEnv): string[] {
  const out: string[] = [];
  for (const e of entries) {
    const eq = e.indexOf('=');
    const key = eq < 0 ? e : e.slice(0, eq);
    if (!/^[^=\s]+$/.test(key))
      throw new HakoError('INVALID_ARGUMENT', `invalid environment variable ${JSON.stringify(e)}`);
    if (eq >= 0) out.push(e);
    else if (hostEnv[key] !== undefined) out.push(`${key}=${hostEnv[key]}`);
  }
  return out;
}

async function requireExists(path: string, what: string): Promise<void> {
  try {
    await stat(path);
  } catch {
    throw new HakoError('INVALID_ARGUMENT', `${what} ${path} does not exist`);
  }
}

async function requireDir(path: string, what: string): Promise<void> {
  try {
    if ((await stat(path)).isDirectory()) return;
  } catch {
    throw new HakoError('ROOTFS_NOT_FOUND', `${what} ${path} does not exist`);
  }
  throw new HakoError('ROOTFS_NOT_FOUND', `${what} ${path} is not a directory`);
}

/** Later entries win over earlier ones with the same key. */
function mergeEnv(base: readonly string[], extra: readonly string[]): string[] {
  const keys = new Set(extra.map((e) => e.slice(0, e.indexOf('='))));
  return [...base.filter((e) => !keys.has(e.slice(0, e.indexOf('=')))), ...extra];
}

export async function resolveRunTarget(
  flags: RunFlags,
  command: readonly string[],
  defaultRootfs: () => Promise<string>,
  hostEnv: NodeJS.ProcessEnv = process.env,
  stdinIsTty: boolean = process.stdin.isTTY === true,
): Promise<RunTarget> {
  if (flags.bundle !== undefined && flags.rootfs !== undefined) {
    throw new HakoError('INVALID_ARGUMENT', '--bundle and --rootfs cannot be used together');
  }
  if (flags.workdir !== undefined && !flags.workdir.startsWith('/')) {
    throw new HakoError('INVALID_ARGUMENT', `--workdir ${flags.workdir} must be an absolute path`);
  }
  const env = parseEnv(flags.env, hostEnv);
  const volumes = (flags.volumes ?? []).map(parseVolume);
  for (const v of volumes) await requireExists(v.source, `-v ${v.source}:${v.destination}: the host path`);
  const sizing: Sizing = {
    ...(flags.memory !== undefined ? { memoryBytes: parseMemory(flags.memory) } : {}),
    ...(flags.cpus !== undefined ? { cpus: parseCpus(flags.cpus, availableParallelism()) } : {}),
  };
  // An image's container gets outbound networking by default; a bundle's spec says what it has.
  const network = parseNetwork(flags.network, flags.publish, flags.bundle !== undefined ? 'none' : 'user');
  const withFlags = (spec: OciSpec) => withNetwork(applyRunFlags(spec, volumes, flags.user, sizing), network);
  const userNetwork =
    network.kind === 'user'
      ? { userNetwork: { ports: network.ports, hostLoopback: network.hostLoopback } }
      : {};
  if (flags.bundle !== undefined) {
    const bundle = await readBundle(flags.bundle);
    await requireDir(bundle.rootfs, `rootfs (root.path of ${bundle.dir}/config.json)`);
    const p = bundle.spec.process;
    const args = command.length > 0 ? [...command] : p?.args;
    if (!args || args.length === 0) {
      throw new HakoError(
        'INVALID_ARGUMENT',
        `no command given and ${bundle.dir}/config.json has no process.args`,
      );
    }
    // A spec's terminal when our stdin is none (a pipe, /dev/null) is run
    // without one, its stdin relayed: a shell then reads to the end of its
    // input and exits, where on a terminal it would wait for typing.
    const terminal = flags.tty || (p?.terminal === true && stdinIsTty);
    const process = {
      ...(p ?? { cwd: '/' }),
      args,
      env: mergeEnv(p?.env ?? [], env),
      cwd: flags.workdir ?? p?.cwd ?? '/',
      terminal,
    };
    const readonly = flags.readonly || (bundle.spec.root.readonly ?? false);
    return {
      spec: withFlags({ ...bundle.spec, process }),
      rootfs: bundle.rootfs,
      readonly,
      terminal,
      relayStdin: p?.terminal === true,
      layer: false,
      bundleDir: bundle.dir,
      sizing,
      ...userNetwork,
    };
  }
  if (command.length === 0)
    throw new HakoError('INVALID_ARGUMENT', 'no command given: hako run [flags] -- CMD [ARGS…]');
  const rootfs = flags.rootfs ?? (await defaultRootfs());
  await requireDir(rootfs, 'rootfs');
  const spec = withFlags(
    defaultSpec({
      args: command,
      env,
      cwd: flags.workdir ?? '/',
      terminal: flags.tty,
      hostname: flags.hostname,
      readonly: flags.readonly,
      // The VM is this container's sandbox: the container uses the VM's
      // network, as a pod's containers share theirs (for now only loopback).
      sandboxNetwork: true,
    }),
  );
  // --rootfs DIR keeps runc's semantics (writes go to DIR); the built-in
  // image is never written: each run gets a fresh layer over it.
  return {
    spec,
    rootfs,
    readonly: flags.readonly,
    terminal: flags.tty,
    layer: flags.rootfs === undefined,
    sizing,
    ...userNetwork,
  };
}
