// The guest image the runtime boots: kernel, initramfs and the built-in
// default rootfs. `hako image build` records the current build in
// <image_cache_dir>/current.json; the config may name its own kernel/initrd.
import { access, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import type { HakoConfig } from '../config/schema.js';
import { HakoError } from '../errors.js';

export const CurrentSchema = z.object({
  kernel: z.string(),
  initrd: z.string(),
  rootfs: z.string(),
  kernelRelease: z.string(),
  kernelSource: z.enum(['built', 'debian-cloud']),
});

export type CurrentImage = z.infer<typeof CurrentSchema>;

export interface GuestImage {
  readonly kernel: string;
  readonly initrd: string;
  /** The built-in busybox root filesystem (a directory). */
  readonly rootfs: string;
}

export function currentPath(cacheDir: string): string {
  return join(cacheDir, 'current.json');
}

export async function readCurrent(cacheDir: string): Promise<CurrentImage | undefined> {
  try {
    const r = CurrentSchema.safeParse(JSON.parse(await readFile(currentPath(cacheDir), 'utf8')));
    return r.success ? r.data : undefined;
  } catch {
    return undefined;
  }
}

async function exists(p: string): Promise<boolean> {
  return access(p).then(
    () => true,
    () => false,
  );
}

export async function resolveGuestImage(config: HakoConfig): Promise<GuestImage> {
  const h = config.hypervisor;
  const current = await readCurrent(config.runtime.imageCacheDir);
  const hint = 'run `hako image build` first';
  const kernel = h.kernel || current?.kernel;
  const initrd = h.initrd || current?.initrd;
  const rootfs = current?.rootfs;
  if (!kernel || !(await exists(kernel))) {
    throw new HakoError('HOST_NOT_READY', `guest kernel ${kernel ?? '(none built)'} not found: ${hint}`);
  }
  if (!initrd || !(await exists(initrd))) {
    throw new HakoError('HOST_NOT_READY', `guest initramfs ${initrd ?? '(none built)'} not found: ${hint}`);
  }
  return { kernel, initrd, rootfs: rootfs ?? '' };
}

export async function requireDefaultRootfs(image: GuestImage): Promise<string> {
  if (!image.rootfs || !(await exists(join(image.rootfs, 'bin', 'busybox')))) {
    throw new HakoError(
      'HOST_NOT_READY',
      'the built-in busybox image is missing: run `hako image build` first',
    );
  }
  return image.rootfs;
}
