// Isolation, tried as an attacker would, with real VMs: a privileged
// container that mounts the shared-fs tag itself, the built-in image
// written to, mounts that must not propagate back or be writable, the
// confinement of QEMU and virtiofsd, and hostile bundles.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  statSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  assertClean,
  commandsNaming,
  exitOf,
  inPrivateRoot,
  mountsUnder,
  runHako,
  startHako,
} from '../helpers/hako.js';
import { defaultRootfs, makeBundle, patchSpec, privileged, withTempDir } from '../helpers/fixtures.js';

/** Prints OK or REFUSED for each attempt, as `name=OK`. */
function attempts(list: Record<string, string>): string {
  return Object.entries(list)
    .map(([name, cmd]) => `if ${cmd} 2>/dev/null; then echo ${name}=OK; else echo ${name}=REFUSED; fi`)
    .join('; ');
}

function results(out: string): Record<string, string> {
  return Object.fromEntries(
    out
      .split('\n')
      .filter((l) => /^[a-z-]+=(OK|REFUSED)$/.test(l))
      .map((l) => l.split('=') as [string, string]),
  );
}

test('a privileged container that mounts the shared-fs tag can write its own rootfs and nothing else of the staging tree', async () => {
  await inPrivateRoot((root) =>
    withTempDir(async (dir) => {
      const id = 'attacker';
      const share = '/tmp/share';
      const script = [
        `mkdir -p ${share} && mount -t virtiofs hako ${share}`,
        attempts({
          'create-file': `touch ${share}/planted`,
          symlink: `ln -s /etc ${share}/evil`,
          rename: `mv ${share}/${id} ${share}/moved`,
          'create-dir': `mkdir ${share}/${id}/x`,
          'symlink-in-container-dir': `ln -s / ${share}/${id}/mounts`,
          'replace-rootfs': `rmdir ${share}/${id}/rootfs`,
          'own-rootfs': `touch ${share}/${id}/rootfs/written-through-the-tag`,
        }),
      ].join('; ');
      makeBundle(dir, { args: ['sh', '-c', script] });
      privileged(dir);
      const r = await runHako(root, ['run', '--name', id, '--bundle', dir]);
      assert.equal(exitOf(r), 0, r.stderr);
      assert.deepEqual(results(r.stdout.toString()), {
        'create-file': 'REFUSED',
        symlink: 'REFUSED',
        rename: 'REFUSED',
        'create-dir': 'REFUSED',
        'symlink-in-container-dir': 'REFUSED',
        'replace-rootfs': 'REFUSED',
        'own-rootfs': 'OK',
      });
      assert.ok(existsSync(join(dir, 'rootfs', 'written-through-the-tag')));
    }),
  );
});

/** A fingerprint of a directory tree: names, sizes, modes and mtimes. */
function treeHash(dir: string): string {
  const h = createHash('sha256');
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      const s = statSync(p, { throwIfNoEntry: false }) ?? {
        size: -1,
        mode: 0,
        mtimeMs: 0,
        isDirectory: () => false,
      };
      h.update(`${p}:${s.size}:${s.mode}:${s.mtimeMs}\n`);
      if (s.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return h.digest('hex');
}

test("the built-in image is never written: a second run does not see the first run's file, and the cache is unchanged", async () => {
  await inPrivateRoot(async (root) => {
    const image = defaultRootfs();
    const before = treeHash(image);
    const first = await runHako(root, [
      'run',
      '--',
      'sh',
      '-c',
      'echo x > /bin/pwn && rm /bin/cat && cat /bin/pwn',
    ]);
    assert.equal(exitOf(first), 0, first.stderr);
    assert.equal(first.stdout.toString(), 'x\n', 'the container writes to a layer of its own');
    const second = await runHako(root, [
      'run',
      '--',
      'sh',
      '-c',
      'test ! -e /bin/pwn && test -e /bin/cat && echo pristine',
    ]);
    assert.equal(exitOf(second), 0, second.stderr);
    assert.equal(second.stdout.toString(), 'pristine\n');
    assert.equal(treeHash(image), before);
  });
});

/** A field of /proc/<pid>/status. */
async function status(pid: number, field: string): Promise<string> {
  const text = await readFile(`/proc/${pid}/status`, 'utf8');
  return (new RegExp(`^${field}:\\s*(.*)$`, 'm').exec(text)?.[1] ?? '').trim();
}

const capBit = (caps: string, bit: number) => (BigInt(`0x${caps}`) >> BigInt(bit)) & 1n;

test('QEMU and virtiofsd run confined: seccomp, no_new_privs, QEMU under its own uid without capabilities, both in a cgroup with limits', async () => {
  await inPrivateRoot(async (root) => {
    const run = startHako(root, ['run', '--', 'sh', '-c', 'echo ready; exec sleep 600']);
    let cg: string | undefined;
    try {
      await run.waitForOutput('ready');
      const procs = await commandsNaming(root);
      const qemu = procs.filter((p) => p.argv[0]?.includes('qemu-system'));
      const fsd = procs.filter((p) => p.argv[0]?.includes('virtiofsd'));
      assert.equal(qemu.length, 1);
      assert.ok(fsd.length >= 1);
      for (const p of [...qemu, ...fsd]) {
        assert.equal(await status(p.pid, 'Seccomp'), '2', `seccomp of ${p.argv[0] ?? ''}`);
        assert.equal(await status(p.pid, 'NoNewPrivs'), '1', `no_new_privs of ${p.argv[0] ?? ''}`);
        assert.equal(await status(p.pid, 'CapBnd'), '0000000000000000', `bounding set of ${p.argv[0] ?? ''}`);
      }
      const [q] = qemu;
      assert.ok(q);
      const uid = Number((await status(q.pid, 'Uid')).split(/\s+/)[0]);
      assert.ok(uid >= 2_000_000_000, `QEMU runs as uid ${uid}`);
      assert.equal(await status(q.pid, 'CapEff'), '0000000000000000');
      // QEMU's network, IPC and mount namespaces are its own (no localhost service, no abstract socket).
      for (const ns of ['net', 'ipc', 'mnt']) {
        assert.notEqual(
          readlinkSync(`/proc/${q.pid}/ns/${ns}`),
          readlinkSync(`/proc/self/ns/${ns}`),
          `QEMU's ${ns} ns`,
        );
      }
      // QEMU holds no path of the sandbox: its sockets and files are descriptors.
      assert.ok(!q.argv.some((a) => a.includes('exec:')));
      assert.deepEqual(
        q.argv.filter((a) => a.includes(root)),
        [q.argv[q.argv.indexOf('-name') + 1]],
        'the sandbox directory is named only in -name',
      );
      // The virtiofsd that serves has no mknod, setfcap or sys_admin left.
      for (const p of fsd) {
        const eff = await status(p.pid, 'CapEff');
        for (const bit of [21, 27, 31]) assert.equal(capBit(eff, bit), 0n, `capability ${bit} of virtiofsd`);
      }
      // One cgroup for both, with the VM's limits (default: 512 MiB + 512 MiB under TCG, 2 vCPUs).
      const cgroupOf = async (pid: number) =>
        (await readFile(`/proc/${pid}/cgroup`, 'utf8'))
          .split('\n')
          .find((l) => /:memory:/.test(l))
          ?.split(':')[2];
      cg = await cgroupOf(q.pid);
      assert.match(cg ?? '', /^\/hako\/[0-9a-f]{24}$/);
      for (const p of fsd) assert.equal(await cgroupOf(p.pid), cg);
      const limit = readFileSync(`/sys/fs/cgroup/memory${cg ?? ''}/memory.limit_in_bytes`, 'utf8').trim();
      assert.equal(Number(limit), 1024 << 20);
      assert.equal(readFileSync(`/sys/fs/cgroup/pids${cg ?? ''}/pids.max`, 'utf8').trim(), '272');
      assert.equal(readFileSync(`/sys/fs/cgroup/cpu${cg ?? ''}/cpu.cfs_quota_us`, 'utf8').trim(), '300000');
    } finally {
      run.kill('SIGTERM');
      setTimeout(() => run.kill('SIGTERM'), 500).unref();
      await run.result;
    }
    // The cgroup goes with the sandbox.
    assert.ok(cg !== undefined && !existsSync(`/sys/fs/cgroup/memory${cg}`), `cgroup ${cg ?? ''} removed`);
  });
});

/** Runs `fn` with `dir` bind-mounted on itself with shared propagation, as on a systemd host. */
async function asSharedMount(dir: string, fn: () => Promise<void>): Promise<void> {
  execFileSync('mount', ['--bind', dir, dir]);
  try {
    execFileSync('mount', ['--make-shared', dir]);
    await fn();
  } finally {
    execFileSync('umount', ['-R', '-l', dir]);
  }
}

test("the host's submounts survive a run: unmounting Hako's copy never propagates back (--rootfs with a tmpfs inside)", async () => {
  await inPrivateRoot((root) =>
    withTempDir(async (dir) => {
      makeBundle(dir, { args: ['true'] });
      const rootfs = join(dir, 'rootfs');
      await asSharedMount(rootfs, async () => {
        mkdirSync(join(rootfs, 'srv'), { recursive: true });
        execFileSync('mount', ['-t', 'tmpfs', 'sub', join(rootfs, 'srv')]);
        writeFileSync(join(rootfs, 'srv', 'keep'), 'kept');
        const r = await runHako(root, ['run', '--rootfs', rootfs, '--', 'cat', '/srv/keep']);
        assert.equal(exitOf(r), 0, r.stderr);
        assert.equal(r.stdout.toString(), 'kept');
        assert.deepEqual(await mountsUnder(join(rootfs, 'srv')), [join(rootfs, 'srv')], 'still mounted');
        assert.equal(readFileSync(join(rootfs, 'srv', 'keep'), 'utf8'), 'kept');
      });
    }),
  );
});

test('an ro bind (relative to the bundle) of a tree with a submount is read-only all the way down, even for a privileged container', async () => {
  await inPrivateRoot((root) =>
    withTempDir(async (dir) => {
      const vol = join(dir, 'vol');
      mkdirSync(join(vol, 'sub'), { recursive: true });
      execFileSync('mount', ['-t', 'tmpfs', 'volsub', join(vol, 'sub')]);
      try {
        const script = [
          // The guest's own read-only flag goes; the host's must hold.
          'mount -o remount,rw,bind /vol',
          attempts({ top: 'touch /vol/top', sub: 'touch /vol/sub/f', read: 'test -d /vol/sub' }),
        ].join('; ');
        makeBundle(dir, { args: ['sh', '-c', script] });
        privileged(dir);
        patchSpec(dir, (spec) => {
          (spec['mounts'] as unknown[]).push({
            destination: '/vol',
            type: 'bind',
            source: 'vol',
            options: ['rbind', 'ro'],
          });
        });
        const r = await runHako(root, ['run', '--bundle', dir]);
        assert.equal(exitOf(r), 0, r.stderr);
        assert.deepEqual(results(r.stdout.toString()), { top: 'REFUSED', sub: 'REFUSED', read: 'OK' });
        assert.ok(!existsSync(join(vol, 'sub', 'f')));
      } finally {
        execFileSync('umount', ['-l', join(vol, 'sub')]);
      }
    }),
  );
});

test('hostile config.json (a FIFO, a link to /dev/zero, 100 MB): a fast error, and nothing of the caller is removed', async () => {
  await inPrivateRoot((root) =>
    withTempDir(async (dir) => {
      makeBundle(dir, { args: ['true'] });
      const config = join(dir, 'config.json');
      writeFileSync(join(dir, 'rootfs', 'keep'), 'mine');
      const cases: [string, () => void, RegExp][] = [
        ['fifo', () => execFileSync('mkfifo', [config]), /is not a regular file/],
        ['zero', () => symlinkSync('/dev/zero', config), /is not a regular file/],
        [
          'huge',
          () => (writeFileSync(config, '{'), truncateSync(config, 100 << 20)),
          /more than the 4194304 allowed/,
        ],
      ];
      for (const [name, make, why] of cases) {
        execFileSync('rm', ['-f', config]);
        make();
        for (const args of [
          ['run', '--bundle', dir],
          ['create', '--bundle', dir, `c-${name}`],
        ]) {
          const t0 = Date.now();
          const r = await runHako(root, args, { until: 'exit' });
          assert.notEqual(r.code, 0, `${name}: ${args[0] ?? ''}`);
          assert.match(r.stderr, why, `${name}: ${args[0] ?? ''}`);
          assert.ok(Date.now() - t0 < 5000, `${name}: ${args[0] ?? ''} took ${Date.now() - t0} ms`);
        }
      }
      assert.equal(readFileSync(join(dir, 'rootfs', 'keep'), 'utf8'), 'mine');
      assert.ok(existsSync(join(dir, 'rootfs', 'bin', 'busybox')));
    }),
  );
});

test('a state directory with a comma in its path works (QEMU and virtiofsd options are escaped)', async () => {
  const root = mkdtempSync('/tmp/hk,');
  try {
    const r = await runHako(root, ['run', '--', 'echo', 'comma']);
    assert.equal(exitOf(r), 0, r.stderr);
    assert.equal(r.stdout.toString(), 'comma\n');
  } finally {
    await assertClean(root);
  }
});
