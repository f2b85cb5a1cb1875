// Bind mounts in a container's spec name host paths (CRI's /etc/hosts,
// volumes…), which the guest cannot see. Each one is bind-mounted into the
// container's directory of the shared filesystem and the spec is rewritten
// to the guest path of that copy. Kernel filesystems (proc, tmpfs…) pass.
import { mkdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { HakoError } from '../errors.js';
import type { Mounter } from '../sys/mounts.js';

interface SpecMount {
  destination?: unknown;
  type?: unknown;
  source?: unknown;
  options?: unknown;
}

function isBind(m: SpecMount): boolean {
  const opts = Array.isArray(m.options) ? m.options : [];
  return m.type === 'bind' || opts.includes('bind') || opts.includes('rbind');
}

/** The spec with each host bind mount replaced by its guest-side copy. */
export async function shareBindMounts(
  spec: Readonly<Record<string, unknown>>,
  hostContainerDir: string,
  guestContainerDir: string,
  mounter: Mounter,
): Promise<Record<string, unknown>> {
  const mounts = Array.isArray(spec['mounts']) ? (spec['mounts'] as SpecMount[]) : [];
  const out: SpecMount[] = [];
  let n = 0;
  for (const m of mounts) {
    if (!isBind(m) || typeof m.source !== 'string') {
      out.push(m);
      continue;
    }
    let isDir: boolean;
    try {
      isDir = (await stat(m.source)).isDirectory();
    } catch {
      throw new HakoError(
        'BUNDLE_INVALID',
        `bind mount source ${m.source} (for ${String(m.destination)}) does not exist`,
      );
    }
    const name = `mount-${n++}`;
    const target = join(hostContainerDir, 'mounts', name);
    await mkdir(join(hostContainerDir, 'mounts'), { recursive: true });
    if (isDir) await mkdir(target);
    else await writeFile(target, '');
    const opts = Array.isArray(m.options) ? (m.options as string[]) : [];
    await mounter.bind(m.source, target, { readonly: opts.includes('ro') });
    out.push({ ...m, source: `${guestContainerDir}/mounts/${name}` });
  }
  return mounts.length > 0 ? { ...spec, mounts: out } : { ...spec };
}
