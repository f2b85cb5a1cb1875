// Kata's "tcfilter" model: for each interface of the pod's namespace, a tap
// in that namespace, joined to it by two tc ingress `mirred` redirects
// (what arrives on the interface leaves through the tap, towards the VM,
// and back). The interface keeps its MAC and addresses; the guest's NIC
// takes the same ones. Everything made here is removed by removeTaps, on
// every path (it finds what it made by name, from disk alone).
import { HakoError } from '../errors.js';
import type { Runner } from '../sys/runner.js';
import { checkPodNetns } from './netns.js';
import { TAP_SUFFIX, type PodInterface } from './pod-network.js';

export interface TapLink {
  /** The pod's interface (e.g. eth0). */
  readonly device: string;
  /** Hako's tap beside it (tap0_hako). */
  readonly tap: string;
}

const TC_TIMEOUT_MS = 10_000;

const tapName = (index: number) => `tap${index}${TAP_SUFFIX}`;

/** The tap each interface gets, by name: recorded before makeTaps makes them. */
export function tapLinks(interfaces: readonly PodInterface[]): TapLink[] {
  return interfaces.map((i, n) => ({ device: i.name, tap: tapName(n) }));
}

async function inNetns(runner: Runner, netns: string, argv: readonly string[]): Promise<void> {
  const r = await runner.run(['nsenter', `--net=${netns}`, ...argv], { timeoutMs: TC_TIMEOUT_MS });
  if (r.code !== 0)
    throw new HakoError(
      'HOST_NOT_READY',
      `network namespace ${netns}: ${argv.join(' ')}: ${r.stderr.trim()}`,
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
): Promise<TapLink[]> {
  const links = tapLinks(interfaces);
  try {
    for (const [n, i] of interfaces.entries()) {
      const tap = tapName(n);
      const multi = queues > 1 ? ['multi_queue'] : [];
      await inNetns(runner, netns, ['ip', 'tuntap', 'add', 'dev', tap, 'mode', 'tap', 'vnet_hdr', ...multi]);
      await inNetns(runner, netns, ['ip', 'link', 'set', 'dev', tap, 'mtu', String(i.mtu), 'up']);
      for (const dev of [i.name, tap])
        await inNetns(runner, netns, ['tc', 'qdisc', 'add', 'dev', dev, 'ingress']);
      for (const [from, to] of [
        [i.name, tap],
        [tap, i.name],
      ] as const) {
        await inNetns(runner, netns, [
          'tc',
          'filter',
          'add',
          'dev',
          from,
          'parent',
          'ffff:',
          'protocol',
          'all',
          'u32',
          'match',
          'u8',
          '0',
          '0',
          'action',
          'mirred',
          'egress',
          'redirect',
          'dev',
          to,
        ]);
      }
    }
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
  const tolerant = async (argv: readonly string[]) => {
    await runner.run(['nsenter', `--net=${netns}`, ...argv], { timeoutMs: TC_TIMEOUT_MS });
  };
  for (const l of links) {
    if (!l.tap.endsWith(TAP_SUFFIX)) continue;
    await tolerant(['tc', 'qdisc', 'del', 'dev', l.device, 'ingress']);
    await tolerant(['ip', 'link', 'del', 'dev', l.tap]);
  }
}
