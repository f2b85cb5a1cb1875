// virtio-9p: QEMU serves the shared directory itself; no daemon. Slower than
// virtio-fs for metadata, kept as a configurable fallback.
import type { StorageInit } from '../agent-client/client.js';
import type { Device } from '../hypervisor/types.js';
import { SHARE_TAG, type SharedFs } from './types.js';

export class NineP implements SharedFs {
  readonly driver = 'virtio-9p';
  /** 9p is served by QEMU itself: no daemon to lose. */
  readonly exited = undefined;

  constructor(private readonly sharedDir: string) {}

  start(): Promise<undefined> {
    return Promise.resolve(undefined);
  }

  devices(): Device[] {
    return [{ kind: '9p', id: 'fs0', tag: SHARE_TAG, path: this.sharedDir, readonly: false }];
  }

  guestStorage(mountPoint: string): StorageInit {
    return { driver: '9p', source: SHARE_TAG, fstype: '9p', options: [], mountPoint };
  }

  diagnostics(): Promise<string> {
    return Promise.resolve('');
  }

  stop(): Promise<void> {
    return Promise.resolve();
  }
}
