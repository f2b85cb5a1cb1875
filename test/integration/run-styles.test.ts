// `hako run`'s two styles, told apart by the documented rule
// (src/cli/run-style.ts): a one-word command is a command unless there is a
// bundle; an image name is refused with what is supported.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exitOf, inPrivateRoot, ROOT_ENTRIES, runHako } from '../helpers/hako.js';
import { runCommand } from '../helpers/exec.js';
import { makeBundle, withTempDir } from '../helpers/fixtures.js';
import { HAKO } from '../helpers/paths.js';
import { readdir } from 'node:fs/promises';

test('`hako run hostname`, one word and no bundle, runs the command (docker style)', async () => {
  await inPrivateRoot(async (root) => {
    const r = await runHako(root, ['run', 'hostname']);
    assert.equal(exitOf(r), 0, r.stderr);
    assert.equal(r.stdout.toString(), 'hako\n');
  });
});

test('in a bundle directory, one word is the container id (runc style), and the record goes after the run', async () => {
  await inPrivateRoot((root) =>
    withTempDir(async (dir) => {
      makeBundle(dir, { args: ['sh', '-c', 'echo from-bundle'] });
      const r = await runCommand(['sh', '-c', `cd ${dir} && ${HAKO} --root ${root} run pwd`], {
        timeoutMs: 60_000,
      });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, 'from-bundle\n');
      assert.deepEqual(
        (await readdir(root)).filter((e) => !ROOT_ENTRIES.includes(e)),
        [],
      );
    }),
  );
});

test('a runc-style run that fails names the style it was read as, and how to run a command instead', async () => {
  await inPrivateRoot((root) =>
    withTempDir(async (dir) => {
      writeFileSync(join(dir, 'config.json'), '{');
      const r = await runCommand(['sh', '-c', `cd ${dir} && ${HAKO} --root ${root} run pwd`], {
        timeoutMs: 60_000,
      });
      assert.notEqual(r.code, 0);
      assert.match(
        r.stderr,
        /runc style \(\.\/config\.json is a bundle, so \\"pwd\\" is a container id; to run it as a command: hako run -- pwd\)/,
      );
    }),
  );
});

test('an image by name is refused with what is supported instead', async () => {
  await inPrivateRoot(async (root) => {
    const r = await runHako(root, ['run', 'alpine', '--', 'true']);
    assert.equal(exitOf(r), 125);
    assert.match(r.stderr, /images by name are not supported: "alpine" before "--"/);
    assert.match(r.stderr, /--rootfs DIR/);
  });
});
