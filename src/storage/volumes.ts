// Bind mounts in a container's spec name host paths (CRI's /etc/hosts,
// volumes…), which the guest cannot see. Each becomes a Volume of the
// staging tree (staging.ts) and the spec is rewritten to the guest path
// of that copy. Kernel filesystems (proc, tmpfs…) pass unchanged.
// Semantics are runc's: `bind` copies one mount, `rbind` its submounts
// too; `ro` makes the copy read-only all the way down; a relative source
// is relative to the bundle. An overlay of host directories is mounted in
// the guest over staged copies of them (planOverlay).
import { realpath, stat } from 'node:fs/promises';
import { basename, dirname, isAbsolute, resolve } from 'node:path';
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
}

const optionsOf = (m: SpecMount): string[] =>
  Array.isArray(m.options) ? m.options.filter((o): o is string => typeof o === 'string') : [];

function isBind(m: SpecMount): boolean {
  const opts = optionsOf(m);
  return m.type === 'bind' || opts.includes('bind') || opts.includes('rbind');
}

type Stage = (
  path: string,
  /** Names it in an error. */
  where: string,
  o: { readonly: boolean; recursive: boolean; follow?: boolean },
) => Promise<{ guest: string; isDir: boolean }>;

/**
 * The propagation under which the host's later mounts in a source reach the
 * container. The other way (rshared: the container's mounts reaching the
 * host) cannot be: the container's mounts are the guest kernel's.
 */
const FOLLOWING = ['rslave', 'slave', 'rshared', 'shared'];

const OVERLAY_DIRS = /^(lowerdir|upperdir|workdir)=/;

function isHostOverlay(m: SpecMount): boolean {
  return m.type === 'overlay' && optionsOf(m).some((o) => OVERLAY_DIRS.test(o));
}

/**
 * An overlay of host directories, mounted in the guest over their staged
 * copies: each lower directory read-only; the upper and work directories
 * through their common parent (one host mount, so that the overlay's
 * renames from work to upper stay on one filesystem). Its xattrs are
 * user.overlay.* (`userxattr`): virtio-fs passes no trusted.* xattrs.
 */
async function planOverlay(m: SpecMount, stage: Stage): Promise<SpecMount> {
  const at = `overlay mount ${String(m.destination)}`;
  const opts = optionsOf(m);
  const value = (key: string) => opts.find((o) => o.startsWith(`${key}=`))?.slice(key.length + 1);
  const lower = value('lowerdir');
  const upper = value('upperdir');
  const work = value('workdir');
  if (lower === undefined || lower === '')
    throw new HakoError('BUNDLE_INVALID', `${at}: lowerdir is required`);
  if ((upper === undefined) !== (work === undefined))
    throw new HakoError('BUNDLE_INVALID', `${at}: upperdir and workdir go together`);
  const dirs = [
    ...lower.split(':'),
    ...(upper !== undefined ? [upper] : []),
    ...(work !== undefined ? [work] : []),
  ];
  for (const d of dirs) {
    // The option syntax: a "," or ":" inside a path (escaped) is not taken.
    if (d === '' || /[,:\\]/.test(d))
      throw new HakoError('BUNDLE_INVALID', `${at}: "${d}" is not a plain directory path`);
  }
  const lowers: string[] = [];
  for (const d of lower.split(':')) {
    const { guest, isDir } = await stage(d, `${at}: lowerdir ${d}`, { readonly: true, recursive: false });
    if (!isDir) throw new HakoError('BUNDLE_INVALID', `${at}: lowerdir ${d} is not a directory`);
    lowers.push(guest);
  }
  const rest = opts.filter((o) => !OVERLAY_DIRS.test(o) && o !== 'userxattr');
  const options = [`lowerdir=${lowers.join(':')}`];
  if (upper !== undefined && work !== undefined) {
    const parent = dirname(upper);
    if (dirname(work) !== parent || upper === work) {
      throw new HakoError(
        'BUNDLE_INVALID',
        `${at}: upperdir ${upper} and workdir ${work} must be two directories of one parent, which is shared with the VM`,
      );
    }
    const { guest } = await stage(parent, `${at}: the parent of upperdir, ${parent},`, {
      readonly: false,
      recursive: false,
    });
    options.push(`upperdir=${guest}/${basename(upper)}`, `workdir=${guest}/${basename(work)}`, 'userxattr');
  }
  return { ...m, source: 'overlay', options: [...options, ...rest] };
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
  // Each source becomes a volume; a relative one is resolved against the bundle, and stays in it.
  const stage = async (
    path: string,
    where: string,
    o: { readonly: boolean; recursive: boolean; follow?: boolean },
  ) => {
    if (!isAbsolute(path) && bundleDir === undefined) {
      throw new HakoError(
        'BUNDLE_INVALID',
        `${where} is relative, and there is no bundle to resolve it against`,
      );
    }
    let source = resolve(bundleDir ?? '/', path);
    let isDir: boolean;
    try {
      isDir = (await stat(source)).isDirectory();
    } catch {
      throw new HakoError('BUNDLE_INVALID', `${where} does not exist`);
    }
    if (!isAbsolute(path) && bundleDir !== undefined) {
      // Relative to the bundle, it stays in the bundle: a link in an image
      // must not turn it into any host path.
      source = await realpath(source);
      const bundle = await realpath(bundleDir);
      if (source !== bundle && !source.startsWith(`${bundle}/`)) {
        throw new HakoError('BUNDLE_INVALID', `${where} leads out of the bundle (to ${source})`);
      }
    }
    const name = `mount-${volumes.length}`;
    const { follow, ...rest } = o;
    volumes.push({ source, name, isDir, ...rest, ...(follow === true ? { follow } : {}) });
    return { guest: `${guestMountsDir}/${name}`, isDir };
  };
  for (const m of mounts) {
    refuseUncarried(m);
    if (isHostOverlay(m)) {
      out.push(await planOverlay(m, stage));
      continue;
    }
    if (!isBind(m) || typeof m.source !== 'string') {
      out.push(m);
      continue;
    }
    const opts = optionsOf(m);
    const { guest } = await stage(m.source, `bind mount source ${m.source} (for ${String(m.destination)})`, {
      recursive: opts.includes('rbind'),
      readonly: opts.includes('ro'),
      follow: opts.some((o) => FOLLOWING.includes(o)),
    });
    out.push({ ...m, source: guest });
  }
  return { spec: mounts.length > 0 ? { ...spec, mounts: out } : { ...spec }, volumes };
}
