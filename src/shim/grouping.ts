// Which sandbox (VM) a container belongs to, from its config.json
// annotations: containers of one Kubernetes pod share one VM.
export const SANDBOX_ID_ANNOTATION = 'io.kubernetes.cri.sandbox-id';
export const CONTAINER_TYPE_ANNOTATION = 'io.kubernetes.cri.container-type';
/** An explicit grouping for clients other than CRI. */
export const HAKO_GROUP_ANNOTATION = 'io.hako.sandbox-id';

export function groupOf(
  containerId: string,
  annotations: Readonly<Record<string, string>> | undefined,
): string {
  const a = annotations ?? {};
  return a[HAKO_GROUP_ANNOTATION] ?? a[SANDBOX_ID_ANNOTATION] ?? containerId;
}
