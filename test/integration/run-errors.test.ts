// Bad input gets a clear error, a non-zero exit, and leaves nothing behind.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { assertClean, exitOf, privateRoot, runHako } from '../helpers/hako.js';
import { makeBundle, tempDir } from '../helpers/fixtures.js';

test('a missing rootfs is named in the error', async () => {
  const root = privateRoot();
  try {
    const r = await runHako(root, ['run', '--rootfs', '/nonexistent/rootfs', '--', 'true']);
    assert.equal(exitOf(r), 125);
    assert.match(r.stderr, /rootfs \/nonexistent\/rootfs does not exist/);
  } finally {
    await assertClean(root);
  }
});

test('a bundle whose root.path does not exist is named in the error', async () => {
  const root = privateRoot();
  const fx = tempDir();
  try {
    makeBundle(fx.dir, { args: ['true'] });
    const cfg = join(fx.dir, 'config.json');
    writeFileSync(
      cfg,
      JSON.stringify({
        ...JSON.parse((await import('node:fs')).readFileSync(cfg, 'utf8')),
        root: { path: 'gone' },
      }),
    );
    const r = await runHako(root, ['run', '--bundle', fx.dir]);
    assert.equal(exitOf(r), 125);
    assert.match(r.stderr, /gone does not exist/);
  } finally {
    fx.remove();
    await assertClean(root);
  }
});

test('a malformed config.json is reported with its path', async () => {
  const root = privateRoot();
  const fx = tempDir();
  try {
    makeBundle(fx.dir, { args: ['true'] });
    writeFileSync(join(fx.dir, 'config.json'), '{"ociVersion": "1.0.2", "process": ');
    const r = await runHako(root, ['run', '--bundle', fx.dir]);
    assert.equal(exitOf(r), 125);
    assert.match(r.stderr, /config\.json is not valid JSON/);
  } finally {
    fx.remove();
    await assertClean(root);
  }
});

test('a config.json with a wrong field names the field', async () => {
  const root = privateRoot();
  const fx = tempDir();
  try {
    makeBundle(fx.dir, { args: ['true'] });
    writeFileSync(
      join(fx.dir, 'config.json'),
      JSON.stringify({
        ociVersion: '1.0.2',
        root: { path: 'rootfs' },
        process: { cwd: 'relative', args: ['true'] },
      }),
    );
    const r = await runHako(root, ['run', '--bundle', fx.dir]);
    assert.equal(exitOf(r), 125);
    assert.match(r.stderr, /process\.cwd: must be an absolute path/);
  } finally {
    fx.remove();
    await assertClean(root);
  }
});

test('an unknown configuration key is named', async () => {
  const root = privateRoot();
  const fx = tempDir();
  try {
    const config = join(fx.dir, 'hako.toml');
    writeFileSync(config, '[hypervisor.qemu]\ndefault_memory = 256\nturbo_mode = true\n');
    const r = await runHako(root, ['run', '--', 'true'], { config });
    assert.equal(exitOf(r), 125);
    assert.match(r.stderr, /unknown key "hypervisor\.qemu\.turbo_mode"/);
  } finally {
    fx.remove();
    await assertClean(root);
  }
});

test('a command that does not exist exits 127', async () => {
  const root = privateRoot();
  try {
    const r = await runHako(root, ['run', '--', 'no-such-command-here']);
    assert.equal(exitOf(r), 127);
    assert.match(r.stderr, /no-such-command-here/);
    assert.match(r.stderr, /not found/);
  } finally {
    await assertClean(root);
  }
});

test('a command that is not executable exits 126', async () => {
  const root = privateRoot();
  try {
    const r = await runHako(root, ['run', '--', '/etc/passwd']);
    assert.equal(exitOf(r), 126, r.stderr);
    assert.match(r.stderr, /[Pp]ermission denied/);
  } finally {
    await assertClean(root);
  }
});

test('no command at all is a usage error', async () => {
  const root = privateRoot();
  try {
    const r = await runHako(root, ['run']);
    assert.equal(exitOf(r), 125);
    assert.match(r.stderr, /no command given/);
  } finally {
    await assertClean(root);
  }
});
