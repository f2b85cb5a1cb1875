// Confinement without root: the cgroup layout read from mountinfo, the
// files a sandbox's cgroup gets (v1 and v2, in a scratch directory), the
// per-sandbox uid reservations, and the helper command lines.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cgroupDirs, createCgroup, parseLayout } from '../../src/confinement/cgroups.js';
import { cgroupPath, HostConfinement } from '../../src/confinement/confinement.js';
import { limitsFor } from '../../src/confinement/limits.js';
import { specCgroupPath, specLimits } from '../../src/confinement/spec-cgroup.js';
import { jailedArgv } from '../../src/confinement/jail.js';
import { releaseUid, reserveUid } from '../../src/confinement/vmm-uids.js';

const HYBRID = `30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
31 30 0:28 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
34 30 0:31 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
38 30 0:35 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw`;
const V2 = `30 22 0:27 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime - cgroup2 cgroup2 rw,nsdelegate`;

function scratch(): string {
  return mkdtempSync('/tmp/hkc-');
}

test('the cgroup layout: v1 hierarchies on a hybrid host, else the unified one', () => {
  assert.deepEqual(parseLayout(HYBRID), {
    version: 1,
    roots: { memory: '/sys/fs/cgroup/memory', cpu: '/sys/fs/cgroup/cpu', pids: '/sys/fs/cgroup/pids' },
  });
  assert.deepEqual(parseLayout(V2), { version: 2, root: '/sys/fs/cgroup' });
  assert.equal(parseLayout('26 1 254:0 / / rw - ext4 /dev/vda rw'), undefined);
  assert.deepEqual(cgroupDirs({ version: 2, root: '/c' }, '/hako/x'), ['/c/hako/x']);
});

test("a sandbox's cgroup gets memory, CPU and pids limits sized from its VM (v1 and v2)", () => {
  const limits = limitsFor({ vcpus: 2, memoryMiB: 512, accel: 'tcg' });
  assert.deepEqual(limits, { memoryBytes: (512 + 512) << 20, cpuQuotaUs: 300_000, pids: 272 });
  return (async () => {
    const v1 = scratch();
    const v2 = scratch();
    try {
      const roots = { memory: join(v1, 'memory'), cpu: join(v1, 'cpu'), pids: join(v1, 'pids') };
      await createCgroup({ version: 1, roots }, '/hako/sb', limits);
      assert.equal(
        readFileSync(join(roots.memory, 'hako/sb/memory.limit_in_bytes'), 'utf8'),
        String(1024 << 20),
      );
      assert.equal(readFileSync(join(roots.cpu, 'hako/sb/cpu.cfs_quota_us'), 'utf8'), '300000');
      assert.equal(readFileSync(join(roots.pids, 'hako/sb/pids.max'), 'utf8'), '272');
      writeFileSync(join(v2, 'cgroup.controllers'), 'cpuset cpu io memory pids\n');
      await createCgroup({ version: 2, root: v2 }, '/hako/sb', limits);
      assert.equal(readFileSync(join(v2, 'cgroup.subtree_control'), 'utf8'), '+memory +cpu +pids');
      assert.equal(readFileSync(join(v2, 'hako/cgroup.subtree_control'), 'utf8'), '+memory +cpu +pids');
      assert.equal(readFileSync(join(v2, 'hako/sb/memory.max'), 'utf8'), String(1024 << 20));
      assert.equal(readFileSync(join(v2, 'hako/sb/cpu.max'), 'utf8'), '300000 100000');
      assert.equal(readFileSync(join(v2, 'hako/sb/pids.max'), 'utf8'), '272');
    } finally {
      rmSync(v1, { recursive: true, force: true });
      rmSync(v2, { recursive: true, force: true });
    }
  })();
});

test('each sandbox reserves a uid of its own; a stale reservation is taken over', async () => {
  const dir = join(scratch(), 'uids');
  const sandboxes = scratch();
  try {
    const range = { base: 3_000_000, count: 4 };
    const a = join(sandboxes, 'a');
    const b = join(sandboxes, 'b');
    mkdirSync(a);
    mkdirSync(b);
    const ua = await reserveUid(range, a, dir);
    const ub = await reserveUid(range, b, dir);
    assert.notEqual(ua, ub);
    assert.ok(ua >= 3_000_000 && ua < 3_000_004);
    assert.equal(await reserveUid(range, a, dir), ua, 'the same sandbox keeps its uid');
    // Two more fill the range; a fifth finds none.
    const more = [join(sandboxes, 'c'), join(sandboxes, 'd')];
    for (const m of more) {
      mkdirSync(m);
      await reserveUid(range, m, dir);
    }
    const e = join(sandboxes, 'e');
    mkdirSync(e);
    await assert.rejects(reserveUid(range, e, dir), /no free uid/);
    // b's directory goes (its sandbox was cleaned up, but its reservation stayed): e takes its uid.
    rmSync(b, { recursive: true });
    assert.equal(await reserveUid(range, e, dir), ub);
    await releaseUid(ua, a, dir);
    await releaseUid(ub, a, dir); // not a's: kept
    assert.equal(readFileSync(join(dir, String(ub)), 'utf8'), e);
  } finally {
    rmSync(join(dir, '..'), { recursive: true, force: true });
    rmSync(sandboxes, { recursive: true, force: true });
  }
});

test('two sandboxes racing for one stale uid: exactly one gets it', async () => {
  const base = scratch();
  try {
    const dir = join(base, 'uids');
    const range = { base: 5_000_000, count: 1 };
    const [gone, a, b] = ['gone', 'a', 'b'].map((n) => join(base, n));
    for (const d of [gone, a, b]) mkdirSync(d!);
    await reserveUid(range, gone!, dir);
    rmSync(gone!, { recursive: true });
    for (let round = 0; round < 20; round++) {
      const results = await Promise.allSettled([reserveUid(range, a!, dir), reserveUid(range, b!, dir)]);
      const won = results.filter((r) => r.status === 'fulfilled');
      assert.equal(won.length, 1, `round ${round}: ${JSON.stringify(results)}`);
      const holder = readFileSync(join(dir, '5000000'), 'utf8');
      assert.ok(holder === a || holder === b);
      // The winner's sandbox goes; its reservation is stale for the next round.
      rmSync(holder, { recursive: true });
      mkdirSync(holder === a ? a : b!, { recursive: true });
      writeFileSync(join(dir, '5000000'), gone!);
    }
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});

test('a confined sandbox: QEMU under its own uid with no capabilities, virtiofsd with its few, both in its cgroup', async () => {
  const dir = scratch();
  try {
    const security = { confine: true, vmmUidBase: 4_000_000, vmmUidCount: 16, cgroupParent: '/hako' };
    const c = new HostConfinement({
      security,
      sharedFs: 'virtio-fs',
      mountinfo: HYBRID,
      uidsDir: join(dir, 'uids'),
    });
    const record = await c.plan(join(dir, 'sb'));
    const path = cgroupPath('/hako', join(dir, 'sb'));
    assert.deepEqual(record.cgroup, { path, dirs: cgroupDirs(parseLayout(HYBRID)!, path) });
    assert.ok(record.vmmUid !== undefined && record.vmmUid >= 4_000_000);
    const argv = jailedArgv(
      '/h',
      { uid: 7, gid: 7, keepCaps: [], noNewPrivs: true, seccomp: true, cgroups: ['/c'], noCore: true },
      { dieWithParent: true, fds: [{ fd: 3, how: 'listen', path: '/s/q.sock' }] },
      ['qemu', '-S'],
    );
    assert.deepEqual(argv, [
      '/h',
      'exec',
      '--uid',
      '7',
      '--gid',
      '7',
      '--keep-caps',
      'none',
      '--no-new-privs',
      '--seccomp',
      '--no-core',
      '--cgroup',
      '/c',
      '--pdeathsig',
      '--listen',
      '3=/s/q.sock',
      '--',
      'qemu',
      '-S',
    ]);
    const ninep = new HostConfinement({
      security,
      sharedFs: 'virtio-9p',
      mountinfo: HYBRID,
      uidsDir: join(dir, 'uids'),
    });
    assert.equal((await ninep.plan(join(dir, 'sb2'))).vmmUid, undefined, 'QEMU serving 9p keeps root');
    const off = new HostConfinement({
      security: { ...security, cgroupParent: '' },
      sharedFs: 'virtio-fs',
      mountinfo: HYBRID,
      uidsDir: join(dir, 'uids'),
    });
    assert.equal((await off.plan(join(dir, 'sb3'))).cgroup, undefined);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the spec's cgroupsPath: cgroupfs and systemd forms become a cgroup path; a bad one is refused by name", () => {
  assert.equal(specCgroupPath(undefined, '/hako'), undefined);
  assert.equal(specCgroupPath('', '/hako'), undefined);
  assert.equal(specCgroupPath('/kubepods/besteffort/pod1/abc', '/hako'), '/kubepods/besteffort/pod1/abc');
  assert.equal(specCgroupPath('podman/x', '/hako'), '/hako/podman/x');
  assert.equal(
    specCgroupPath('kubepods-besteffort-pod1.slice:cri-containerd:abc', '/hako'),
    '/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1.slice/cri-containerd-abc.scope',
  );
  assert.equal(specCgroupPath(':docker:abc', '/hako'), '/system.slice/docker-abc.scope');
  for (const [value, why] of [
    ['/a/../etc', /"\.\." is not a plain cgroup name/],
    ['/', /names the root cgroup/],
    ['a:b', /neither a cgroup path nor slice:prefix:name/],
    ['x.slice:p:', /needs a unit name/],
    ['notaslice:p:n', /is not a systemd slice/],
    ['/a b', /"a b" is not a plain cgroup name/],
  ] as const) {
    assert.throws(
      () => specCgroupPath(value, '/hako'),
      (e: Error) =>
        e.message.startsWith(`linux.cgroupsPath ${JSON.stringify(value)}: `) && why.test(e.message),
    );
  }
  assert.throws(() => specCgroupPath(5, '/hako'), /linux.cgroupsPath "5": must be a string/);
});

test("the spec's cgroup gets the container's limits plus the VM's overhead, only those the spec sets", () => {
  const vm = { vcpus: 1, memoryMiB: 256, accel: 'tcg' } as const;
  assert.deepEqual(specLimits(undefined, vm), {});
  assert.deepEqual(
    specLimits({ memory: { limit: 256 << 20 }, cpu: { quota: 50_000, period: 100_000 } }, vm),
    {
      memoryBytes: (256 + 512) << 20,
      cpuQuotaUs: 150_000,
    },
  );
  assert.deepEqual(specLimits({ memory: { limit: -1 }, cpu: { quota: -1 } }, vm), {});
});
