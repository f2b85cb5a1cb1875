// A pod's network as its namespace holds it (CNI, podman, docker or a hook
// made it), read with `ip -j` and turned into what the guest gets: each
// Ethernet-like interface with its MAC, MTU and addresses, the routes
// (those the kernel makes by itself left out: the guest's kernel makes them
// too) and the permanent neighbours. Pure: the reading is netns.ts's.
import { HakoError } from '../errors.js';

export interface PodInterface {
  readonly name: string;
  readonly mac: string;
  readonly mtu: number;
  /** veth, macvlan… or '' for a physical NIC. */
  readonly kind: string;
  readonly addresses: readonly IpNet[];
}

export interface IpNet {
  readonly address: string;
  readonly prefixLen: number;
}

export interface PodRoute {
  /** Undefined: the default route. */
  readonly destination?: IpNet | undefined;
  readonly gateway?: string | undefined;
  readonly device: string;
  readonly source?: string | undefined;
  /** RT_SCOPE_*: 0 universe, 253 link. */
  readonly scope: number;
  readonly ipv6: boolean;
}

export interface PodNeighbor {
  readonly address: string;
  readonly mac: string;
  readonly device: string;
}

export interface PodNetwork {
  readonly interfaces: readonly PodInterface[];
  readonly routes: readonly PodRoute[];
  readonly neighbors: readonly PodNeighbor[];
}

/** Link kinds a tc mirred redirect carries into the VM (Ethernet frames in and out). */
const CARRIED_KINDS = ['', 'veth', 'macvlan', 'ipvlan', 'macvtap', 'tap'];
/** Names Hako gives its own taps in a pod's namespace: never read back as the pod's. */
export const TAP_SUFFIX = '_hako';

interface IpLink {
  ifname?: string;
  link_type?: string;
  address?: string;
  mtu?: number;
  linkinfo?: { info_kind?: string };
  addr_info?: { family?: string; local?: string; prefixlen?: number; scope?: string }[];
}

interface IpRoute {
  dst?: string;
  gateway?: string;
  dev?: string;
  protocol?: string;
  scope?: string;
  prefsrc?: string;
  type?: string;
}

interface IpNeigh {
  dst?: string;
  dev?: string;
  lladdr?: string;
}

function list<T>(v: unknown, what: string): T[] {
  if (!Array.isArray(v)) throw new HakoError('INTERNAL', `ip -j ${what}: not a JSON list`);
  return v as T[];
}

const SCOPES: Readonly<Record<string, number>> = { global: 0, universe: 0, site: 200, link: 253, host: 254 };

/**
 * The pod's network from `ip -j -d link show` joined with `ip -j addr
 * show`, `ip -j route show table main` (IPv4 and IPv6) and `ip -j neigh
 * show nud permanent`. An interface the VM cannot carry is refused, named.
 */
export function podNetwork(
  links: unknown,
  addrs: unknown,
  routes4: unknown,
  routes6: unknown,
  neighbors: unknown,
  netns: string,
): PodNetwork {
  const kinds = new Map(
    list<IpLink>(links, 'link').map((l) => [l.ifname ?? '', l.linkinfo?.info_kind ?? '']),
  );
  const interfaces: PodInterface[] = [];
  for (const l of list<IpLink>(addrs, 'addr')) {
    const name = l.ifname ?? '';
    if (name === 'lo' || l.link_type === 'loopback' || name.endsWith(TAP_SUFFIX)) continue;
    const kind = kinds.get(name) ?? '';
    if (l.link_type !== 'ether' || !CARRIED_KINDS.includes(kind)) {
      throw new HakoError(
        'INVALID_ARGUMENT',
        `network namespace ${netns}: interface ${name} (${kind || l.link_type || 'unknown'}) cannot be carried into the VM: only Ethernet interfaces (veth, macvlan, ipvlan, tap, a NIC) can`,
      );
    }
    const addresses = (l.addr_info ?? [])
      .filter((a) => (a.family === 'inet' || a.family === 'inet6') && (a.scope ?? 'global') === 'global')
      .map((a) => ({ address: a.local ?? '', prefixLen: a.prefixlen ?? 0 }));
    interfaces.push({ name, mac: (l.address ?? '').toLowerCase(), mtu: l.mtu ?? 1500, kind, addresses });
  }
  const carried = new Set(interfaces.map((i) => i.name));
  const route = (r: IpRoute, ipv6: boolean): PodRoute | undefined => {
    if (
      r.protocol === 'kernel' ||
      !carried.has(r.dev ?? '') ||
      (r.type !== undefined && r.type !== 'unicast')
    )
      return undefined;
    let destination: IpNet | undefined;
    if (r.dst !== undefined && r.dst !== 'default') {
      const [address = '', len] = r.dst.split('/');
      destination = { address, prefixLen: len !== undefined ? Number(len) : ipv6 ? 128 : 32 };
      if (ipv6 && /^f[ef][0-9a-f]{2}:/i.test(address)) return undefined;
    }
    return {
      ...(destination ? { destination } : {}),
      ...(r.gateway !== undefined ? { gateway: r.gateway } : {}),
      device: r.dev ?? '',
      ...(r.prefsrc !== undefined ? { source: r.prefsrc } : {}),
      scope: SCOPES[r.scope ?? 'global'] ?? 0,
      ipv6,
    };
  };
  const podRoutes = [
    ...list<IpRoute>(routes4, 'route').map((r) => route(r, false)),
    ...list<IpRoute>(routes6, 'route -6').map((r) => route(r, true)),
  ].filter((r): r is PodRoute => r !== undefined);
  const podNeighbors = list<IpNeigh>(neighbors, 'neigh')
    .filter((n) => carried.has(n.dev ?? '') && n.lladdr !== undefined && n.dst !== undefined)
    .map((n) => ({ address: n.dst ?? '', mac: (n.lladdr ?? '').toLowerCase(), device: n.dev ?? '' }));
  return { interfaces, routes: podRoutes, neighbors: podNeighbors };
}
