// The network namespace a container's spec names by path (a pod's, made by
// CNI, podman, docker or a hook), whose network the sandbox carries into
// its VM. A namespace entry without a path (a new, empty namespace) or no
// entry at all (the host's network) names none.
export function podNetnsPath(spec: Readonly<Record<string, unknown>> | undefined): string | undefined {
  const linux = (spec?.['linux'] ?? {}) as { namespaces?: unknown };
  if (!Array.isArray(linux.namespaces)) return undefined;
  for (const n of linux.namespaces as { type?: unknown; path?: unknown }[]) {
    if (n.type === 'network' && typeof n.path === 'string' && n.path !== '') return n.path;
  }
  return undefined;
}

/** `spec` whose container joins the network namespace at `path` (its only network namespace entry). */
export function withNetnsPath<T extends object>(spec: T, path: string): T {
  const linux = ((spec as { linux?: unknown }).linux ?? {}) as { namespaces?: { type?: unknown }[] };
  const namespaces = (linux.namespaces ?? []).filter((n) => n.type !== 'network');
  return { ...spec, linux: { ...linux, namespaces: [...namespaces, { type: 'network', path }] } };
}
