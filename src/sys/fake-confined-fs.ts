// A ConfinedFs for tests without root: directories, files and removals are
// made for real (refusing links on the way, as the helper does), mounts
// are only recorded, and a removal refuses to enter a recorded mount.
import { lstatSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { HakoError } from '../errors.js';
import type { ConfinedFs, FsOp } from './confined-fs.js';

export class FakeConfinedFs implements ConfinedFs {
  /** Absolute mount points, with the bind source or 'share'. */
  readonly active = new Map<string, string>();
  readonly batches: { root: string; ops: readonly FsOp[] }[] = [];

  #noLinks(root: string, path: string): void {
    const parts = path.split('/');
    for (let i = 1; i <= parts.length; i++) {
      const p = join(root, ...parts.slice(0, i));
      try {
        if (lstatSync(p).isSymbolicLink())
          throw new HakoError('INTERNAL', `${path}: a symbolic link is in the way`);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
        throw e;
      }
    }
  }

  #one(root: string, o: FsOp): void {
    const at = (p: string) => {
      if (p.startsWith('/') || p.split('/').some((c) => c === '' || c === '.' || c === '..')) {
        throw new HakoError('INTERNAL', `${p} is not a plain relative path`);
      }
      this.#noLinks(root, p);
      return join(root, p);
    };
    switch (o.op) {
      case 'mkdir':
        mkdirSync(at(o.path), { recursive: true, mode: 0o700 });
        return;
      case 'file': {
        const p = at(o.path);
        mkdirSync(join(p, '..'), { recursive: true, mode: 0o700 });
        writeFileSync(p, '', { flag: 'a' });
        return;
      }
      case 'bind':
        this.active.set(at(o.path), o.source);
        return;
      case 'share':
        mkdirSync(at(o.host), { recursive: true, mode: 0o700 });
        mkdirSync(at(o.view), { recursive: true, mode: 0o700 });
        this.active.set(join(root, o.host), 'share');
        this.active.set(join(root, o.view), 'share');
        return;
      case 'unmount': {
        const p = at(o.path);
        for (const m of [...this.active.keys()]) if (m === p || m.startsWith(`${p}/`)) this.active.delete(m);
        return;
      }
      case 'remove': {
        const p = at(o.path);
        const mounted = [...this.active.keys()].find((m) => m === p || m.startsWith(`${p}/`));
        if (mounted) throw new HakoError('INTERNAL', `${mounted} is a mount point: not removed`);
        rmSync(p, { recursive: true, force: true });
        return;
      }
    }
  }

  apply(root: string, ops: readonly FsOp[]): Promise<void> {
    this.batches.push({ root, ops });
    try {
      for (const o of ops) this.#one(root, o);
      return Promise.resolve();
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
  }

  mountsUnder(prefix: string): Promise<string[]> {
    const base = prefix.endsWith('/') ? prefix : `${prefix}/`;
    return Promise.resolve([...this.active.keys()].filter((p) => p === prefix || p.startsWith(base)));
  }
}
