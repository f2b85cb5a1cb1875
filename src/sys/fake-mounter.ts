// A Mounter that only records what it was asked (for tests without root).
import type { Mounter } from './mounts.js';

export class FakeMounter implements Mounter {
  readonly active = new Set<string>();

  mountFs(_m: unknown, target: string): Promise<void> {
    this.active.add(target);
    return Promise.resolve();
  }

  unmount(target: string): Promise<void> {
    for (const p of [...this.active]) if (p === target || p.startsWith(`${target}/`)) this.active.delete(p);
    return Promise.resolve();
  }

  list(prefix: string): Promise<string[]> {
    return Promise.resolve([...this.active].filter((p) => p === prefix || p.startsWith(`${prefix}/`)));
  }
}
