// Test fixtures on disk: bundles and root filesystems built from the
// built-in busybox image, in their own temporary directories.
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Runs `fn` with a temporary directory, removed afterwards. */
export async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const fx = tempDir();
  try {
    await fn(fx.dir);
  } finally {
    fx.remove();
  }
}

/** The built-in busybox rootfs recorded by `hako image build`. */
export function defaultRootfs(): string {
  const current = JSON.parse(readFileSync('/var/cache/hako/current.json', 'utf8')) as { rootfs: string };
  return current.rootfs;
}

export interface Fixture {
  readonly dir: string;
  remove(): void;
}

export function tempDir(prefix = '/tmp/hkf-'): Fixture {
  const dir = mkdtempSync(prefix);
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A copy of the busybox rootfs (so tests may write marker files into it). */
export function rootfsCopy(into: string): string {
  const rootfs = join(into, 'rootfs');
  cpSync(defaultRootfs(), rootfs, { recursive: true, verbatimSymlinks: true });
  return rootfs;
}

export interface BundleOptions {
  readonly args: readonly string[];
  readonly env?: readonly string[];
  readonly cwd?: string;
  readonly readonly?: boolean;
  readonly pidNamespace?: boolean;
  /** Names the network namespace by path (a pod's, as CRI gives it). */
  readonly networkPath?: string;
  readonly sysctl?: Readonly<Record<string, string>>;
}

/** Changes a bundle's config.json in place. */
export function patchSpec(bundle: string, patch: (spec: Record<string, unknown>) => void): void {
  const file = join(bundle, 'config.json');
  const spec = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  patch(spec);
  writeFileSync(file, JSON.stringify(spec));
}

/** Every capability a `docker run --privileged` container has that matters here. */
export const PRIVILEGED_CAPS = [
  'CAP_SYS_ADMIN',
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FOWNER',
  'CAP_FSETID',
  'CAP_MKNOD',
  'CAP_SETUID',
  'CAP_SETGID',
  'CAP_SYS_CHROOT',
  'CAP_KILL',
];

/** Gives the bundle's process those capabilities (all four sets). */
export function privileged(bundle: string): void {
  patchSpec(bundle, (spec) => {
    const p = spec['process'] as Record<string, unknown>;
    p['capabilities'] = Object.fromEntries(
      ['bounding', 'effective', 'permitted', 'inheritable', 'ambient'].map((k) => [k, PRIVILEGED_CAPS]),
    );
  });
}

/** A bundle (config.json + rootfs copy) in `dir`. */
export function makeBundle(dir: string, o: BundleOptions): string {
  rootfsCopy(dir);
  const network =
    o.networkPath !== undefined ? { type: 'network', path: o.networkPath } : { type: 'network' };
  const namespaces: { type: string; path?: string }[] = [
    { type: 'mount' },
    { type: 'uts' },
    { type: 'ipc' },
    network,
  ];
  if (o.pidNamespace !== false) namespaces.push({ type: 'pid' });
  const spec = {
    ociVersion: '1.0.2',
    process: {
      terminal: false,
      user: { uid: 0, gid: 0 },
      args: o.args,
      env: o.env ?? ['PATH=/bin:/usr/bin'],
      cwd: o.cwd ?? '/',
    },
    root: { path: 'rootfs', readonly: o.readonly ?? false },
    hostname: 'bundle',
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'mode=755'] },
      {
        destination: '/dev/pts',
        type: 'devpts',
        source: 'devpts',
        options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620'],
      },
    ],
    linux: { namespaces, ...(o.sysctl ? { sysctl: o.sysctl } : {}) },
  };
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'config.json'), JSON.stringify(spec, null, 1));
  return dir;
}
