// SharedFs: how a host directory (the sandbox's shared directory, holding
// each container's rootfs) reaches the guest. virtio-fs (virtiofsd) by
// default, 9p as a fallback. Speaks in directories and devices only.
import type { StorageInit } from '../agent-client/client.js';
import type { Device } from '../hypervisor/types.js';
import type { ProcessRef } from '../sys/procs.js';
import type { ChildExit } from '../sys/runner.js';

export interface SharedFs {
  readonly driver: 'virtio-fs' | 'virtio-9p';
  /** Starts whatever serves the share; returns its process, if any. */
  start(): Promise<ProcessRef | undefined>;
  /** The VM devices this share needs. */
  devices(): Device[];
  /** How the agent mounts the share at `mountPoint`. */
  guestStorage(mountPoint: string): StorageInit;
  /** Settles when the serving daemon ends, if there is one. */
  readonly exited: Promise<ChildExit> | undefined;
  /** The end of the daemon's log, if there is one (for error messages). */
  diagnostics(): Promise<string>;
  /** Stops the daemon (if any); idempotent. */
  stop(): Promise<void>;
}

export const SHARE_TAG = 'hako';
