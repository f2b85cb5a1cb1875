// Host mounts of a container's root filesystem that containerd describes
// (a snapshotter's overlay on <bundle>/rootfs, a path of containerd's that
// the guest never reaches), behind a port. Node has no mount(2): the real
// implementation runs util-linux mount. Sandbox staging trees, which the
// guest can reach, use ConfinedFs instead (confined-fs.ts).
import { readFile } from 'node:fs/promises';
import { HakoError } from '../errors.js';
import type { Runner } from './runner.js';

/** A filesystem to mount, as containerd describes rootfs mounts. */
export interface FsMount {
  readonly type: string;
  readonly source: string;
  readonly options: readonly string[];
}

export interface Mounter {
  /** Mounts a filesystem (e.g. a snapshotter's overlay) on `target`. */
  mountFs(m: FsMount, target: string): Promise<void>;
  /** Lazily unmounts everything at or below `target`; absent mounts are fine. */
  unmount(target: string): Promise<void>;
  /** Mount points at or below `prefix`. */
  list(prefix: string): Promise<string[]>;
}

/** Decodes the octal escapes (\040 for space…) of /proc/self/mountinfo. */
function unescape(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

export async function mountPointsUnder(prefix: string): Promise<string[]> {
  const text = await readFile('/proc/self/mountinfo', 'utf8');
  const base = prefix.endsWith('/') ? prefix : `${prefix}/`;
  return text
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((p): p is string => p !== undefined)
    .map(unescape)
    .filter((p) => p === prefix || p.startsWith(base));
}

export class RealMounter implements Mounter {
  constructor(private readonly runner: Runner) {}

  async #mount(args: string[]): Promise<void> {
    const r = await this.runner.run(['mount', ...args]);
    if (r.code !== 0) throw new HakoError('INTERNAL', `mount ${args.join(' ')}: ${r.stderr.trim()}`);
  }

  async mountFs(m: FsMount, target: string): Promise<void> {
    if (m.type === 'bind' || m.options.includes('bind') || m.options.includes('rbind')) {
      // util-linux remounts a bind mount read-only by itself when asked for ro.
      const ro = m.options.includes('ro') ? ['-o', 'ro'] : [];
      await this.#mount([m.options.includes('rbind') ? '--rbind' : '--bind', ...ro, m.source, target]);
      return;
    }
    const opts = m.options.length > 0 ? ['-o', m.options.join(',')] : [];
    await this.#mount(['-t', m.type, ...opts, m.source, target]);
  }

  async unmount(target: string): Promise<void> {
    const points = await mountPointsUnder(target);
    // Only the topmost points: `umount -R` takes each whole subtree at once.
    const tops = [...new Set(points)].filter((p) => !points.some((q) => q !== p && p.startsWith(`${q}/`)));
    for (const p of tops) {
      const r = await this.runner.run(['umount', '-R', p]);
      if (r.code === 0) continue;
      // Busy: detach lazily, deepest first.
      for (const q of (await mountPointsUnder(p)).sort((a, b) => b.length - a.length)) {
        await this.runner.run(['umount', '--lazy', q]);
      }
      if ((await mountPointsUnder(p)).length > 0) {
        throw new HakoError('INTERNAL', `umount ${p}: ${r.stderr.trim()}`);
      }
    }
  }

  list(prefix: string): Promise<string[]> {
    return mountPointsUnder(prefix);
  }
}
