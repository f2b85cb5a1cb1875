// `hako run`'s own network when no pod namespace is given: passt, a
// user-mode network stack in a process of its own (one per sandbox), to
// which QEMU's virtio-net is connected by a Unix socket. The guest gets the
// host's address and default gateway (what passt expects it to use);
// connections to the gateway's address reach the host's loopback (passt's
// gateway mapping), and published ports (`-p`) are passt's port forwards.
// No interface, route or firewall rule is made on the host.
import { chown, mkdir, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { createSocket } from 'node:dgram';
import { dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { HakoError } from '../errors.js';
import type { Child, Runner } from '../sys/runner.js';
import { pathAppears } from '../sys/path-appears.js';
import type { PodNetwork } from './pod-network.js';
import { ipJson } from './netns.js';

export interface PortMap {
  readonly hostIp: string;
  readonly hostPort: number;
  readonly containerPort: number;
  readonly protocol: 'tcp' | 'udp';
}

function bad(message: string): HakoError {
  return new HakoError('INVALID_ARGUMENT', message);
}

/** `-p [HOSTIP:]HOSTPORT:CONTAINERPORT[/tcp|/udp]`; without HOSTIP, 127.0.0.1. */
export function parsePort(value: string): PortMap {
  const m = /^(?:(\d{1,3}(?:\.\d{1,3}){3}):)?(\d{1,5}):(\d{1,5})(?:\/(tcp|udp))?$/.exec(value);
  const hostPort = Number(m?.[2]);
  const containerPort = Number(m?.[3]);
  if (!m || !(hostPort >= 1 && hostPort <= 65535) || !(containerPort >= 1 && containerPort <= 65535)) {
    throw bad(`-p ${value}: expected [HOSTIP:]HOSTPORT:CONTAINERPORT[/udp], ports 1 to 65535`);
  }
  const hostIp = m[1] ?? '127.0.0.1';
  if (hostIp.split('.').some((o) => Number(o) > 255))
    throw bad(`-p ${value}: ${hostIp} is not an IPv4 address`);
  return { hostIp, hostPort, containerPort, protocol: m[4] === 'udp' ? 'udp' : 'tcp' };
}

/** Fails, naming it, if a published port cannot be bound on the host. */
export async function checkPortFree(p: PortMap): Promise<void> {
  const taken = (e: NodeJS.ErrnoException) =>
    bad(
      `-p ${p.hostIp}:${p.hostPort}:${p.containerPort}/${p.protocol}: ${p.hostIp}:${p.hostPort} cannot be bound (${e.code ?? e.message})`,
    );
  if (p.protocol === 'tcp') {
    await new Promise<void>((resolve, reject) => {
      const s = createServer();
      s.once('error', (e: NodeJS.ErrnoException) => reject(taken(e)));
      s.listen({ port: p.hostPort, host: p.hostIp, exclusive: true }, () => s.close(() => resolve()));
    });
    return;
  }
  await new Promise<void>((resolve, reject) => {
    const s = createSocket('udp4');
    s.once('error', (e: NodeJS.ErrnoException) => reject(taken(e)));
    s.bind({ port: p.hostPort, address: p.hostIp, exclusive: true }, () => s.close(() => resolve()));
  });
}

/** passt's port-forward options for `ports`, none else. */
export function passtPortArgs(ports: readonly PortMap[]): string[] {
  const of = (proto: 'tcp' | 'udp') => {
    const specs = ports
      .filter((p) => p.protocol === proto)
      .map((p) => `${p.hostIp}/${p.hostPort}:${p.containerPort}`);
    const flag = proto === 'tcp' ? '-t' : '-u';
    return specs.length === 0 ? [flag, 'none'] : specs.flatMap((s) => [flag, s]);
  };
  return [...of('tcp'), ...of('udp')];
}

/** The uid passt runs as (it refuses root): nobody's. */
const NOBODY = 65534;
const PASST_START_MS = 5000;

/**
 * Starts passt for a sandbox, its socket in `netDir` (made here, nobody's
 * own, under a root that others may only traverse). Resolves once it
 * listens.
 */
/**
 * `hako run`'s own network: outbound through passt, with these ports
 * published. The host's loopback is reachable (at the gateway's address)
 * only with `hostLoopback`: local services must not be every container's.
 */
export interface UserNetwork {
  readonly ports: readonly PortMap[];
  readonly hostLoopback: boolean;
}

export async function startPasst(
  runner: Runner,
  netDir: string,
  net: UserNetwork,
  o: { readonly dieWithParent: boolean; /** Its stderr. */ readonly logFile: string },
): Promise<{ child: Child; socketPath: string }> {
  const { ports } = net;
  for (const p of ports) await checkPortFree(p);
  const dir = netDir;
  await mkdir(dirname(dir), { recursive: true, mode: 0o711 });
  // A passt started anew for the same sandbox (its one-off connection went to a VM that failed) starts clean.
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { mode: 0o700 });
  await chown(dir, NOBODY, NOBODY);
  const socketPath = join(dir, 'passt.sock');
  const argv = [
    'passt',
    '--foreground',
    '--one-off',
    '--quiet',
    '--ipv4-only',
    '--runas',
    `${NOBODY}:${NOBODY}`,
    '--socket',
    socketPath,
    ...(net.hostLoopback ? [] : ['--no-map-gw']),
    ...passtPortArgs(ports),
  ];
  let child: Child;
  try {
    child = await runner.spawn({ argv, dieWithParent: o.dieWithParent, logFile: o.logFile });
  } catch (e) {
    throw new HakoError(
      'HOST_NOT_READY',
      `cannot start passt (hako run's network; apt-get install passt): ${String(e)}`,
    );
  }
  const seen = await pathAppears(socketPath, Date.now() + PASST_START_MS, child.exited);
  if (seen !== 'appeared') {
    child.kill('SIGKILL');
    throw new HakoError('HOST_NOT_READY', `passt did not start (${seen}); see ${o.logFile}`);
  }
  return { child, socketPath };
}

/** A MAC of the locally administered range, for the guest's NIC. */
export function randomMac(): string {
  const b = randomBytes(5);
  return ['02', ...[...b].map((x) => x.toString(16).padStart(2, '0'))].join(':');
}

/**
 * What the guest gets: the host's IPv4 address on the interface of its
 * default route, and that route's gateway (passt answers for both).
 */
export async function userNetworkConfig(runner: Runner, mac: string): Promise<PodNetwork> {
  const [routes, links] = await Promise.all([
    ipJson(runner, undefined, ['route', 'show', 'default']),
    ipJson(runner, undefined, ['-4', 'addr', 'show']),
  ]);
  const [route] = routes as { gateway?: string; dev?: string }[];
  if (!route?.gateway || !route.dev) {
    throw new HakoError(
      'HOST_NOT_READY',
      "hako run's network needs a default route on the host, and it has none: use --network none",
    );
  }
  const link = (links as { ifname?: string; addr_info?: { local?: string; prefixlen?: number }[] }[]).find(
    (l) => l.ifname === route.dev,
  );
  const addr = link?.addr_info?.[0];
  if (!addr?.local) throw new HakoError('HOST_NOT_READY', `the host's ${route.dev} has no IPv4 address`);
  return {
    interfaces: [
      {
        name: 'eth0',
        mac,
        mtu: 65520,
        kind: '',
        addresses: [{ address: addr.local, prefixLen: addr.prefixlen ?? 24 }],
      },
    ],
    routes: [{ gateway: route.gateway, device: 'eth0', scope: 0, ipv6: false }],
    neighbors: [],
  };
}
