// Kata's "tcfilter" model: for each interface of the pod's namespace, a tap
// in that namespace, joined to it by two tc ingress `mirred` redirects
// (what arrives on the interface leaves through the tap, towards the VM,
// and back). The interface keeps its MAC and addresses; the guest's NIC
// takes the same ones. Everything made here is removed by removeTaps, on
// every path (it finds what it made by name, from disk alone).
import { HakoError } from '../errors.js';
import type { Runner } from '../sys/runner.js';
import { batchIn, checkPodNetns } from './netns.js';
import { TAP_SUFFIX, type PodInterface } from './pod-network.js';

export interface TapLink {
  /** The pod's interface (e.g. eth0). */
  readonly device: string;
  /** Hako's tap beside it (tap0_hako). */
  readonly tap: string;
}

const tapName = (index: number) => `tap${index}${TAP_SUFFIX}`;

/** The number in a tap's name (tap3_hako: 3); -1 for a name not ours. */
export function tapIndex(tap: string): number {
  const m = new RegExp(`^tap(\\d+)${TAP_SUFFIX}$`).exec(tap);
  return m ? Number(m[1]) : -1;
}

/** The number the next tap gets: above every tap in `links`. */
export function nextTapIndex(links: readonly TapLink[]): number {
  return Math.max(-1, ...links.map((l) => tapIndex(l.tap))) + 1;
}

/**
 * The tap each interface gets, by name: recorded before makeTaps makes
 * them. Numbered from `first` (nextTapIndex of the taps the sandbox has).
 */
export function tapLinks(interfaces: readonly PodInterface[], first = 0): TapLink[] {
  return interfaces.map((i, n) => ({ device: i.name, tap: tapName(first + n) }));
}

/** `ip` or `tc` in batch mode in the namespace; a failure is named. */
async function mustBatch(
  runner: Runner,
  netns: string,
  tool: 'ip' | 'tc',
  commands: readonly string[],
): Promise<void> {
  const r = await batchIn(runner, netns, [tool], commands);
  if (r.code !== 0)
    throw new HakoError(
      'HOST_NOT_READY',
      `network namespace ${netns}: ${tool} ${commands.join('; ')}: ${r.stderr.trim()}`,
    );
}

/**
 * Makes a tap per interface, with the interface's MTU, `queues` queues
 * (multi_queue above one), and the two redirects. Undoes all of it if a
 * step fails.
 */
export async function makeTaps(
  runner: Runner,
  netns: string,
  interfaces: readonly PodInterface[],
  queues: number,
  first = 0,
): Promise<TapLink[]> {
  const links = tapLinks(interfaces, first);
  const multi = queues > 1 ? ' multi_queue' : '';
  const redirect = (from: string, to: string) =>
    `filter add dev ${from} parent ffff: protocol all u32 match u8 0 0 action mirred egress redirect dev ${to}`;
  try {
    // Two processes in all (ip's and tc's batch modes), however many interfaces.
    await mustBatch(
      runner,
      netns,
      'ip',
      interfaces.flatMap((i, n) => {
        const tap = tapName(first + n);
        return [`tuntap add dev ${tap} mode tap vnet_hdr${multi}`, `link set dev ${tap} mtu ${i.mtu} up`];
      }),
    );
    await mustBatch(
      runner,
      netns,
      'tc',
      interfaces.flatMap((i, n) => {
        const tap = tapName(first + n);
        return [
          `qdisc add dev ${i.name} ingress`,
          `qdisc add dev ${tap} ingress`,
          redirect(i.name, tap),
          redirect(tap, i.name),
        ];
      }),
    );
  } catch (e) {
    await removeTaps(runner, netns, links).catch(() => undefined);
    throw e;
  }
  return links;
}

/**
 * Removes the taps and the interfaces' ingress qdiscs (their filters go
 * with them). What is already gone is fine, and so is a namespace that is
 * gone (its interfaces went with it).
 */
export async function removeTaps(runner: Runner, netns: string, links: readonly TapLink[]): Promise<void> {
  // From a record on disk: never the host's own namespace.
  const gone = await checkPodNetns(netns).then(
    () => false,
    () => true,
  );
  if (gone) return;
  // Only our taps, and names the kernel could have given (one word each: they become batch lines).
  const ours = links.filter((l) => l.tap.endsWith(TAP_SUFFIX) && IFNAME.test(l.tap) && IFNAME.test(l.device));
  if (ours.length === 0) return;
  // Each tool once, going on past what is already gone (-force).
  await Promise.all([
    batchIn(
      runner,
      netns,
      ['tc', '-force'],
      ours.map((l) => `qdisc del dev ${l.device} ingress`),
    ),
    batchIn(
      runner,
      netns,
      ['ip', '-force'],
      ours.map((l) => `link del dev ${l.tap}`),
    ),
  ]);
}

/** An interface name as the kernel allows it: 1 to 15 bytes, no whitespace, `/` or `:`. */
const IFNAME = /^[^\s/:]{1,15}$/;
