// A pod's network carried into the VM, on namespaces the test makes itself:
// a "pod" namespace whose eth0 is a veth to a "peer" namespace (as CNI's
// bridge plugin leaves a pod's). All traffic stays between the two;
// nothing of the host's network is touched.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readPodNetwork } from '../../src/network/netns.js';
import { makeTaps, removeTaps } from '../../src/network/tcfilter.js';
import { RealRunner } from '../../src/sys/runner.js';
import { commandsNaming, inPrivateRoot, runHako } from '../helpers/hako.js';
import { makeBundle, patchSpec, withTempDir } from '../helpers/fixtures.js';
import { httpGetEventually, inNetns, sh, withNetns } from '../helpers/netns.js';

interface Pod {
  /** The pod's namespace, by path; 10.88.0.2/16 on its eth0. */
  readonly pod: string;
  /** The peer's namespace; 10.88.0.1/16 on its hkvb. */
  readonly peer: string;
  inPod(...argv: string[]): string;
  inPeer(...argv: string[]): string;
  /** The pod namespace's links and qdiscs, to compare before and after. */
  snapshot(): { links: string; qdiscs: string };
}

/** A pod namespace and its peer, joined by a veth (eth0 in the pod, with `mtu` and `mac`). */
async function withPod(o: { mtu?: number; mac?: string }, fn: (p: Pod) => Promise<void>): Promise<void> {
  await withNetns(2, async ([pod = '', peer = '']) => {
    const p: Pod = {
      pod,
      peer,
      inPod: (...a) => inNetns(pod, ...a),
      inPeer: (...a) => inNetns(peer, ...a),
      snapshot: () => ({
        links: p.inPod('ip', '-j', 'link', 'show'),
        qdiscs: p.inPod('tc', 'qdisc', 'show'),
      }),
    };
    const name = (path: string) => path.split('/').pop() ?? '';
    sh(
      'ip',
      'link',
      'add',
      'hkva',
      'netns',
      name(pod),
      'type',
      'veth',
      'peer',
      'name',
      'hkvb',
      'netns',
      name(peer),
    );
    p.inPod(
      'ip',
      'link',
      'set',
      'hkva',
      'name',
      'eth0',
      'mtu',
      String(o.mtu ?? 1500),
      ...(o.mac !== undefined ? ['address', o.mac] : []),
      'up',
    );
    p.inPod('ip', 'addr', 'add', '10.88.0.2/16', 'dev', 'eth0');
    p.inPeer('ip', 'link', 'set', 'hkvb', 'mtu', String(o.mtu ?? 1500), 'up');
    p.inPeer('ip', 'addr', 'add', '10.88.0.1/16', 'dev', 'hkvb');
    await fn(p);
  });
}

/** busybox httpd in the peer's namespace on `address`:8080, serving `f`. */
function serveFromPeer(peer: string, dir: string, address = '10.88.0.1'): ChildProcess {
  mkdirSync(join(dir, 'www'));
  writeFileSync(join(dir, 'www', 'f'), 'hello from the peer\n');
  const args = [`--net=${peer}`, 'busybox', 'httpd', '-f', '-p', `${address}:8080`, '-h', join(dir, 'www')];
  return spawn('nsenter', args, { stdio: 'ignore' });
}

test("a pod's namespace is read as CNI left it: interface, addresses, routes, permanent neighbours", async () => {
  await withPod({ mtu: 1450, mac: '02:42:0a:58:00:02' }, async (p) => {
    p.inPod('ip', '-6', 'addr', 'add', 'fd00::2/64', 'dev', 'eth0', 'nodad');
    p.inPod('ip', 'route', 'add', 'default', 'via', '10.88.0.1');
    p.inPod(
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
    const net = await readPodNetwork(new RealRunner(), p.pod);
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
  await assert.rejects(readPodNetwork(runner, '/proc/self/ns/net'), /is the host's own/);
  await withNetns(1, async ([pod = '']) => {
    sh('nsenter', `--net=${pod}`, 'ip', 'tuntap', 'add', 'dev', 'tun7', 'mode', 'tun');
    await assert.rejects(readPodNetwork(runner, pod), /interface tun7 \(tun\) cannot be carried into the VM/);
  });
});

test("taps and tc mirred redirects are made in the pod's namespace, with the interface's MTU, and removed without a trace", async () => {
  await withPod({ mtu: 1450 }, async (p) => {
    const runner = new RealRunner();
    const before = p.snapshot();
    const net = await readPodNetwork(runner, p.pod);
    const links = await makeTaps(runner, p.pod, net.interfaces, 2);
    assert.deepEqual(links, [{ device: 'eth0', tap: 'tap0_hako' }]);
    const tap = JSON.parse(p.inPod('ip', '-j', '-d', 'link', 'show', 'tap0_hako')) as { mtu: number }[];
    assert.equal(tap[0]?.mtu, 1450);
    assert.match(
      p.inPod('tc', 'filter', 'show', 'dev', 'eth0', 'ingress'),
      /mirred \(Egress Redirect to device tap0_hako\)/,
    );
    assert.match(
      p.inPod('tc', 'filter', 'show', 'dev', 'tap0_hako', 'ingress'),
      /mirred \(Egress Redirect to device eth0\)/,
    );
    // Read again, the pod's network is still only its own interface.
    assert.deepEqual(
      (await readPodNetwork(runner, p.pod)).interfaces.map((i) => i.name),
      ['eth0'],
    );
    await removeTaps(runner, p.pod, links);
    assert.deepEqual(p.snapshot(), before);
    // Twice is fine (cleanup after a crash may repeat it).
    await removeTaps(runner, p.pod, links);
  });
});

test("a container whose spec names a pod's namespace gets its interface in the VM: it reaches the peer, the peer reaches it, and nothing stays in the namespace", async () => {
  await inPrivateRoot((root) =>
    withTempDir(async (dir) =>
      withPod({ mtu: 9000, mac: '02:42:0a:58:00:02' }, async (p) => {
        p.inPod('ip', 'route', 'add', 'default', 'via', '10.88.0.1');
        // Carried exactly: an IPv6 address and a route through it, and a 9000-byte MTU.
        p.inPod('ip', '-6', 'addr', 'add', 'fd00::2/64', 'dev', 'eth0', 'nodad');
        p.inPod('ip', '-6', 'route', 'add', 'fd01::/64', 'via', 'fd00::1', 'dev', 'eth0');
        const before = p.snapshot();
        const server = serveFromPeer(p.peer, dir);
        const bundle = join(dir, 'b');
        makeBundle(bundle, {
          args: [
            'sh',
            '-c',
            'mkdir -p /www && echo hello from the pod > /www/g && exec httpd -f -p 8080 -h /www',
          ],
          networkPath: p.pod,
        });
        try {
          const run = await runHako(root, ['run', '-d', '--bundle', bundle, 'net1'], { until: 'exit' });
          assert.equal(run.code, 0, run.stderr);
          const show =
            'ip -o addr show eth0; ip link show eth0; cat /proc/net/ipv6_route; wget -qO- http://10.88.0.1:8080/f';
          const ex = await runHako(root, ['exec', 'net1', 'sh', '-c', show]);
          assert.equal(ex.code, 0, ex.stderr);
          const out = ex.stdout.toString();
          assert.match(out, /eth0\s+inet 10\.88\.0\.2\/16/);
          assert.match(out, /mtu 9000/);
          assert.match(out, /eth0\s+inet6 fd00::2\/64 scope global/);
          // fd01::/64 via fd00::1 on eth0 (/proc/net/ipv6_route: destination, length, source, length, next hop …).
          assert.match(out, /^fd010{28} 40 0{32} 00 fd000{26}01 \w+ \w+ \w+ \w+\s+eth0$/m);
          assert.match(out, /link\/ether 02:42:0a:58:00:02/);
          assert.match(out, /hello from the peer\n$/);
          let fromPeer = '';
          for (let i = 0; i < 50 && !fromPeer.includes('hello'); i++) {
            try {
              // (busybox wget's own -T crashes here: the call has a timeout of its own.)
              const argv = [`--net=${p.peer}`, 'busybox', 'wget', '-q', '-O-', 'http://10.88.0.2:8080/g'];
              fromPeer = execFileSync('nsenter', argv, { encoding: 'utf8', timeout: 5000 });
            } catch {
              await new Promise((r) => setTimeout(r, 200));
            }
          }
          assert.equal(fromPeer, 'hello from the pod\n');
          assert.match(p.inPod('ip', 'link', 'show'), /tap0_hako/);
        } finally {
          await runHako(root, ['delete', '--force', 'net1']);
          server.kill('SIGKILL');
        }
        assert.deepEqual(p.snapshot(), before);
      }),
    ),
  );
});

test("after kill -9 of the relay and of QEMU, delete --force removes the taps from the pod's namespace (from disk alone)", async () => {
  await inPrivateRoot((root) =>
    withTempDir(async (dir) =>
      withPod({}, async (p) => {
        const before = p.snapshot();
        const bundle = join(dir, 'b');
        makeBundle(bundle, { args: ['sleep', '600'], networkPath: p.pod });
        const pidFile = join(dir, 'pid');
        const run = await runHako(root, ['run', '-d', '--pid-file', pidFile, '--bundle', bundle, 'net2'], {
          until: 'exit',
        });
        assert.equal(run.code, 0, run.stderr);
        assert.match(p.inPod('ip', 'link', 'show'), /tap0_hako/);
        const relay = Number(readFileSync(pidFile, 'utf8'));
        const qemu = (await commandsNaming(root)).filter((q) => q.argv[0]?.includes('qemu-system'));
        // A VM from a template (the default), its NIC hot-plugged: the tap's queues are on the command line.
        assert.equal(qemu.length, 1);
        assert.ok(qemu[0]?.argv.includes('-incoming'), 'restored from a template');
        assert.ok(
          qemu[0]?.argv.some((a) => /^tap,id=net0,fds=\d+:\d+,vhost=off$/.test(a)),
          'two tap queues (2 vCPUs)',
        );
        for (const pid of [relay, ...qemu.map((q) => q.pid)]) process.kill(pid, 'SIGKILL');
        const del = await runHako(root, ['delete', '--force', 'net2']);
        assert.equal(del.code, 0, del.stderr);
        assert.deepEqual(p.snapshot(), before);
      }),
    ),
  );
});

test('hako run --network ns:PATH joins a namespace the VM carries, from a template or booted; --network none keeps loopback; anything else exits 125, named', async () => {
  await inPrivateRoot((root) =>
    withTempDir(async (dir) =>
      withPod({}, async (p) => {
        const server = serveFromPeer(p.peer, dir);
        // From a template (the default) and in a VM booted without one (a microvm: the NIC on its command line).
        const booted = join(dir, 'booted.toml');
        writeFileSync(booted, '[factory]\nenable_template = false\n');
        try {
          for (const config of [undefined, booted]) {
            const r = await runHako(
              root,
              ['run', '--network', `ns:${p.pod}`, '--', 'wget', '-qO-', 'http://10.88.0.1:8080/f'],
              config !== undefined ? { config } : {},
            );
            assert.equal(r.code, 0, r.stderr);
            assert.equal(r.stdout.toString(), 'hello from the peer\n');
          }
        } finally {
          server.kill('SIGKILL');
        }
        const none = await runHako(root, ['run', '--network', 'none', '--', 'sh', '-c', 'ls /sys/class/net']);
        // Loopback (and the kernel's own sit0), no Ethernet interface.
        assert.match(none.stdout.toString(), /^lo\n/);
        assert.doesNotMatch(none.stdout.toString(), /eth/);
        for (const [value, message] of [
          ['bridge', /--network bridge: supported are none .* and ns:PATH/],
          ['ns:relative', /--network ns:relative: the namespace's path must be absolute/],
          ['ns:/var/run/netns/hako-nope', /network namespace \/var\/run\/netns\/hako-nope does not exist/],
        ] as const) {
          const bad = await runHako(root, ['run', '--network', value, '--', 'true']);
          assert.equal(bad.code, 125, bad.stderr);
          assert.match(bad.stderr, message);
        }
      }),
    ),
  );
});

test("the pid state reports lives in the container's network namespace: the spec's by path, a new one, or the host's when the spec asks for none", async () => {
  await inPrivateRoot((root) =>
    withTempDir(async (dir) =>
      withNetns(1, async ([pod = '']) => {
        const nsOf = (path: string) => statSync(path).ino;
        const cases: [string, string, (ino: number) => void][] = [
          ['by path', pod, (ino) => assert.equal(ino, nsOf(pod))],
          ['new', 'new', (ino) => assert.notEqual(ino, nsOf('/proc/self/ns/net'))],
          ['none', 'none', (ino) => assert.equal(ino, nsOf('/proc/self/ns/net'))],
        ];
        for (const [name, net, check] of cases) {
          const bundle = join(dir, name.replace(' ', '-'));
          makeBundle(bundle, {
            args: ['sleep', '60'],
            ...(net !== 'none' && net !== 'new' ? { networkPath: net } : {}),
          });
          if (net === 'none') {
            patchSpec(bundle, (spec) => {
              const linux = spec['linux'] as { namespaces: { type: string }[] };
              linux.namespaces = linux.namespaces.filter((n) => n.type !== 'network');
            });
          }
          const id = `ns-${name.replace(' ', '-')}`;
          const created = await runHako(root, ['create', '--bundle', bundle, id], { until: 'exit' });
          assert.equal(created.code, 0, created.stderr);
          try {
            const state = JSON.parse((await runHako(root, ['state', id])).stdout.toString()) as {
              pid: number;
            };
            check(nsOf(`/proc/${state.pid}/ns/net`));
          } finally {
            await runHako(root, ['delete', '--force', id]);
          }
        }
      }),
    ),
  );
});

test("a namespace a createRuntime hook configures (docker's and nerdctl's way) is carried into the running VM before the container starts", async () => {
  await inPrivateRoot((root) =>
    withTempDir(async (dir) =>
      withNetns(1, async ([peer = '']) => {
        const peerName = peer.split('/').pop() ?? '';
        inNetns(peer, 'ip', 'link', 'set', 'lo', 'up');
        const bundle = join(dir, 'b');
        makeBundle(bundle, {
          args: [
            'sh',
            '-c',
            'mkdir -p /www && echo hello from the hooked pod > /www/g && exec httpd -f -p 8080 -h /www',
          ],
        });
        // The hook runs in the container's namespace (the relay's): an eth0 there, its peer in the test's namespace.
        const hook = [
          `ip link add eth0 mtu 1450 type veth peer name hkvb netns ${peerName}`,
          'ip addr add 10.89.0.2/16 dev eth0',
          'ip link set eth0 up',
          'ip route add default via 10.89.0.1',
          `ip -n ${peerName} addr add 10.89.0.1/16 dev hkvb`,
          `ip -n ${peerName} link set hkvb up`,
        ].join(' && ');
        patchSpec(bundle, (spec) => {
          spec['hooks'] = { createRuntime: [{ path: '/bin/sh', args: ['sh', '-c', hook] }] };
        });
        let server: ChildProcess | undefined;
        try {
          const created = await runHako(root, ['create', '--bundle', bundle, 'hooked'], { until: 'exit' });
          assert.equal(created.code, 0, created.stderr);
          // The peer's address exists once the hook ran.
          server = serveFromPeer(peer, dir, '10.89.0.1');
          await httpGetEventually(peer, '10.89.0.1', 8080, '/f');
          const started = await runHako(root, ['start', 'hooked']);
          assert.equal(started.code, 0, started.stderr);
          const ex = await runHako(root, [
            'exec',
            'hooked',
            'sh',
            '-c',
            'ip -o -4 addr show eth0; ip link show eth0; wget -qO- http://10.89.0.1:8080/f',
          ]);
          assert.equal(ex.code, 0, ex.stderr);
          const out = ex.stdout.toString();
          assert.match(out, /eth0\s+inet 10\.89\.0\.2\/16/);
          assert.match(out, /mtu 1450/);
          assert.match(out, /hello from the peer\n$/);
          assert.equal(await httpGetEventually(peer, '10.89.0.2', 8080, '/g'), 'hello from the hooked pod\n');
        } finally {
          await runHako(root, ['delete', '--force', 'hooked']);
          server?.kill('SIGKILL');
        }
        // The container's namespace went with the relay, and the veth with it.
        const links = JSON.parse(inNetns(peer, 'ip', '-j', 'link', 'show')) as { ifname: string }[];
        assert.deepEqual(
          links.map((l) => l.ifname),
          ['lo'],
        );
      }),
    ),
  );
});
