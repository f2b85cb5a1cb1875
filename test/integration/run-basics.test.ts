// `hako run` basics with real VMs: output, exit statuses, separate streams.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inPrivateRoot, exitOf, runHako } from '../helpers/hako.js';
import { makeBundle, withTempDir } from '../helpers/fixtures.js';

test('echo hello prints exactly hello and exits 0', async () => {
  await inPrivateRoot(async (root) => {
    const r = await runHako(root, ['run', '--', 'echo', 'hello']);
    assert.equal(r.stdout.toString(), 'hello\n');
    assert.equal(r.stderr, '');
    assert.equal(exitOf(r), 0);
  });
});

test("sh -c 'exit 7' exits 7", async () => {
  await inPrivateRoot(async (root) => {
    assert.equal(exitOf(await runHako(root, ['run', '--', 'sh', '-c', 'exit 7'])), 7);
  });
});

test('a container killed by its own SIGTERM exits 143', async () => {
  // Without a pid namespace the shell is not a namespace init, which the
  // kernel protects from its own signals, so SIGTERM really kills it.
  await inPrivateRoot((root) =>
    withTempDir(async (dir) => {
      makeBundle(dir, { args: ['sh', '-c', 'kill -TERM $$; sleep 5'], pidNamespace: false });
      const r = await runHako(root, ['run', '--bundle', dir]);
      assert.equal(exitOf(r), 143, r.stderr);
    }),
  );
});

test('stderr stays separate from stdout', async () => {
  await inPrivateRoot(async (root) => {
    const script = 'echo out1; echo err1 >&2; echo out2; echo err2 >&2';
    const r = await runHako(root, ['run', '--', 'sh', '-c', script]);
    assert.equal(r.stdout.toString(), 'out1\nout2\n');
    assert.equal(r.stderr, 'err1\nerr2\n');
    assert.equal(exitOf(r), 0);
  });
});
