// Where things are inside the guest. The agent only mounts under /run/hako.
export const GUEST_RUN_DIR = '/run/hako';
export const GUEST_SHARED_DIR = `${GUEST_RUN_DIR}/shared`;

export function guestContainerDir(containerId: string): string {
  return `${GUEST_SHARED_DIR}/${containerId}`;
}

export function guestRootfs(containerId: string): string {
  return `${guestContainerDir(containerId)}/rootfs`;
}

/** Where the guest mounts a container's writable layer over its read-only rootfs. */
export function guestLayer(containerId: string): string {
  return `${GUEST_RUN_DIR}/layers/${containerId}`;
}
