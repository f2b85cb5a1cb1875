// Reading a real network namespace the test makes (a veth pair between two
// namespaces of its own, as CNI's bridge plugin leaves a pod's): nothing
// of the host's network is touched.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { commandsNaming, inPrivateRoot, runHako } from '../helpers/hako.js';
import { makeBundle, withTempDir } from '../helpers/fixtures.js';
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

test("a container whose spec names a pod's namespace gets its interface in the VM: it reaches the peer, the peer reaches it, and nothing stays in the namespace", async () => {
  await inPrivateRoot((root) =>
    withTempDir(async (dir) =>
      withNetns(async (pod, peer) => {
        const inPod = (...a: string[]) =>
          execFileSync('nsenter', [`--net=${pod}`, ...a], { encoding: 'utf8' });
        const inPeer = (...a: string[]) =>
          execFileSync('nsenter', [`--net=${peer}`, ...a], { encoding: 'utf8' });
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
        inPod(
          'ip',
          'link',
          'set',
          'hkva',
          'name',
          'eth0',
          'mtu',
          '1400',
          'address',
          '02:42:0a:58:00:02',
          'up',
        );
        inPod('ip', 'addr', 'add', '10.88.0.2/16', 'dev', 'eth0');
        inPod('ip', 'route', 'add', 'default', 'via', '10.88.0.1');
        inPeer('ip', 'link', 'set', 'hkvb', 'up');
        inPeer('ip', 'addr', 'add', '10.88.0.1/16', 'dev', 'hkvb');
        const before = { links: inPod('ip', '-j', 'link', 'show'), qdiscs: inPod('tc', 'qdisc', 'show') };
        // The peer serves a file (a server the test runs in its own namespace).
        mkdirSync(join(dir, 'www'));
        writeFileSync(join(dir, 'www', 'f'), 'hello from the peer\n');
        const server = spawn(
          'nsenter',
          [`--net=${peer}`, 'busybox', 'httpd', '-f', '-p', '10.88.0.1:8080', '-h', join(dir, 'www')],
          { stdio: 'ignore' },
        );
        const bundle = join(dir, 'b');
        makeBundle(bundle, {
          args: [
            'sh',
            '-c',
            'mkdir -p /www && echo hello from the pod > /www/g && exec httpd -f -p 8080 -h /www',
          ],
          networkPath: pod,
        });
        try {
          const run = await runHako(root, ['run', '-d', '--bundle', bundle, 'net1'], { until: 'exit' });
          assert.equal(run.code, 0, run.stderr);
          const ex = await runHako(root, [
            'exec',
            'net1',
            'sh',
            '-c',
            'ip -o addr show eth0; ip link show eth0; wget -qO- http://10.88.0.1:8080/f',
          ]);
          assert.equal(ex.code, 0, ex.stderr);
          const out = ex.stdout.toString();
          assert.match(out, /eth0\s+inet 10\.88\.0\.2\/16/);
          assert.match(out, /mtu 1400/);
          assert.match(out, /link\/ether 02:42:0a:58:00:02/);
          assert.match(out, /hello from the peer\n$/);
          let fromPeer = '';
          for (let i = 0; i < 50 && !fromPeer.includes('hello'); i++) {
            try {
              // (busybox wget's own -T crashes here: the call has a timeout of its own.)
              fromPeer = execFileSync(
                'nsenter',
                [`--net=${peer}`, 'busybox', 'wget', '-q', '-O-', 'http://10.88.0.2:8080/g'],
                {
                  encoding: 'utf8',
                  timeout: 5000,
                },
              );
            } catch {
              await new Promise((r) => setTimeout(r, 200));
            }
          }
          assert.equal(fromPeer, 'hello from the pod\n');
          assert.match(inPod('ip', 'link', 'show'), /tap0_hako/);
        } finally {
          await runHako(root, ['delete', '--force', 'net1']);
          server.kill('SIGKILL');
        }
        assert.deepEqual(
          { links: inPod('ip', '-j', 'link', 'show'), qdiscs: inPod('tc', 'qdisc', 'show') },
          before,
        );
      }),
    ),
  );
});

test("after kill -9 of the relay and of QEMU, delete --force removes the taps from the pod's namespace (from disk alone)", async () => {
  await inPrivateRoot((root) =>
    withTempDir(async (dir) =>
      withNetns(async (pod, peer) => {
        const inPod = (...a: string[]) =>
          execFileSync('nsenter', [`--net=${pod}`, ...a], { encoding: 'utf8' });
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
        inPod('ip', 'link', 'set', 'hkva', 'name', 'eth0', 'up');
        inPod('ip', 'addr', 'add', '10.88.0.2/16', 'dev', 'eth0');
        const before = { links: inPod('ip', '-j', 'link', 'show'), qdiscs: inPod('tc', 'qdisc', 'show') };
        const bundle = join(dir, 'b');
        makeBundle(bundle, { args: ['sleep', '600'], networkPath: pod });
        const pidFile = join(dir, 'pid');
        const run = await runHako(root, ['run', '-d', '--pid-file', pidFile, '--bundle', bundle, 'net2'], {
          until: 'exit',
        });
        assert.equal(run.code, 0, run.stderr);
        assert.match(inPod('ip', 'link', 'show'), /tap0_hako/);
        const relay = Number(readFileSync(pidFile, 'utf8'));
        const qemu = (await commandsNaming(root)).filter((p) => p.argv[0]?.includes('qemu-system'));
        // A VM from a template (the default), its NIC hot-plugged: the tap's queues are on the command line.
        assert.equal(qemu.length, 1);
        assert.ok(qemu[0]?.argv.includes('-incoming'), 'restored from a template');
        assert.ok(
          qemu[0]?.argv.some((a) => /^tap,id=net0,fds=\d+:\d+,vhost=off$/.test(a)),
          'two tap queues (2 vCPUs)',
        );
        for (const pid of [relay, ...qemu.map((p) => p.pid)]) process.kill(pid, 'SIGKILL');
        const del = await runHako(root, ['delete', '--force', 'net2']);
        assert.equal(del.code, 0, del.stderr);
        assert.deepEqual(
          { links: inPod('ip', '-j', 'link', 'show'), qdiscs: inPod('tc', 'qdisc', 'show') },
          before,
        );
      }),
    ),
  );
});

test('hako run --network ns:PATH joins a namespace the VM carries; --network none keeps loopback; anything else exits 125, named', async () => {
  await inPrivateRoot((root) =>
    withTempDir(async (dir) =>
      withNetns(async (pod, peer) => {
        const inPod = (...a: string[]) =>
          execFileSync('nsenter', [`--net=${pod}`, ...a], { encoding: 'utf8' });
        const inPeer = (...a: string[]) =>
          execFileSync('nsenter', [`--net=${peer}`, ...a], { encoding: 'utf8' });
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
        inPod('ip', 'link', 'set', 'hkva', 'name', 'eth0', 'up');
        inPod('ip', 'addr', 'add', '10.88.0.2/16', 'dev', 'eth0');
        inPeer('ip', 'link', 'set', 'hkvb', 'up');
        inPeer('ip', 'addr', 'add', '10.88.0.1/16', 'dev', 'hkvb');
        mkdirSync(join(dir, 'www'));
        writeFileSync(join(dir, 'www', 'f'), 'hello from the peer\n');
        const server = spawn(
          'nsenter',
          [`--net=${peer}`, 'busybox', 'httpd', '-f', '-p', '10.88.0.1:8080', '-h', join(dir, 'www')],
          { stdio: 'ignore' },
        );
        try {
          const r = await runHako(root, [
            'run',
            '--network',
            `ns:${pod}`,
            '--',
            'wget',
            '-qO-',
            'http://10.88.0.1:8080/f',
          ]);
          assert.equal(r.code, 0, r.stderr);
          assert.equal(r.stdout.toString(), 'hello from the peer\n');
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
