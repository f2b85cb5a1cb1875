// Where things are inside the guest. The agent only mounts under /run/hako.
export const GUEST_RUN_DIR = '/run/hako';
export const GUEST_SHARED_DIR = `${GUEST_RUN_DIR}/shared`;

export function guestContainerDir(containerId: string): string {
  return `${GUEST_SHARED_DIR}/${containerId}`;
}

export function guestRootfs(containerId: string): string {
  return `${guestContainerDir(containerId)}/rootfs`;
}
