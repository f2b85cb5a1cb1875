// The agent link over a virtio-serial port: QEMU listens on a Unix socket
// (chardev server) and relays bytes to the guest port named `hako.agent`.
// Bytes sent before the guest opens the port wait in the socket.
import { connect } from 'node:net';
import type { Duplex } from 'node:stream';
import { HakoError } from '../errors.js';
import type { Device } from '../hypervisor/types.js';
import type { AgentTransport } from './types.js';

export const AGENT_PORT_NAME = 'hako.agent';

function tryConnect(path: string): Promise<Duplex | undefined> {
  return new Promise((resolve) => {
    const socket = connect(path);
    socket.once('connect', () => {
      socket.removeAllListeners('error');
      resolve(socket);
    });
    socket.once('error', () => {
      socket.destroy();
      resolve(undefined);
    });
  });
}

export class VirtioSerialTransport implements AgentTransport {
  readonly kind = 'virtio-serial';

  constructor(readonly socketPath: string) {}

  devices(): Device[] {
    return [{ kind: 'serial-port', id: 'agent', name: AGENT_PORT_NAME, socketPath: this.socketPath }];
  }

  kernelArgs(): string[] {
    return [`hako.port=${AGENT_PORT_NAME}`];
  }

  async connect(deadline: number, abort: Promise<unknown>): Promise<Duplex> {
    let aborted = false;
    void abort.then(
      () => (aborted = true),
      () => (aborted = true),
    );
    for (;;) {
      const socket = await tryConnect(this.socketPath);
      if (socket) return socket;
      if (aborted) throw new HakoError('VM_START_FAILED', 'the VM exited before its agent socket appeared');
      if (Date.now() > deadline) {
        throw new HakoError('AGENT_TIMEOUT', `cannot connect to the agent socket ${this.socketPath}`);
      }
      await new Promise((r) => setTimeout(r, 3));
    }
  }
}
