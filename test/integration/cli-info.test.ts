// `hako version` and `hako env`: what a user or a bug report needs to know.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exitOf, inPrivateRoot, runHako } from '../helpers/hako.js';
import { withTempDir } from '../helpers/fixtures.js';

test('`hako version` names Hako, the OCI spec and the guest kernel', async () => {
  await inPrivateRoot(async (root) => {
    const r = await runHako(root, ['version']);
    assert.equal(exitOf(r), 0, r.stderr);
    assert.match(
      r.stdout.toString(),
      /^hako version \d+\.\d+\.\d+\nspec: 1\.\d+\.\d+\nguest kernel: 6\.1\.\d+ \(built\)\n$/,
    );
  });
});

test('`hako env` prints the configuration in effect, its source, the guest image and the paths, as JSON', async () => {
  await inPrivateRoot((root) =>
    withTempDir(async (dir) => {
      const config = join(dir, 'c.toml');
      writeFileSync(config, '[hypervisor.qemu]\ndefault_memory = 768\n');
      const r = await runHako(root, ['env'], { config });
      assert.equal(exitOf(r), 0, r.stderr);
      const env = JSON.parse(r.stdout.toString()) as {
        config: { source: string; values: { hypervisor: { memoryMiB: number } } };
        image: { kernel: string; initrd: string; rootfs: string };
        paths: { stateDir: string; hostHelper: string };
      };
      assert.equal(env.config.source, config);
      assert.equal(env.config.values.hypervisor.memoryMiB, 768);
      assert.match(env.image.kernel, /\/vmlinux$/);
      assert.equal(env.paths.stateDir, root);
      assert.match(env.paths.hostHelper, /hako-host-helper$/);
    }),
  );
});
