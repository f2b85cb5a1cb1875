// `containerd-shim-hako-v2 start`: finds or launches the daemon for the
// container's group (pod) and prints its address, and nothing else: containerd
// reads stdout and stderr together as the address. The daemon inherits no
// pipe of containerd's (its output goes to the bundle's `log` FIFO).
import { spawn } from 'node:child_process';
import { closeSync, constants, openSync } from 'node:fs';
import { chmod, mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fromBinary } from '@bufbuild/protobuf';
import { AnySchema, type Any } from '@bufbuild/protobuf/wkt';
import { loadConfig } from '../config/load.js';
import { HakoError } from '../errors.js';
import { readBundle } from '../oci/spec.js';
import { checkId } from '../runtime/ids.js';
import { addressOf, isListening, socketPath, writeAddressFile } from './address.js';
import type { ShimFlags } from './flags.js';
import { groupOf } from './grouping.js';
import { configPathFromOptions } from './options.js';

const DAEMON_READY_MS = 10_000;

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

function openLog(bundle: string): number | 'ignore' {
  try {
    return openSync(join(bundle, 'log'), constants.O_WRONLY | constants.O_NONBLOCK);
  } catch {
    return 'ignore';
  }
}

export async function start(flags: ShimFlags): Promise<string> {
  const input = await readStdin();
  let options: Any | undefined;
  if (input.length > 0) {
    try {
      options = fromBinary(AnySchema, input);
    } catch (e) {
      throw new HakoError(
        'INVALID_ARGUMENT',
        `undecodable runtime options on stdin: ${(e as Error).message}`,
      );
    }
  }
  const configPath = configPathFromOptions(options) ?? process.env['HAKO_CONFIG'];
  const { config } = await loadConfig(configPath);
  const bundle = process.cwd();
  const { spec } = await readBundle(bundle);
  const group = checkId(groupOf(flags.id, spec.annotations), 'sandbox id');
  const path = socketPath(config.runtime.stateDir, flags.address, flags.namespace, group);
  // Ours alone: only root reaches the daemons' sockets.
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  await chmod(dirname(path), 0o700);
  if (!(await isListening(path))) await launchDaemon(flags, path, bundle, configPath);
  const address = addressOf(path);
  await writeAddressFile(bundle, address);
  return address;
}

async function launchDaemon(flags: ShimFlags, path: string, bundle: string, configPath: string | undefined) {
  const self = process.env['HAKO_SHIM_BIN'];
  if (!self)
    throw new HakoError(
      'INTERNAL',
      'HAKO_SHIM_BIN is not set (run the shim through bin/containerd-shim-hako-v2)',
    );
  const args = [
    '-namespace',
    flags.namespace,
    '-address',
    flags.address,
    '-publish-binary',
    flags.publishBinary,
  ];
  args.push('-id', flags.id, '-socket', path, ...(flags.debug ? ['-debug'] : []));
  const log = openLog(bundle);
  const child = spawn(self, args, {
    cwd: bundle,
    detached: true,
    stdio: ['ignore', log, log],
    env: { ...process.env, ...(configPath !== undefined ? { HAKO_CONFIG: configPath } : {}) },
  });
  if (typeof log === 'number') closeSync(log);
  let exited: number | null | undefined;
  child.once('exit', (code) => (exited = code));
  child.unref();
  const deadline = Date.now() + DAEMON_READY_MS;
  while (Date.now() < deadline) {
    if (await isListening(path, 200)) return;
    if (exited !== undefined) {
      // Lost a race with another start for the same group? Then that daemon serves.
      if (await isListening(path, 200)) return;
      throw new HakoError('INTERNAL', `the shim daemon exited (code ${String(exited)}); see ${bundle}/log`);
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new HakoError('INTERNAL', `the shim daemon did not listen on ${path} within ${DAEMON_READY_MS} ms`);
}
