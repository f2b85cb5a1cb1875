// Docker-style `hako run` flags that change the spec or the VM (pure): -v
// bind mounts, -u user, --memory and --cpus. Checked before any VM starts.
//
// --memory and --cpus size the VM itself, as the container is its only
// tenant: MemTotal and nproc in the container follow them. The VM gets the
// container's memory plus GUEST_OVERHEAD_MIB for its kernel, agent and
// crun; the container's guest cgroup gets exactly the limits.
import { withNetnsPath } from '../network/spec-netns.js';
import { parsePort, type PortMap } from '../network/user-net.js';
import { isAbsolute, normalize } from 'node:path';
import { HakoError } from '../errors.js';
import type { OciSpec } from '../oci/spec.js';
import type { HakoConfig } from '../config/schema.js';

function bad(message: string): HakoError {
  return new HakoError('INVALID_ARGUMENT', message);
}

export interface Volume {
  readonly source: string;
  readonly destination: string;
  readonly readonly: boolean;
}

/** `-v HOST:CONTAINER[:ro|rw]`: both absolute paths. */
export function parseVolume(v: string): Volume {
  const parts = v.split(':');
  const [source, destination, mode] = parts;
  if (parts.length < 2 || parts.length > 3 || !source || !destination) {
    throw bad(`-v ${v}: expected HOST:CONTAINER[:ro]`);
  }
  if (!isAbsolute(source))
    throw bad(`-v ${v}: the host path ${source} must be absolute (named volumes are not supported)`);
  if (!isAbsolute(destination)) throw bad(`-v ${v}: the container path ${destination} must be absolute`);
  if (normalize(destination) === '/') throw bad(`-v ${v}: cannot mount over the container's /`);
  if (mode !== undefined && mode !== 'ro' && mode !== 'rw')
    throw bad(`-v ${v}: the mode ${mode} is not ro or rw`);
  return { source: normalize(source), destination: normalize(destination), readonly: mode === 'ro' };
}

/** `UID[:GID]`, numeric (the group defaults to the uid); undefined if it is not. */
export function numericUser(u: string): { uid: number; gid: number } | undefined {
  const m = /^(\d{1,10})(?::(\d{1,10}))?$/.exec(u);
  const uid = Number(m?.[1]);
  const gid = m?.[2] !== undefined ? Number(m[2]) : uid;
  return m && uid <= 0xfffffffe && gid <= 0xfffffffe ? { uid, gid } : undefined;
}

/** `-u UID[:GID]`: numeric, as names would have to be read from an image's /etc/passwd. */
export function parseUser(u: string): { uid: number; gid: number } {
  const user = numericUser(u);
  if (!user) throw bad(`-u ${u}: expected UID[:GID], numeric`);
  return user;
}

/** What the guest itself needs besides the container's memory. */
const GUEST_OVERHEAD_MIB = 64;
/** The smallest VM that boots the guest image with room to run. */
const MIN_VM_MIB = 128;
const CPU_PERIOD = 100_000;

export interface Sizing {
  /** The container's memory limit, bytes. */
  readonly memoryBytes?: number;
  /** The container's CPUs (docker's --cpus: may be fractional). */
  readonly cpus?: number;
}

/** docker's --memory: a number of bytes with an optional b, k, m or g suffix; at least 4m. */
export function parseMemory(value: string): number {
  const m = /^(\d{1,12})([bkmg]?)$/i.exec(value.trim());
  const unit = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[(m?.[2] ?? '').toLowerCase()];
  const bytes = m && unit !== undefined ? Number(m[1]) * unit : NaN;
  if (!Number.isSafeInteger(bytes)) throw bad(`--memory ${value}: expected a size such as 256m or 1g`);
  if (bytes < 4 * 1024 ** 2) throw bad(`--memory ${value}: at least 4m`);
  if (bytes > 1024 ** 4) throw bad(`--memory ${value}: more than 1 TiB`);
  return bytes;
}

/** docker's --cpus: a positive number, at most `max` (the host's CPUs). */
export function parseCpus(value: string, max: number): number {
  const n = /^\d{1,4}(\.\d{1,3})?$/.test(value.trim()) ? Number(value) : NaN;
  if (!(n >= 0.01)) throw bad(`--cpus ${value}: expected a number of CPUs such as 0.5 or 2`);
  if (n > max) throw bad(`--cpus ${value}: this host has ${max} CPUs`);
  return n;
}

/** The VM for a container of this size: defaults where a flag is absent. */
export function vmSize(s: Sizing, defaults: VmSize): VmSize {
  return {
    vcpus: s.cpus !== undefined ? Math.ceil(s.cpus) : defaults.vcpus,
    memoryMiB:
      s.memoryBytes !== undefined
        ? Math.max(MIN_VM_MIB, Math.ceil(s.memoryBytes / 1024 ** 2) + GUEST_OVERHEAD_MIB)
        : defaults.memoryMiB,
  };
}

export interface VmSize {
  readonly vcpus: number;
  readonly memoryMiB: number;
}

/** `config` with its VM resized. */
export function withVmSize(config: HakoConfig, size: VmSize): HakoConfig {
  return { ...config, hypervisor: { ...config.hypervisor, ...size } };
}

/** What `--network` and `-p` ask for. */
export type NetworkChoice =
  | { readonly kind: 'none' }
  | { readonly kind: 'ns'; readonly path: string }
  | { readonly kind: 'user'; readonly ports: readonly PortMap[]; readonly hostLoopback: boolean };

/**
 * `--network`: `none` (loopback only), `user` (outbound, through passt;
 * `-p` publishes ports and implies it), `user:host-loopback` (also the
 * host's loopback, at the gateway's address) or `ns:PATH` (an existing
 * network namespace, carried into the VM as a pod's is). Without it,
 * `fallback` (or `user` with `-p`).
 */
export function parseNetwork(
  value: string | undefined,
  publish: readonly string[] = [],
  fallback: 'none' | 'user' = 'none',
): NetworkChoice {
  const ports = publish.map(parsePort);
  const mode = value ?? (ports.length > 0 ? 'user' : fallback);
  const user = mode === 'user' || mode === 'user:host-loopback';
  if (ports.length > 0 && !user) throw bad(`-p needs --network user (the default with -p), not ${mode}`);
  if (mode === 'none') return { kind: 'none' };
  if (user) return { kind: 'user', ports, hostLoopback: mode === 'user:host-loopback' };
  if (mode.startsWith('ns:')) {
    const path = mode.slice(3);
    if (!path.startsWith('/')) throw bad(`--network ${mode}: the namespace's path must be absolute`);
    return { kind: 'ns', path };
  }
  throw bad(
    `--network ${mode}: supported are none (loopback only), user (outbound, through passt), user:host-loopback (also the host's loopback) and ns:PATH (an existing network namespace)`,
  );
}

/** `spec` whose container joins the network namespace at `netns` (the sandbox carries it into the VM). */
export function withNetwork(spec: OciSpec, choice: NetworkChoice): OciSpec {
  return choice.kind === 'ns' ? withNetnsPath(spec, choice.path) : spec;
}

/** `spec` with the volumes mounted (recursive binds, as docker's), the user set and the limits. */
export function applyRunFlags(
  spec: OciSpec,
  volumes: readonly Volume[],
  user: string | undefined,
  sizing: Sizing = {},
): OciSpec {
  const mounts = [
    ...(spec.mounts ?? []),
    ...volumes.map((v) => ({
      destination: v.destination,
      type: 'bind',
      source: v.source,
      options: ['rbind', v.readonly ? 'ro' : 'rw'],
    })),
  ];
  const process =
    spec.process && user !== undefined
      ? { ...spec.process, user: { ...spec.process.user, ...parseUser(user) } }
      : spec.process;
  const linux = spec.linux ?? {};
  const resources = { ...((linux['resources'] as Record<string, unknown> | undefined) ?? {}) };
  if (sizing.memoryBytes !== undefined) resources['memory'] = { limit: sizing.memoryBytes };
  if (sizing.cpus !== undefined) {
    resources['cpu'] = { quota: Math.round(sizing.cpus * CPU_PERIOD), period: CPU_PERIOD };
  }
  const limited = Object.keys(resources).length > 0 ? { linux: { ...linux, resources } } : {};
  return { ...spec, mounts, ...(process ? { process } : {}), ...limited };
}
