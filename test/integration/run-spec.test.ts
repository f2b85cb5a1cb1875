// The OCI spec is applied inside the guest, and the guest is a VM of its own.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { inPrivateRoot, exitOf, runHako } from '../helpers/hako.js';
import { makeBundle, patchSpec, rootfsCopy, withTempDir } from '../helpers/fixtures.js';

test('env, cwd and args from the OCI spec are applied', async () => {
  await inPrivateRoot((root) =>
    withTempDir(async (dir) => {
      makeBundle(dir, {
        args: ['sh', '-c', 'echo "$GREETING|$(pwd)|$0|$1"', 'arg0', 'arg1'],
        env: ['PATH=/bin', 'GREETING=hi there'],
        cwd: '/tmp',
      });
      const r = await runHako(root, ['run', '--bundle', dir]);
      assert.equal(exitOf(r), 0, r.stderr);
      assert.equal(r.stdout.toString(), 'hi there|/tmp|arg0|arg1\n');
    }),
  );
});

test('-e and -w override the spec', async () => {
  await inPrivateRoot(async (root) => {
    const r = await runHako(root, [
      'run',
      '-e',
      'A=1',
      '-e',
      'B=two words',
      '-w',
      '/etc',
      '--',
      'sh',
      '-c',
      'echo "$A $B $(pwd)"',
    ]);
    assert.equal(exitOf(r), 0, r.stderr);
    assert.equal(r.stdout.toString(), '1 two words /etc\n');
  });
});

/** Prints which network the container is in: only the VM's own namespace has netdev_max_backlog. */
const WHICH_NETWORK = 'test -e /proc/sys/net/core/netdev_max_backlog && echo vm-network || echo own-network';

test("uname -r in the container differs from the host's; the container uses the VM's network", async () => {
  await inPrivateRoot(async (root) => {
    const script = `uname -r; ${WHICH_NETWORK}; cat /sys/class/net/lo/flags`;
    const r = await runHako(root, ['run', '--', 'sh', '-c', script]);
    assert.equal(exitOf(r), 0, r.stderr);
    const [guest, network, loFlags] = r.stdout.toString().trim().split('\n');
    const host = execFileSync('uname', ['-r']).toString().trim();
    assert.ok(guest !== undefined && guest.length > 0);
    assert.notEqual(guest, host);
    assert.equal(network, 'vm-network');
    // IFF_UP (0x1) with IFF_LOOPBACK (0x8).
    assert.equal(Number(loFlags) & 0x9, 0x9, `lo flags ${String(loFlags)}`);
  });
});

test("a pod's network namespace (named by path) is the VM's, with its net.* sysctls; an unnamed one is the container's own", async () => {
  await inPrivateRoot((root) =>
    withTempDir(async (dir) => {
      const args = ['sh', '-c', `${WHICH_NETWORK}; cat /proc/sys/net/ipv4/ip_unprivileged_port_start`];
      const sysctl = { 'net.ipv4.ip_unprivileged_port_start': '0' };
      // A pod's namespace of the test's own, with loopback only (nothing to carry into the VM).
      const netns = `hako-test-pod-${process.pid}`;
      execFileSync('ip', ['netns', 'add', netns]);
      try {
        for (const [networkPath, want] of [
          [`/var/run/netns/${netns}`, 'vm-network\n0\n'],
          [undefined, 'own-network\n0\n'],
        ] as const) {
          makeBundle(dir, { args, sysctl, ...(networkPath ? { networkPath } : {}) });
          const r = await runHako(root, ['run', '--bundle', dir]);
          assert.equal(exitOf(r), 0, r.stderr);
          assert.equal(r.stdout.toString(), want);
          rmSync(join(dir, 'rootfs'), { recursive: true, force: true });
        }
      } finally {
        execFileSync('ip', ['netns', 'del', netns]);
      }
    }),
  );
});

test('a marker file proves the given rootfs is used', async () => {
  await inPrivateRoot((root) =>
    withTempDir(async (dir) => {
      const rootfs = rootfsCopy(dir);
      const marker = `marker-${process.pid}-${Date.now()}`;
      writeFileSync(join(rootfs, 'marker'), marker);
      const r = await runHako(root, ['run', '--rootfs', rootfs, '--', 'cat', '/marker']);
      assert.equal(exitOf(r), 0, r.stderr);
      assert.equal(r.stdout.toString(), marker);
    }),
  );
});

test('a readonly rootfs rejects writes', async () => {
  await inPrivateRoot((root) =>
    withTempDir(async (dir) => {
      makeBundle(dir, { args: ['sh', '-c', 'echo x > /written'], readonly: true });
      const r = await runHako(root, ['run', '--bundle', dir]);
      assert.notEqual(exitOf(r), 0);
      assert.match(r.stderr, /Read-only file system/);
      assert.equal(
        execFileSync('ls', [join(dir, 'rootfs')])
          .toString()
          .includes('written'),
        false,
      );
    }),
  );
});

test('a writable rootfs keeps what the container wrote', async () => {
  await inPrivateRoot((root) =>
    withTempDir(async (dir) => {
      const rootfs = rootfsCopy(dir);
      const r = await runHako(root, ['run', '--rootfs', rootfs, '--', 'sh', '-c', 'echo kept > /written']);
      assert.equal(exitOf(r), 0, r.stderr);
      assert.equal(execFileSync('cat', [join(rootfs, 'written')]).toString(), 'kept\n');
    }),
  );
});

test('docker-style -v HOST:CONTAINER[:ro] binds a host directory, and -u UID:GID sets the user', async () => {
  await inPrivateRoot((root) =>
    withTempDir(async (dir) => {
      writeFileSync(join(dir, 'f'), 'hostdata\n');
      chmodSync(dir, 0o755); // readable by uid 1000
      const ro = await runHako(root, [
        'run',
        '-v',
        `${dir}:/data:ro`,
        '-u',
        '1000:1001',
        '--',
        'sh',
        '-c',
        'cat /data/f; id -u; id -g; touch /data/x 2>/dev/null || echo refused',
      ]);
      assert.equal(exitOf(ro), 0, ro.stderr);
      assert.equal(ro.stdout.toString(), 'hostdata\n1000\n1001\nrefused\n');
      const rw = await runHako(root, ['run', '-v', `${dir}:/data`, '--', 'sh', '-c', 'echo w > /data/x']);
      assert.equal(exitOf(rw), 0, rw.stderr);
      assert.equal(readFileSync(join(dir, 'x'), 'utf8'), 'w\n');
      for (const [args, message] of [
        [['-v', 'vol:/data'], /-v vol:\/data: the host path vol must be absolute/],
        [['-v', `${dir}:rel`], /the container path rel must be absolute/],
        [['-v', `${dir}:/d:rx`], /the mode rx is not ro or rw/],
        [['-v', `${dir}/missing:/d`], /host path .*missing does not exist/],
        [['-u', 'bob'], /-u bob: expected UID\[:GID\], numeric/],
      ] as const) {
        const r = await runHako(root, ['run', ...args, '--', 'true']);
        assert.equal(exitOf(r), 125, `${args.join(' ')}: ${r.stderr}`);
        assert.match(r.stderr, message);
      }
    }),
  );
});

test('--memory and --cpus size the VM (MemTotal and nproc follow) and set the container cgroup limits', async () => {
  await inPrivateRoot(async (root) => {
    const show = 'grep MemTotal /proc/meminfo; nproc; cat /sys/fs/cgroup/memory.max';
    const sized = await runHako(root, ['run', '--memory', '256m', '--cpus', '1', '--', 'sh', '-c', show]);
    assert.equal(exitOf(sized), 0, sized.stderr);
    const [mem, nproc, limit] = sized.stdout.toString().trim().split('\n');
    const kib = Number(/(\d+) kB/.exec(mem ?? '')?.[1]);
    assert.ok(kib > 256 * 1024 && kib <= (256 + 64) * 1024, `MemTotal ${kib} kB`);
    assert.equal(nproc, '1');
    assert.equal(limit, String(256 * 1024 * 1024));
    const plain = await runHako(root, ['run', '--', 'sh', '-c', show]);
    assert.match(plain.stdout.toString(), /^MemTotal:\s+4\d{5} kB\n2\n/);
    for (const [args, message] of [
      [['--memory', '1x'], /--memory 1x: expected a size such as 256m/],
      [['--memory', '1m'], /--memory 1m: at least 4m/],
      [['--cpus', '0'], /--cpus 0: expected a number of CPUs/],
      [['--cpus', '4096'], /--cpus 4096: this host has \d+ CPUs/],
    ] as const) {
      const r = await runHako(root, ['run', ...args, '--', 'true']);
      assert.equal(exitOf(r), 125, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message);
    }
  });
});

test('spec mounts as runc applies them: a single file, a unix socket, tmpfs data options, noexec/nosuid/nodev binds, rro', async () => {
  await inPrivateRoot((root) =>
    withTempDir(async (dir) => {
      const src = join(dir, 'src');
      mkdirSync(src);
      writeFileSync(join(src, 'file'), 'one file\n');
      const sock = join(src, 'sock');
      const server = createServer().listen(sock);
      await new Promise((r) => server.once('listening', r));
      try {
        const bundle = join(dir, 'b');
        mkdirSync(bundle);
        const script = [
          'cat /etc/one',
          'test -S /run/s.sock && echo socket',
          'stat -c "%a %u %g" /t',
          'grep -E " /(t|nx|rro) " /proc/mounts | cut -d" " -f2,4',
          'touch /rro/x 2>/dev/null || echo rro-refused',
        ].join('; ');
        makeBundle(bundle, { args: ['sh', '-c', script] });
        patchSpec(bundle, (spec) => {
          const mounts = spec['mounts'] as unknown[];
          mounts.push(
            { destination: '/etc/one', type: 'bind', source: join(src, 'file'), options: ['bind', 'ro'] },
            { destination: '/run/s.sock', type: 'bind', source: sock, options: ['bind'] },
            {
              destination: '/t',
              type: 'tmpfs',
              source: 'tmpfs',
              options: ['mode=1770', 'uid=5', 'gid=6', 'size=1m'],
            },
            { destination: '/nx', type: 'bind', source: src, options: ['bind', 'noexec', 'nosuid', 'nodev'] },
            { destination: '/rro', type: 'bind', source: src, options: ['rbind', 'rro'] },
          );
        });
        const r = await runHako(root, ['run', '--bundle', bundle]);
        assert.equal(exitOf(r), 0, r.stderr);
        const out = r.stdout.toString();
        assert.match(out, /^one file\nsocket\n1770 5 6\n/);
        assert.match(out, /^\/t rw,.*mode=1770,uid=5,gid=6/m);
        assert.match(out, /^\/nx rw,nosuid,nodev,noexec/m);
        assert.match(out, /^\/rro ro,/m);
        assert.match(out, /rro-refused/);
      } finally {
        server.close();
      }
    }),
  );
});
