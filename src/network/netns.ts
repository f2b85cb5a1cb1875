// Reads a pod's network namespace: `ip -j` run inside it (nsenter --net,
// which enters the network namespace alone: `ip netns exec` would also
// remount /sys). The namespace is named by a path (CNI's
// /var/run/netns/cni-…, or /proc/PID/ns/net).
import { stat } from 'node:fs/promises';
import { HakoError } from '../errors.js';
import type { Runner, RunResult } from '../sys/runner.js';
import { podNetwork, type PodNetwork } from './pod-network.js';

const IP_TIMEOUT_MS = 10_000;

/**
 * Names the namespace the command that made a relay ran in, for the relay,
 * which lives in the container's namespace (relay-netns.ts).
 */
export const HOST_NETNS_ENV = 'HAKO_HOST_NETNS';

/** "dev:ino" of the host's network namespace: this process's, unless the command that started it said. */
export async function hostNetnsId(): Promise<string> {
  const given = process.env[HOST_NETNS_ENV];
  if (given !== undefined && /^\d+:\d+$/.test(given)) return given;
  const own = await stat('/proc/self/ns/net');
  return `${own.dev}:${own.ino}`;
}

/**
 * Refuses a path that names nothing, or the host's own network namespace:
 * its interfaces would be redirected into the VM.
 */
export async function checkPodNetns(netns: string): Promise<void> {
  let st;
  try {
    st = await stat(netns);
  } catch {
    throw new HakoError('INVALID_ARGUMENT', `network namespace ${netns} does not exist`);
  }
  if (`${st.dev}:${st.ino}` === (await hostNetnsId())) {
    throw new HakoError(
      'INVALID_ARGUMENT',
      `network namespace ${netns} is the host's own: only a pod's namespace is carried into the VM`,
    );
  }
}

/** Runs `ip ARGS` in the namespace at `netns` (undefined: this process's own); its JSON output. */
export async function ipJson(
  runner: Runner,
  netns: string | undefined,
  args: readonly string[],
): Promise<unknown> {
  const enter = netns !== undefined ? ['nsenter', `--net=${netns}`] : [];
  const where = netns !== undefined ? `network namespace ${netns}` : "the host's network";
  const r = await runner.run([...enter, 'ip', '-j', ...args], { timeoutMs: IP_TIMEOUT_MS });
  if (r.code !== 0) {
    throw new HakoError('INVALID_ARGUMENT', `${where}: ip ${args.join(' ')}: ${r.stderr.trim()}`);
  }
  try {
    return JSON.parse(r.stdout.trim() === '' ? '[]' : r.stdout) as unknown;
  } catch {
    throw new HakoError('INTERNAL', `${where}: ip ${args.join(' ')} printed no JSON`);
  }
}

/** The pod's network in the namespace at `netns`; a path that names no namespace is refused, named. */
export async function readPodNetwork(runner: Runner, netns: string): Promise<PodNetwork> {
  await checkPodNetns(netns);
  // Two processes in all (ip's batch mode), for a start's sake; IPv6 routes need a flag of their own.
  // Both run at once; a path that names no namespace is reported by the first, named once.
  const main = ipBatch(
    runner,
    netns,
    ['-d'],
    ['link show', 'addr show', 'route show table main', 'neigh show nud permanent'],
  );
  const v6 = ipBatch(runner, netns, ['-6'], ['route show table main']);
  v6.catch(() => undefined);
  const [links, addrs, routes4, neighbors] = await main;
  const [routes6] = await v6;
  return podNetwork(links, addrs, routes4, routes6, neighbors, netns);
}

/** Runs `TOOL [FLAGS] -batch -` (ip or tc) in the namespace, `commands` on its stdin, one a line. */
export function batchIn(
  runner: Runner,
  netns: string,
  tool: readonly string[],
  commands: readonly string[],
): Promise<RunResult> {
  return runner.run(['nsenter', `--net=${netns}`, ...tool, '-batch', '-'], {
    input: commands.join('\n') + '\n',
    timeoutMs: IP_TIMEOUT_MS,
  });
}

/** `ip -j FLAGS -batch -` of `commands` in the namespace: one JSON document per command, in order. */
async function ipBatch(
  runner: Runner,
  netns: string,
  flags: readonly string[],
  commands: readonly string[],
): Promise<unknown[]> {
  const what = `network namespace ${netns}: ip ${[...flags, commands.join('; ')].join(' ')}`;
  const r = await batchIn(runner, netns, ['ip', '-j', ...flags], commands);
  if (r.code !== 0) throw new HakoError('INVALID_ARGUMENT', `${what}: ${r.stderr.trim()}`);
  const lines = r.stdout.split('\n').filter((l) => l.trim() !== '');
  if (lines.length !== commands.length) throw new HakoError('INTERNAL', `${what}: unexpected output`);
  try {
    return lines.map((l) => JSON.parse(l) as unknown);
  } catch {
    throw new HakoError('INTERNAL', `${what} printed no JSON`);
  }
}
