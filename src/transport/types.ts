// AgentTransport: the byte stream between the host and the guest agent.
// virtio-serial works everywhere; vsock or hybrid vsock can be added where
// the host has them, behind this same interface.
import type { Duplex } from 'node:stream';
import type { Device } from '../hypervisor/types.js';

export interface AgentTransport {
  readonly kind: string;
  /** The VM devices the transport needs. */
  devices(): Device[];
  /** Kernel command-line words that tell the agent where to listen. */
  kernelArgs(): string[];
  /** Connects, retrying until `deadline` (epoch ms) or until `abort` settles. */
  connect(deadline: number, abort: Promise<unknown>): Promise<Duplex>;
}
