// Which sandbox (VM) a container belongs to, from its config.json
// annotations: containers of one Kubernetes pod share one VM.
export const SANDBOX_ID_ANNOTATION = 'io.kubernetes.cri.sandbox-id';
export const CONTAINER_TYPE_ANNOTATION = 'io.kubernetes.cri.container-type';
/** An explicit grouping for clients other than CRI. */
export const HAKO_GROUP_ANNOTATION = 'io.hako.sandbox-id';

/**
 * Whether the container is a CRI pod's sandbox (pause) container: its pod
 * is served by containerd's CRI plugin, kubectl port-forward among it.
 */
export function isCriSandbox(annotations: Readonly<Record<string, string>> | undefined): boolean {
  return annotations?.[CONTAINER_TYPE_ANNOTATION] === 'sandbox';
}

/**
 * A container of a CRI pod is in its pod's sandbox, whatever else its
 * annotations say: io.hako.sandbox-id reaches a CRI container from its
 * pod's annotations (pod_annotations), which the pod's author writes, and
 * must not put it in another pod's VM.
 */
export function groupOf(
  containerId: string,
  annotations: Readonly<Record<string, string>> | undefined,
): string {
  const a = annotations ?? {};
  const cri = a[SANDBOX_ID_ANNOTATION];
  if (cri !== undefined || a[CONTAINER_TYPE_ANNOTATION] !== undefined) return cri ?? containerId;
  return a[HAKO_GROUP_ANNOTATION] ?? containerId;
}
