// The staging tree's operations and the volume plan: what the host asks
// the helper to do for a container, and runc's bind-mount semantics.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { shareOps, stageOps, teardownOps, unstageOps } from '../../src/storage/staging.js';
import { planVolumes } from '../../src/storage/volumes.js';
import { FakeConfinedFs } from '../../src/sys/fake-confined-fs.js';

test("a container's staging: its rootfs (with submounts, read-only when asked) and its volumes, each a bind", () => {
  assert.deepEqual(shareOps(), [{ op: 'share', host: 'host', view: 'shared' }]);
  const ops = stageOps('c1', { source: '/img', readonly: true }, [
    { source: '/data', name: 'mount-0', isDir: true, recursive: true, readonly: true },
    { source: '/etc/hosts', name: 'mount-1', isDir: false, recursive: false, readonly: false },
  ]);
  assert.deepEqual(ops, [
    { op: 'mkdir', path: 'host/c1/rootfs' },
    { op: 'bind', source: '/img', path: 'host/c1/rootfs', recursive: true, readonly: true },
    { op: 'mkdir', path: 'host/c1/mounts/mount-0' },
    { op: 'bind', source: '/data', path: 'host/c1/mounts/mount-0', recursive: true, readonly: true },
    { op: 'file', path: 'host/c1/mounts/mount-1' },
    { op: 'bind', source: '/etc/hosts', path: 'host/c1/mounts/mount-1', recursive: false, readonly: false },
  ]);
  assert.deepEqual(unstageOps('c1', ['mount-0', 'mount-1']), [
    { op: 'unmount', path: 'host/c1/mounts/mount-0' },
    { op: 'unmount', path: 'host/c1/mounts/mount-1' },
    { op: 'unmount', path: 'host/c1/rootfs' },
    { op: 'remove', path: 'host/c1' },
  ]);
  assert.deepEqual(
    teardownOps().map((o) => `${o.op}:${'path' in o ? o.path : ''}`),
    ['unmount:shared', 'unmount:host', 'remove:host', 'remove:shared'],
  );
});

test("volumes: bind copies one mount, rbind its submounts, ro goes all the way down, a relative source is the bundle's", async () => {
  const bundle = mkdtempSync('/tmp/hkv-');
  try {
    mkdirSync(join(bundle, 'data'));
    writeFileSync(join(bundle, 'file'), '');
    const spec = {
      mounts: [
        { destination: '/proc', type: 'proc', source: 'proc' },
        { destination: '/d', type: 'bind', source: 'data', options: ['rbind', 'ro'] },
        { destination: '/f', source: join(bundle, 'file'), options: ['bind'] },
        { destination: '/t', type: 'bind', source: 'data' },
      ],
    };
    const plan = await planVolumes(spec, bundle, '/run/hako/shared/c/mounts');
    assert.deepEqual(plan.volumes, [
      { source: join(bundle, 'data'), name: 'mount-0', isDir: true, recursive: true, readonly: true },
      { source: join(bundle, 'file'), name: 'mount-1', isDir: false, recursive: false, readonly: false },
      { source: join(bundle, 'data'), name: 'mount-2', isDir: true, recursive: false, readonly: false },
    ]);
    assert.deepEqual(
      (plan.spec['mounts'] as { source: string }[]).map((m) => m.source),
      [
        'proc',
        '/run/hako/shared/c/mounts/mount-0',
        '/run/hako/shared/c/mounts/mount-1',
        '/run/hako/shared/c/mounts/mount-2',
      ],
    );
    await assert.rejects(
      planVolumes({ mounts: [{ destination: '/x', type: 'bind', source: 'nope' }] }, bundle, '/g'),
      /bind mount source nope \(for \/x\) does not exist/,
    );
    await assert.rejects(
      planVolumes({ mounts: [{ destination: '/x', type: 'bind', source: 'data' }] }, undefined, '/g'),
      /is relative, and there is no bundle/,
    );
    // A link in the bundle (an image's) that leads out of it is refused.
    symlinkSync('/etc', join(bundle, 'out'));
    await assert.rejects(
      planVolumes({ mounts: [{ destination: '/x', type: 'bind', source: 'out' }] }, bundle, '/g'),
      /bind mount source out \(for \/x\) leads out of the bundle \(to \/etc\)/,
    );
  } finally {
    rmSync(bundle, { recursive: true, force: true });
  }
});

test('the fake helper refuses a link on the way and a removal into a mount, as the real one does', async () => {
  const root = mkdtempSync('/tmp/hkv-');
  const fs = new FakeConfinedFs();
  try {
    await fs.apply(root, [...shareOps(), ...stageOps('c', { source: '/img', readonly: false }, [])]);
    symlinkSync('/etc', join(root, 'host', 'evil'));
    await assert.rejects(fs.apply(root, [{ op: 'mkdir', path: 'host/evil/x' }]), /symbolic link/);
    await assert.rejects(fs.apply(root, [{ op: 'remove', path: 'host' }]), /is a mount point: not removed/);
    await fs.apply(root, teardownOps());
    assert.deepEqual([...fs.active.keys()], []);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('mounts the VM cannot carry are refused by name: idmapped mounts', async () => {
  const cases: [Record<string, unknown>, RegExp][] = [
    [
      {
        destination: '/id',
        type: 'bind',
        source: '/tmp',
        options: ['rbind'],
        uidMappings: [{ containerID: 0, hostID: 1, size: 1 }],
      },
      /mount \/id: idmapped mounts cannot be carried/,
    ],
    [
      { destination: '/id2', type: 'bind', source: '/tmp', options: ['rbind', 'idmap'] },
      /mount \/id2: idmapped/,
    ],
  ];
  for (const [mount, message] of cases) {
    await assert.rejects(planVolumes({ mounts: [mount] }, undefined, '/run/hako/shared/c/mounts'), message);
  }
});

test('an overlay of host directories: lower dirs staged read-only, upper and work through their parent, userxattr; bad ones refused by name', async () => {
  const root = mkdtempSync('/tmp/hko-');
  try {
    for (const d of ['l1', 'l2', 'c/up', 'c/wk', 'other/wk']) mkdirSync(join(root, d), { recursive: true });
    const mount = (options: string[]) => ({
      destination: '/ov',
      type: 'overlay',
      source: 'overlay',
      options,
    });
    const guest = '/run/hako/shared/c/mounts';
    const plan = await planVolumes(
      {
        mounts: [
          mount([
            `lowerdir=${root}/l1:${root}/l2`,
            `upperdir=${root}/c/up`,
            `workdir=${root}/c/wk`,
            'index=off',
          ]),
        ],
      },
      undefined,
      guest,
    );
    assert.deepEqual(plan.volumes, [
      { source: `${root}/l1`, name: 'mount-0', isDir: true, readonly: true, recursive: false },
      { source: `${root}/l2`, name: 'mount-1', isDir: true, readonly: true, recursive: false },
      { source: `${root}/c`, name: 'mount-2', isDir: true, readonly: false, recursive: false },
    ]);
    assert.deepEqual((plan.spec['mounts'] as { options: string[] }[])[0]?.options, [
      `lowerdir=${guest}/mount-0:${guest}/mount-1`,
      `upperdir=${guest}/mount-2/up`,
      `workdir=${guest}/mount-2/wk`,
      'userxattr',
      'index=off',
    ]);
    const refused: [string[], RegExp][] = [
      [
        [`lowerdir=${root}/l1`, `upperdir=${root}/c/up`, `workdir=${root}/other/wk`],
        /must be two directories of one parent/,
      ],
      [[`lowerdir=${root}/l1`, `upperdir=${root}/c/up`], /upperdir and workdir go together/],
      [['upperdir=/x', 'workdir=/y'], /lowerdir is required/],
      [[`lowerdir=${root}/l1,x`], /is not a plain directory path/],
      [[`lowerdir=${root}/nope:${root}/l1`], /overlay mount \/ov: lowerdir .*nope does not exist/],
    ];
    for (const [options, message] of refused) {
      await assert.rejects(planVolumes({ mounts: [mount(options)] }, undefined, guest), message);
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
