// A sandbox's staging tree, the only place where the host prepares what
// its guest sees:
//   <sandbox>/host/<container>/rootfs          the container's root
//   <sandbox>/host/<container>/mounts/mount-N  its bind mounts (volumes)
//   <sandbox>/shared                            a read-only copy of host/
// host/ has shared propagation and shared/ is its slave, made read-only
// (and nosuid, nodev): the shared-fs daemon serves shared/, so the guest
// can write inside the rootfs and volumes mounted there (as far as each
// mount allows) and nowhere else. No directory the host creates, mounts
// on or removes can be changed by the guest, and every operation goes
// through ConfinedFs (no link followed, no removal into a mount).
// This is the fix Kata made after CVE-2020-2026, with Firecracker's rule
// that the guest never names a host path.
import { join } from 'node:path';
import type { FsOp } from '../sys/confined-fs.js';

export const HOST_TREE = 'host';
export const VIEW_TREE = 'shared';

/** What the shared-fs daemon serves. */
export function viewDir(sandboxDir: string): string {
  return join(sandboxDir, VIEW_TREE);
}

/** A host directory or file bind-mounted into a container's staging directory. */
export interface Volume {
  readonly source: string;
  /** Its name under the container's mounts/. */
  readonly name: string;
  readonly isDir: boolean;
  readonly recursive: boolean;
  readonly readonly: boolean;
  /** Mounts made later in the host's source reach the container (rslave, rshared). */
  readonly follow?: boolean;
}

export interface RootfsShare {
  readonly source: string;
  readonly readonly: boolean;
}

const containerDir = (id: string) => `${HOST_TREE}/${id}`;

export function shareOps(): FsOp[] {
  return [{ op: 'share', host: HOST_TREE, view: VIEW_TREE }];
}

/** Mounts a container's rootfs (with its submounts, as runc does) and its volumes. */
export function stageOps(id: string, rootfs: RootfsShare, volumes: readonly Volume[]): FsOp[] {
  const dir = containerDir(id);
  const ops: FsOp[] = [
    { op: 'mkdir', path: `${dir}/rootfs` },
    {
      op: 'bind',
      source: rootfs.source,
      path: `${dir}/rootfs`,
      recursive: true,
      readonly: rootfs.readonly,
    },
  ];
  for (const v of volumes) {
    const path = `${dir}/mounts/${v.name}`;
    ops.push(v.isDir ? { op: 'mkdir', path } : { op: 'file', path });
    const follow = v.follow === true ? { follow: true } : {};
    ops.push({ op: 'bind', source: v.source, path, recursive: v.recursive, readonly: v.readonly, ...follow });
  }
  return ops;
}

/** Undoes stageOps: unmounts the container's rootfs and volumes, removes its directory. */
export function unstageOps(id: string, volumeNames: readonly string[]): FsOp[] {
  const dir = containerDir(id);
  return [
    ...volumeNames.map((n): FsOp => ({ op: 'unmount', path: `${dir}/mounts/${n}` })),
    { op: 'unmount', path: `${dir}/rootfs` },
    { op: 'remove', path: dir },
  ];
}

/** Detaches the whole tree (every container's mounts go with it). */
export function detachOps(): FsOp[] {
  return [
    { op: 'unmount', path: VIEW_TREE },
    { op: 'unmount', path: HOST_TREE },
  ];
}

/** Detaches and removes the whole tree; a removal never enters a mount left behind. */
export function teardownOps(): FsOp[] {
  return [...detachOps(), { op: 'remove', path: HOST_TREE }, { op: 'remove', path: VIEW_TREE }];
}
