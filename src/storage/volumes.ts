// Bind mounts in a container's spec name host paths (CRI's /etc/hosts,
// volumes…), which the guest cannot see. Each becomes a Volume of the
// staging tree (staging.ts) and the spec is rewritten to the guest path
// of that copy. Kernel filesystems (proc, tmpfs…) pass unchanged.
// Semantics are runc's: `bind` copies one mount, `rbind` its submounts
// too; `ro` makes the copy read-only all the way down; a relative source
// is relative to the bundle.
import { realpath, stat } from 'node:fs/promises';
import { isAbsolute, resolve } from 'node:path';
import { HakoError } from '../errors.js';
import type { Volume } from './staging.js';

interface SpecMount {
  destination?: unknown;
  type?: unknown;
  source?: unknown;
  options?: unknown;
  uidMappings?: unknown;
  gidMappings?: unknown;
}

/** A mount the VM cannot carry, refused by name rather than left to fail in the guest. */
function refuseUncarried(m: SpecMount): void {
  const opts = optionsOf(m);
  const at = `mount ${String(m.destination)}`;
  if (
    m.uidMappings !== undefined ||
    m.gidMappings !== undefined ||
    opts.includes('idmap') ||
    opts.includes('ridmap')
  ) {
    throw new HakoError(
      'BUNDLE_INVALID',
      `${at}: idmapped mounts cannot be carried into the VM (virtio-fs has no id mapping)`,
    );
  }
  if (m.type === 'overlay' && opts.some((o) => /^(lowerdir|upperdir|workdir)=/.test(o))) {
    throw new HakoError(
      'BUNDLE_INVALID',
      `${at}: an overlay of host directories cannot be carried into the VM`,
    );
  }
}

const optionsOf = (m: SpecMount): string[] =>
  Array.isArray(m.options) ? m.options.filter((o): o is string => typeof o === 'string') : [];

function isBind(m: SpecMount): boolean {
  const opts = optionsOf(m);
  return m.type === 'bind' || opts.includes('bind') || opts.includes('rbind');
}

export interface VolumePlan {
  /** The spec with each bind mount's source replaced by its guest path. */
  readonly spec: Record<string, unknown>;
  readonly volumes: Volume[];
}

/**
 * Plans the volumes of `spec`; `guestMountsDir` is where the guest sees the
 * container's mounts/ directory. Fails, naming the mount, when a source is
 * missing or relative without a bundle.
 */
export async function planVolumes(
  spec: Readonly<Record<string, unknown>>,
  bundleDir: string | undefined,
  guestMountsDir: string,
): Promise<VolumePlan> {
  const mounts = Array.isArray(spec['mounts']) ? (spec['mounts'] as SpecMount[]) : [];
  const out: SpecMount[] = [];
  const volumes: Volume[] = [];
  for (const m of mounts) {
    refuseUncarried(m);
    if (!isBind(m) || typeof m.source !== 'string') {
      out.push(m);
      continue;
    }
    const where = `bind mount source ${m.source} (for ${String(m.destination)})`;
    if (!isAbsolute(m.source) && bundleDir === undefined) {
      throw new HakoError(
        'BUNDLE_INVALID',
        `${where} is relative, and there is no bundle to resolve it against`,
      );
    }
    let source = resolve(bundleDir ?? '/', m.source);
    let isDir: boolean;
    try {
      isDir = (await stat(source)).isDirectory();
    } catch {
      throw new HakoError('BUNDLE_INVALID', `${where} does not exist`);
    }
    if (!isAbsolute(m.source) && bundleDir !== undefined) {
      // Relative to the bundle, it stays in the bundle: a link in an image
      // must not turn it into any host path.
      source = await realpath(source);
      const bundle = await realpath(bundleDir);
      if (source !== bundle && !source.startsWith(`${bundle}/`)) {
        throw new HakoError('BUNDLE_INVALID', `${where} leads out of the bundle (to ${source})`);
      }
    }
    const opts = optionsOf(m);
    const name = `mount-${volumes.length}`;
    volumes.push({ source, name, isDir, recursive: opts.includes('rbind'), readonly: opts.includes('ro') });
    out.push({ ...m, source: `${guestMountsDir}/${name}` });
  }
  return { spec: mounts.length > 0 ? { ...spec, mounts: out } : { ...spec }, volumes };
}
