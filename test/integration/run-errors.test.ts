// Bad input gets a clear error, a non-zero exit, and leaves nothing behind.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { inPrivateRoot, exitOf, runHako } from '../helpers/hako.js';
import { makeBundle, withTempDir } from '../helpers/fixtures.js';

test('a missing rootfs is named in the error', async () => {
  await inPrivateRoot(async (root) => {
    const r = await runHako(root, ['run', '--rootfs', '/nonexistent/rootfs', '--', 'true']);
    assert.equal(exitOf(r), 125);
    assert.match(r.stderr, /rootfs \/nonexistent\/rootfs does not exist/);
  });
});

test('a bundle whose root.path does not exist is named in the error', async () => {
  await inPrivateRoot((root) =>
    withTempDir(async (dir) => {
      makeBundle(dir, { args: ['true'] });
      const cfg = join(dir, 'config.json');
      writeFileSync(
        cfg,
        JSON.stringify({
          ...JSON.parse((await import('node:fs')).readFileSync(cfg, 'utf8')),
          root: { path: 'gone' },
        }),
      );
      const r = await runHako(root, ['run', '--bundle', dir]);
      assert.equal(exitOf(r), 125);
      assert.match(r.stderr, /gone does not exist/);
    }),
  );
});

test('a malformed config.json is reported with its path', async () => {
  await inPrivateRoot((root) =>
    withTempDir(async (dir) => {
      makeBundle(dir, { args: ['true'] });
      writeFileSync(join(dir, 'config.json'), '{"ociVersion": "1.0.2", "process": ');
      const r = await runHako(root, ['run', '--bundle', dir]);
      assert.equal(exitOf(r), 125);
      assert.match(r.stderr, /config\.json is not valid JSON/);
    }),
  );
});

test('a config.json with a wrong field names the field', async () => {
  await inPrivateRoot((root) =>
    withTempDir(async (dir) => {
      makeBundle(dir, { args: ['true'] });
      writeFileSync(
        join(dir, 'config.json'),
        JSON.stringify({
          ociVersion: '1.0.2',
          root: { path: 'rootfs' },
          process: { cwd: 'relative', args: ['true'] },
        }),
      );
      const r = await runHako(root, ['run', '--bundle', dir]);
      assert.equal(exitOf(r), 125);
      assert.match(r.stderr, /process\.cwd: must be an absolute path/);
    }),
  );
});

test('an unknown configuration key is named', async () => {
  await inPrivateRoot((root) =>
    withTempDir(async (dir) => {
      const config = join(dir, 'hako.toml');
      writeFileSync(config, '[hypervisor.qemu]\ndefault_memory = 256\nturbo_mode = true\n');
      const r = await runHako(root, ['run', '--', 'true'], { config });
      assert.equal(exitOf(r), 125);
      assert.match(r.stderr, /unknown key "hypervisor\.qemu\.turbo_mode"/);
    }),
  );
});

test('a command that does not exist exits 127', async () => {
  await inPrivateRoot(async (root) => {
    const r = await runHako(root, ['run', '--', 'no-such-command-here']);
    assert.equal(exitOf(r), 127);
    assert.match(r.stderr, /no-such-command-here/);
    assert.match(r.stderr, /not found/);
  });
});

test('a command that is not executable exits 126', async () => {
  await inPrivateRoot(async (root) => {
    const r = await runHako(root, ['run', '--', '/etc/passwd']);
    assert.equal(exitOf(r), 126, r.stderr);
    assert.match(r.stderr, /[Pp]ermission denied/);
  });
});

test('no command at all is a usage error', async () => {
  await inPrivateRoot(async (root) => {
    const r = await runHako(root, ['run']);
    assert.equal(exitOf(r), 125);
    assert.match(r.stderr, /no command given/);
  });
});

test('usage errors exit 125 everywhere, as with docker and podman: an unknown option or command, a missing argument', async () => {
  await inPrivateRoot(async (root) => {
    const cases: [string[], RegExp][] = [
      [['--bogus'], /unknown option '--bogus'/],
      [['run', '--bogus', '--', 'true'], /unknown option '--bogus'/],
      [['state', '--bogus', 'x'], /unknown option '--bogus'/],
      [['bogus'], /unknown command 'bogus'/],
      [['kill'], /missing required argument 'id'/],
    ];
    for (const [args, message] of cases) {
      const r = await runHako(root, args);
      assert.equal(exitOf(r), 125, `hako ${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message);
    }
  });
});
