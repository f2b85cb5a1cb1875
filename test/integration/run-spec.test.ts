// The OCI spec is applied inside the guest, and the guest is a VM of its own.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { inPrivateRoot, exitOf, runHako } from '../helpers/hako.js';
import { makeBundle, rootfsCopy, withTempDir } from '../helpers/fixtures.js';

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

test("uname -r in the container differs from the host's; the VM's loopback is up", async () => {
  await inPrivateRoot(async (root) => {
    const r = await runHako(root, ['run', '--', 'sh', '-c', 'uname -r; cat /sys/class/net/lo/flags']);
    assert.equal(exitOf(r), 0, r.stderr);
    const [guest, loFlags] = r.stdout.toString().trim().split('\n');
    const host = execFileSync('uname', ['-r']).toString().trim();
    assert.ok(guest !== undefined && guest.length > 0);
    assert.notEqual(guest, host);
    // IFF_UP (0x1) with IFF_LOOPBACK (0x8).
    assert.equal(Number(loFlags) & 0x9, 0x9, `lo flags ${String(loFlags)}`);
  });
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
