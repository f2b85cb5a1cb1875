// Reading a real network namespace the test makes (a veth pair between two
// namespaces of its own, as CNI's bridge plugin leaves a pod's): nothing
// of the host's network is touched.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readPodNetwork } from '../../src/network/netns.js';
import { makeTaps, removeTaps } from '../../src/network/tcfilter.js';
import { RealRunner } from '../../src/sys/runner.js';

function sh(...argv: string[]): void {
  execFileSync(argv[0] ?? '', argv.slice(1), { stdio: 'pipe' });
}

async function withNetns(fn: (pod: string, peer: string) => Promise<void>): Promise<void> {
  const base = `hkt${process.pid}${Math.floor(Math.random() * 1e4)}`;
  const [pod, peer] = [`${base}a`, `${base}b`];
  sh('ip', 'netns', 'add', pod);
  sh('ip', 'netns', 'add', peer);
  try {
    await fn(`/var/run/netns/${pod}`, `/var/run/netns/${peer}`);
  } finally {
    sh('ip', 'netns', 'del', pod);
    sh('ip', 'netns', 'del', peer);
  }
}

test("a pod's namespace is read as CNI left it: interface, addresses, routes, permanent neighbours", async () => {
  await withNetns(async (pod, peer) => {
    const inPod = (...a: string[]) => sh('nsenter', `--net=${pod}`, ...a);
    sh(
      'ip',
      'link',
      'add',
      'hkva',
      'netns',
      pod.split('/').pop() ?? '',
      'type',
      'veth',
      'peer',
      'name',
      'hkvb',
      'netns',
      peer.split('/').pop() ?? '',
    );
    inPod('ip', 'link', 'set', 'hkva', 'name', 'eth0', 'mtu', '1450', 'address', '02:42:0a:58:00:02', 'up');
    inPod('ip', 'addr', 'add', '10.88.0.2/16', 'dev', 'eth0');
    inPod('ip', '-6', 'addr', 'add', 'fd00::2/64', 'dev', 'eth0', 'nodad');
    inPod('ip', 'route', 'add', 'default', 'via', '10.88.0.1');
    inPod(
      'ip',
      'neigh',
      'add',
      '10.88.0.1',
      'lladdr',
      '02:42:0a:58:00:01',
      'dev',
      'eth0',
      'nud',
      'permanent',
    );
    const net = await readPodNetwork(new RealRunner(), pod);
    assert.deepEqual(net, {
      interfaces: [
        {
          name: 'eth0',
          mac: '02:42:0a:58:00:02',
          mtu: 1450,
          kind: 'veth',
          addresses: [
            { address: '10.88.0.2', prefixLen: 16 },
            { address: 'fd00::2', prefixLen: 64 },
          ],
        },
      ],
      routes: [{ gateway: '10.88.0.1', device: 'eth0', scope: 0, ipv6: false }],
      neighbors: [{ address: '10.88.0.1', mac: '02:42:0a:58:00:01', device: 'eth0' }],
    });
  });
});

test('a namespace path that does not exist, or names no namespace, or holds a tun device, is refused by name', async () => {
  const runner = new RealRunner();
  await assert.rejects(
    readPodNetwork(runner, '/var/run/netns/hako-none'),
    /network namespace \/var\/run\/netns\/hako-none does not exist/,
  );
  await assert.rejects(
    readPodNetwork(runner, '/etc/hostname'),
    /network namespace \/etc\/hostname: ip -d link show/,
  );
  await withNetns(async (pod) => {
    sh('nsenter', `--net=${pod}`, 'ip', 'tuntap', 'add', 'dev', 'tun7', 'mode', 'tun');
    await assert.rejects(readPodNetwork(runner, pod), /interface tun7 \(tun\) cannot be carried into the VM/);
  });
});

test("taps and tc mirred redirects are made in the pod's namespace, with the interface's MTU, and removed without a trace", async () => {
  await withNetns(async (pod, peer) => {
    const runner = new RealRunner();
    const inPod = (...a: string[]) => execFileSync('nsenter', [`--net=${pod}`, ...a], { encoding: 'utf8' });
    sh(
      'ip',
      'link',
      'add',
      'hkva',
      'netns',
      pod.split('/').pop() ?? '',
      'type',
      'veth',
      'peer',
      'name',
      'hkvb',
      'netns',
      peer.split('/').pop() ?? '',
    );
    inPod('ip', 'link', 'set', 'hkva', 'name', 'eth0', 'mtu', '1450', 'up');
    const before = inPod('ip', '-j', 'link', 'show');
    const net = await readPodNetwork(runner, pod);
    const links = await makeTaps(runner, pod, net.interfaces, 2);
    assert.deepEqual(links, [{ device: 'eth0', tap: 'tap0_hako' }]);
    const tap = JSON.parse(inPod('ip', '-j', '-d', 'link', 'show', 'tap0_hako')) as {
      mtu: number;
      flags: string[];
    }[];
    assert.equal(tap[0]?.mtu, 1450);
    assert.match(
      inPod('tc', 'filter', 'show', 'dev', 'eth0', 'ingress'),
      /mirred \(Egress Redirect to device tap0_hako\)/,
    );
    assert.match(
      inPod('tc', 'filter', 'show', 'dev', 'tap0_hako', 'ingress'),
      /mirred \(Egress Redirect to device eth0\)/,
    );
    // Read again, the pod's network is still only its own interface.
    assert.deepEqual(
      (await readPodNetwork(runner, pod)).interfaces.map((i) => i.name),
      ['eth0'],
    );
    await removeTaps(runner, pod, links);
    assert.equal(inPod('ip', '-j', 'link', 'show'), before);
    assert.doesNotMatch(inPod('tc', 'qdisc', 'show', 'dev', 'eth0'), /ingress/);
    // Twice is fine (cleanup after a crash may repeat it), and so is the host's namespace: refused, untouched.
    await removeTaps(runner, pod, links);
    await assert.rejects(readPodNetwork(runner, '/proc/self/ns/net'), /is the host's own/);
  });
});
