// The relay owns the only connection to its VM's agent (a virtio-serial
// port takes one host peer); every other command reaches the agent through
// the relay, which forwards an allow-listed set of agent calls unchanged on
// a root-only Unix socket in the sandbox's run directory (ctl.sock).
import { connect, createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { AgentClient } from '../agent-client/client.js';
import { HakoError } from '../errors.js';
import { TtrpcClient } from '../ttrpc/client.js';
import { TtrpcServer } from '../ttrpc/server.js';
import { listenPrivate } from '../sys/private-socket.js';

const AGENT = 'hako.agent.v1.AgentService';
const HEALTH = 'hako.agent.v1.Health';

/** What other commands may ask of a container's agent (never sandbox set-up or teardown). */
const FORWARDED: Readonly<Record<string, readonly string[]>> = {
  [AGENT]: [
    'StartContainer',
    'SignalProcess',
    'WaitProcess',
    'ExecProcess',
    'ReadStdout',
    'ReadStderr',
    'WriteStdin',
    'CloseStdin',
    'CloseOutput',
    'TtyWinResize',
    'PauseContainer',
    'ResumeContainer',
    'UpdateContainer',
    'StatsContainer',
    'ListProcesses',
    'DeleteProcess',
    'GetMetrics',
  ],
  [HEALTH]: ['Check', 'Version'],
};

export function controlSocket(runDir: string): string {
  return join(runDir, 'ctl.sock');
}

export async function serveProxy(agent: AgentClient, path: string): Promise<Server> {
  const ttrpc = new TtrpcServer();
  for (const [service, methods] of Object.entries(FORWARDED)) {
    for (const method of methods) {
      ttrpc.register(service, method, (call) => {
        const timeoutMs = call.timeoutNano > 0n ? Number(call.timeoutNano / 1_000_000n) : undefined;
        return agent.connection.call(
          service,
          method,
          call.payload,
          timeoutMs !== undefined ? { timeoutMs } : {},
        );
      });
    }
  }
  const server = createServer((s) => ttrpc.serve(s));
  await listenPrivate(server, path);
  return server;
}

/** An agent client through the container's relay; NOT_FOUND when the relay is gone. */
export async function connectProxy(runDir: string, requestTimeoutMs = 60_000): Promise<AgentClient> {
  const socket = connect(controlSocket(runDir));
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
  } catch {
    socket.destroy();
    throw new HakoError('FAILED_PRECONDITION', 'container not running');
  }
  return new AgentClient(new TtrpcClient(socket), { requestTimeoutMs });
}

/** Runs `use` with an agent client through the container's relay, closed afterwards. */
export async function withAgent<T>(runDir: string, use: (agent: AgentClient) => Promise<T>): Promise<T> {
  const agent = await connectProxy(runDir);
  try {
    return await use(agent);
  } finally {
    agent.close();
  }
}
