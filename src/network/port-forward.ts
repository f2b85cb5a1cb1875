// kubectl port-forward into a pod's VM. containerd serves a port-forward by
// dialing 127.0.0.1:PORT inside the pod's network namespace on the node,
// where nothing of a Hako pod listens: its processes run in the VM. The host
// helper's `forward` (tools/host-helper/src/forward.rs) listens in that
// namespace, has its TCP to 127.0.0.1 redirected to itself, and hands each
// connection here over a private socket: first the port it was meant for
// (2 bytes, big-endian), to which this answers one byte (0: connected to
// that port on the guest's loopback; 1: nothing listens there, and the
// helper resets the caller's connection), then the bytes both ways.
import { createServer, type Socket } from 'node:net';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { HakoError, messageOf } from '../errors.js';
import type { Logger } from '../log.js';
import { logTail } from '../sys/log-tail.js';
import { listenPrivate } from '../sys/private-socket.js';
import { within } from '../within.js';
import { describeExit, type Child, type Runner } from '../sys/runner.js';

/** The guest's side: connections to ports of its loopback. */
export interface GuestPorts {
  /** Connects to `port` on the guest's loopback; rejects when nothing listens there. */
  connect(port: number): Promise<GuestConnection>;
}

export interface GuestConnection {
  /** Relays `socket` both ways until both ways ended (or one failed), then frees the connection. */
  relay(socket: Socket): Promise<void>;
}

export interface PortForward {
  /** Ends the helper and every connection; idempotent. */
  stop(): Promise<void>;
}

/** How long the helper may take to listen and redirect. */
const READY_TIMEOUT_MS = 15_000;
/** How long the helper may take to send a connection's port. */
const HEADER_TIMEOUT_MS = 5_000;
const CONNECTED = 0;
const REFUSED = 1;

export interface PortForwardOptions {
  readonly runner: Runner;
  /** The hako-host-helper binary. */
  readonly helper: string;
  /** The pod's network namespace (a path). */
  readonly netns: string;
  /** Where the socket and the helper's log go. */
  readonly dir: string;
  readonly guest: GuestPorts;
  readonly log: Logger;
}

/** Reads the 2-byte port a connection starts with; the socket is left paused, its data unread. */
function portOf(socket: Socket): Promise<number> {
  return new Promise((resolve, reject) => {
    const done = (e: Error | undefined, port?: number) => {
      clearTimeout(timer);
      socket.off('readable', readable);
      socket.off('end', ended);
      socket.off('error', done);
      if (e) reject(e);
      else resolve(port ?? 0);
    };
    const readable = () => {
      // At the end of the stream read() hands over what is left, if shorter.
      const b = socket.read(2) as Buffer | null;
      if (b?.length === 2) done(undefined, b.readUInt16BE(0));
      else if (b) done(new Error('ended inside its port'));
    };
    const ended = () => done(new Error('ended before its port'));
    const timer = setTimeout(() => done(new Error('no port in time')), HEADER_TIMEOUT_MS);
    socket.on('readable', readable);
    socket.once('end', ended);
    socket.once('error', done);
  });
}

/**
 * Starts forwarding: the private socket, then the helper in the pod's
 * namespace; resolves once the helper redirects, rejects with its error
 * (and leaves nothing running) when it cannot.
 */
export async function startPortForward(o: PortForwardOptions): Promise<PortForward> {
  const sockets = new Set<Socket>();
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    void serve(socket, o).catch((e: unknown) => {
      o.log.log('debug', `port-forward: ${messageOf(e)}`);
      socket.destroy();
    });
  });
  const socketPath = join(o.dir, 'fwd.sock');
  const logFile = join(o.dir, 'fwd.log');
  await listenPrivate(server, socketPath);
  let child: Child | undefined;
  const stop = async () => {
    child?.kill('SIGKILL');
    await child?.exited;
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await rm(socketPath, { force: true });
  };
  try {
    let reported: () => void = () => undefined;
    const readyP = new Promise<void>((resolve) => (reported = resolve));
    child = await o.runner.spawn({
      argv: [o.helper, 'forward', '--netns', o.netns, '--to', socketPath],
      dieWithParent: true,
      logFile,
      onStdout: () => reported(),
    });
    const failed = child.exited.then(async (exit) => {
      const why = (await logTail(logFile, 3)).replace(/^hako-host-helper: /gm, '') || describeExit(exit);
      throw new HakoError('HOST_NOT_READY', `port-forward in ${o.netns}: ${why}`);
    });
    failed.catch(() => undefined);
    const ready = await within(Promise.race([readyP.then(() => true), failed]), READY_TIMEOUT_MS);
    if (!ready) {
      throw new HakoError(
        'HOST_NOT_READY',
        `port-forward in ${o.netns}: not ready in ${READY_TIMEOUT_MS} ms`,
      );
    }
  } catch (e) {
    await stop();
    throw e;
  }
  let stopping: Promise<void> | undefined;
  return { stop: () => (stopping ??= stop()) };
}

async function serve(socket: Socket, o: PortForwardOptions): Promise<void> {
  const port = await portOf(socket);
  if (port < 1) throw new Error(`port ${port}`);
  let conn: GuestConnection;
  try {
    conn = await o.guest.connect(port);
  } catch (e) {
    o.log.log('debug', `port-forward to ${port}: ${messageOf(e)}`);
    socket.end(Buffer.from([REFUSED]));
    return;
  }
  socket.write(Buffer.from([CONNECTED]));
  await conn.relay(socket);
}
