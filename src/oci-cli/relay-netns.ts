// The network namespace the relay lives in. Its pid is the one `state`,
// `--pid-file` and the hooks' state report, and tools find the container's
// network namespace as /proc/PID/ns/net (podman's look-ups, nerdctl-style
// createRuntime hooks without their annotation). So the relay lives in the
// namespace the spec names, or in a new, empty one when the spec asks for a
// new namespace, never in the host's, which those tools would configure.
// Without a network namespace in the spec (the host's network, as with
// runc) it stays in the host's. Its own work needs none: every socket it
// uses is a path.
import { podNetnsPath } from '../network/spec-netns.js';

/** The command that starts the relay in its namespace (empty: as it is). */
export function relayNetnsWrapper(spec: Readonly<Record<string, unknown>>): string[] {
  const path = podNetnsPath(spec);
  if (path !== undefined) return ['nsenter', `--net=${path}`, '--'];
  return ownsNewNetns(spec) ? ['unshare', '--net', '--'] : [];
}

/** Whether the spec asks for a new network namespace (one without a path): the relay's own. */
export function ownsNewNetns(spec: Readonly<Record<string, unknown>>): boolean {
  if (podNetnsPath(spec) !== undefined) return false;
  const linux = (spec['linux'] ?? {}) as { namespaces?: { type?: unknown }[] };
  return Array.isArray(linux.namespaces) && linux.namespaces.some((n) => n.type === 'network');
}
