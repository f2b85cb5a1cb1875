// The guest's side of a port-forward (network/port-forward.ts): a
// connection to a port of the sandbox's loopback, opened by the agent, whose
// bytes are relayed as a process's stdio is (process-io.ts): the guest's to
// the socket, then the socket's end; the socket's to the guest, then a
// half-close. Freed in the guest once both ways are done or one failed.
import type { Socket } from 'node:net';
import { PORT_STREAMS } from '../agent-client/client.js';
import type { GuestConnection, GuestPorts } from '../network/port-forward.js';
import { ProcessIo, type IoHost } from './process-io.js';

export function guestPorts(host: IoHost): GuestPorts {
  return {
    async connect(port: number): Promise<GuestConnection> {
      const id = await host.guard(host.agent.portConnect(port), `connect to port ${port} in the guest`);
      return { relay: (socket) => relay(host, id, socket) };
    },
  };
}

async function relay(host: IoHost, id: string, socket: Socket): Promise<void> {
  const io = new ProcessIo(host, PORT_STREAMS, id);
  try {
    await Promise.all([io.pipeOutput('stdout', socket).then(() => void socket.end()), io.pipeInput(socket)]);
  } catch {
    socket.destroy();
  } finally {
    await host.agent.portClose(id).catch(() => undefined);
  }
}
