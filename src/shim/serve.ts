// The long-lived shim daemon: serves the Task API on its socket, publishes
// events to containerd, and exits once Shutdown finds no task left (or on
// SIGTERM/SIGINT, after stopping its sandboxes).
import { unlink } from 'node:fs/promises';
import { createServer } from 'node:net';
import { listenPrivate } from '../sys/private-socket.js';
import { loadConfig } from '../config/load.js';
import { withAnnotations } from '../config/annotations.js';
import { HakoError, messageOf } from '../errors.js';
import { createLogger } from '../log.js';
import { RealMounter } from '../sys/mounts.js';
import { RealRunner } from '../sys/runner.js';
import { TtrpcServer } from '../ttrpc/server.js';
import { buildEnv } from '../wiring.js';
import { isListening } from './address.js';
import { EventPublisher } from './events.js';
import type { ShimFlags } from './flags.js';
import { registerTaskService } from './task-service.js';
import { ShimTasks } from './tasks.js';

export async function serve(flags: ShimFlags): Promise<void> {
  const log = createLogger({ level: flags.debug ? 'debug' : 'info', format: 'text' });
  if (!flags.socket) throw new HakoError('INVALID_ARGUMENT', 'the shim daemon needs -socket');
  const ttrpcAddress = process.env['TTRPC_ADDRESS'] ?? `${flags.address}.ttrpc`;
  const events = new EventPublisher(ttrpcAddress, flags.namespace, log);
  const defaultConfig = process.env['HAKO_CONFIG'];
  const tasks = new ShimTasks({
    events,
    log,
    mounter: new RealMounter(new RealRunner()),
    socketPath: flags.socket,
    env: async (configPath, annotations) =>
      buildEnv(withAnnotations((await loadConfig(configPath ?? defaultConfig)).config, annotations), log),
  });
  const ttrpc = new TtrpcServer();
  const net = createServer((s) => ttrpc.serve(s));
  let exiting = false;
  const exit = async (stopSandboxes: boolean) => {
    if (exiting) return;
    exiting = true;
    if (stopSandboxes) await tasks.stopAll();
    net.close();
    ttrpc.closeAll();
    await events.flush();
    events.close();
    await unlink(flags.socket).catch(() => undefined);
    process.exit(0);
  };
  registerTaskService(ttrpc, tasks, { shimPid: process.pid, shutdown: () => void exit(false) });
  try {
    await listenPrivate(net, flags.socket);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw e;
    // Another daemon of this group may have won the race: then it serves.
    if (await isListening(flags.socket)) process.exit(0);
    await unlink(flags.socket);
    await listenPrivate(net, flags.socket);
  }
  for (const s of ['SIGTERM', 'SIGINT'] as const) process.on(s, () => void exit(true));
  process.on('SIGPIPE', () => undefined);
  process.on('unhandledRejection', (e) => log.log('error', `unhandled: ${messageOf(e)}`));
  log.log('info', 'shim serving', { socket: flags.socket, namespace: flags.namespace });
}
