// A hostile guest against the staging tree: an agent built with the
// test-only `hostile` feature (agent/src/hostile.rs) races the tree through
// its own mount of the shared-fs tag, planting links to a host canary under
// every name a container may get and swapping directories, while the host
// creates and removes containers and fails CreateContainer on purpose. The
// host must follow none of it: the canary stays untouched and no mount
// appears outside the sandbox's state directory. The release agent carries
// none of this code.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfigText } from '../../src/config/load.js';
import { silentLogger } from '../../src/log.js';
import { Sandbox } from '../../src/runtime/sandbox.js';
import { defaultSpec } from '../../src/oci/default-spec.js';
import { buildEnv } from '../../src/wiring.js';
import { inPrivateRoot, mountsUnder } from '../helpers/hako.js';
import { defaultRootfs } from '../helpers/fixtures.js';
import { AGENT_BIN, REPO } from '../helpers/paths.js';

const ROUNDS = 8;
let initrd = '';
const build = mkdtempSync('/tmp/hkh-');

before(() => {
  const cargo = ['/root/.cargo/bin/cargo', '/usr/bin/cargo'].find((c) => {
    try {
      execFileSync(c, ['--version']);
      return true;
    } catch {
      return false;
    }
  });
  assert.ok(cargo, 'cargo');
  const agentDir = join(REPO, 'agent');
  const target = join(agentDir, 'target', 'hostile');
  execFileSync(
    cargo,
    ['build', '--release', '--locked', '--quiet', '--features', 'hostile', '--target-dir', target],
    {
      cwd: agentDir,
      stdio: 'inherit',
    },
  );
  initrd = join(build, 'initramfs.cpio');
  execFileSync(
    'sh',
    [
      join(REPO, 'guest/initramfs/build.sh'),
      join(target, 'x86_64-unknown-linux-gnu/release/hako-agent'),
      initrd,
    ],
    { stdio: 'ignore' },
  );
});

function mountPoints(): Set<string> {
  return new Set(
    readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .map((l) => l.split(' ')[4] ?? '')
      .filter((p) => p.length > 0),
  );
}

test('the release agent holds no hostile code', () => {
  assert.ok(!readFileSync(AGENT_BIN).includes('hostile'), 'the word is nowhere in the release agent');
});

test('a hostile guest racing the staging tree while containers come, go and fail to be created: the host follows nothing', async () => {
  const canary = mkdtempSync('/tmp/hkc-canary-');
  writeFileSync(join(canary, 'keep'), 'untouched');
  const rootfs = join(build, 'rootfs');
  execFileSync('cp', ['-a', defaultRootfs(), rootfs]);
  try {
    await inPrivateRoot(async (root) => {
      const current = JSON.parse(readFileSync('/var/cache/hako/current.json', 'utf8')) as { kernel: string };
      const config = parseConfigText(
        [
          '[hypervisor.qemu]',
          `kernel = "${current.kernel}"`,
          `initrd = "${initrd}"`,
          `kernel_params = "hako.hostile=${canary}"`,
          '[agent.hako]',
          'enable_debug = true',
          '[runtime]',
          `state_dir = "${root}"`,
          '[factory]',
          'enable_template = false',
        ].join('\n'),
        'hostile test',
      );
      const env = await buildEnv(config, silentLogger);
      const before = mountPoints();
      const sandbox = await Sandbox.start(env, { id: 'hostile', dieWithParent: true });
      let console = '';
      try {
        const spec = defaultSpec({
          args: ['true'],
          env: [],
          cwd: '/',
          terminal: false,
          hostname: 'hostile',
          readonly: false,
          sandboxNetwork: true,
        });
        for (let i = 0; i < ROUNDS; i++) {
          await sandbox.createContainer({ id: `c${i}`, spec, rootfs, readonly: false });
          await sandbox.removeContainer(`c${i}`);
          await assert.rejects(
            sandbox.createContainer({ id: `fail-${i}`, spec, rootfs, readonly: false }),
            /fails on purpose/,
          );
          // Mounts appear only inside the sandbox's state directory.
          const outside = [...mountPoints()].filter((p) => !before.has(p) && !p.startsWith(`${root}/`));
          assert.deepEqual(outside, [], `mounts outside ${root}`);
        }
        // Let the racer report how it fared, at least once past 1000 attempts.
        for (let i = 0; i < 100 && !/hostile: \d{4,} attempts/.test(console); i++) {
          await new Promise((r) => setTimeout(r, 100));
          console = readFileSync(join(sandbox.runDir, 'console.log'), 'utf8');
        }
      } finally {
        await sandbox.stop();
      }
      // The racer ran, and the host let none of its attempts through.
      const reports = [...console.matchAll(/hostile: (\d+) attempts, (\d+) let through/g)];
      const last = reports.at(-1);
      assert.ok(last, 'the hostile agent reported');
      assert.ok(Number(last[1]) > 1000, `only ${last[1]} attempts`);
      assert.equal(last[2], '0', 'attempts let through');
      assert.deepEqual(readdirSync(canary), ['keep']);
      assert.equal(readFileSync(join(canary, 'keep'), 'utf8'), 'untouched');
      assert.deepEqual(await mountsUnder(root), []);
      assert.deepEqual(
        [...mountPoints()].filter((p) => !before.has(p)),
        [],
        'no mount left anywhere',
      );
    });
  } finally {
    rmSync(canary, { recursive: true, force: true });
    rmSync(build, { recursive: true, force: true });
  }
});
