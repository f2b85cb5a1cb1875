// The OCI spec is applied inside the guest, and the guest is a VM of its own.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { assertClean, exitOf, privateRoot, runHako } from '../helpers/hako.js';
import { makeBundle, rootfsCopy, tempDir } from '../helpers/fixtures.js';

test('env, cwd and args from the OCI spec are applied', async () => {
  const root = privateRoot();
  const fx = tempDir();
  try {
    makeBundle(fx.dir, {
      args: ['sh', '-c', 'echo "$GREETING|$(pwd)|$0|$1"', 'arg0', 'arg1'],
      env: ['PATH=/bin', 'GREETING=hi there'],
      cwd: '/tmp',
    });
    const r = await runHako(root, ['run', '--bundle', fx.dir]);
    assert.equal(exitOf(r), 0, r.stderr);
    assert.equal(r.stdout.toString(), 'hi there|/tmp|arg0|arg1\n');
  } finally {
    fx.remove();
    await assertClean(root);
  }
});

test('-e and -w override the spec', async () => {
  const root = privateRoot();
  try {
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
  } finally {
    await assertClean(root);
  }
});

test("uname -r in the container differs from the host's", async () => {
  const root = privateRoot();
  try {
    const r = await runHako(root, ['run', '--', 'uname', '-r']);
    assert.equal(exitOf(r), 0, r.stderr);
    const guest = r.stdout.toString().trim();
    const host = execFileSync('uname', ['-r']).toString().trim();
    assert.ok(guest.length > 0);
    assert.notEqual(guest, host);
  } finally {
    await assertClean(root);
  }
});

test('a marker file proves the given rootfs is used', async () => {
  const root = privateRoot();
  const fx = tempDir();
  try {
    const rootfs = rootfsCopy(fx.dir);
    const marker = `marker-${process.pid}-${Date.now()}`;
    writeFileSync(join(rootfs, 'marker'), marker);
    const r = await runHako(root, ['run', '--rootfs', rootfs, '--', 'cat', '/marker']);
    assert.equal(exitOf(r), 0, r.stderr);
    assert.equal(r.stdout.toString(), marker);
  } finally {
    fx.remove();
    await assertClean(root);
  }
});

test('a readonly rootfs rejects writes', async () => {
  const root = privateRoot();
  const fx = tempDir();
  try {
    makeBundle(fx.dir, { args: ['sh', '-c', 'echo x > /written'], readonly: true });
    const r = await runHako(root, ['run', '--bundle', fx.dir]);
    assert.notEqual(exitOf(r), 0);
    assert.match(r.stderr, /Read-only file system/);
    assert.equal(
      execFileSync('ls', [join(fx.dir, 'rootfs')])
        .toString()
        .includes('written'),
      false,
    );
  } finally {
    fx.remove();
    await assertClean(root);
  }
});

test('a writable rootfs keeps what the container wrote', async () => {
  const root = privateRoot();
  const fx = tempDir();
  try {
    const rootfs = rootfsCopy(fx.dir);
    const r = await runHako(root, ['run', '--rootfs', rootfs, '--', 'sh', '-c', 'echo kept > /written']);
    assert.equal(exitOf(r), 0, r.stderr);
    assert.equal(execFileSync('cat', [join(rootfs, 'written')]).toString(), 'kept\n');
  } finally {
    fx.remove();
    await assertClean(root);
  }
});
