// Docker-style `hako run` flags that change the spec (pure): -v bind
// mounts and -u user. Checked before any VM starts.
import { isAbsolute, normalize } from 'node:path';
import { HakoError } from '../errors.js';
import type { OciSpec } from '../oci/spec.js';

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

/** `-u UID[:GID]`: numeric, as names would have to be read from an image's /etc/passwd. */
export function parseUser(u: string): { uid: number; gid: number } {
  const m = /^(\d{1,10})(?::(\d{1,10}))?$/.exec(u);
  const uid = Number(m?.[1]);
  const gid = m?.[2] !== undefined ? Number(m[2]) : uid;
  if (!m || uid > 0xfffffffe || gid > 0xfffffffe) throw bad(`-u ${u}: expected UID[:GID], numeric`);
  return { uid, gid };
}

/** `spec` with the volumes mounted (recursive binds, as docker's) and the user set. */
export function applyRunFlags(spec: OciSpec, volumes: readonly Volume[], user: string | undefined): OciSpec {
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
  return { ...spec, mounts, ...(process ? { process } : {}) };
}
