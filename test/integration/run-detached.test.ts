// Docker-style detached containers: `hako run -d --name N`, then ps, logs,
// exec, stop and rm find it; --rm removes it when it exits. A foreground
// run is visible by its --name while it runs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { MAX_CONTAINER_LOG } from '../../src/oci-cli/spawn-helper.js';
import { exitOf, inPrivateRoot, ROOT_ENTRIES, runHako, startHako } from '../helpers/hako.js';

async function ok(root: string, args: readonly string[]): Promise<string> {
  const r = await runHako(root, args);
  assert.equal(exitOf(r), 0, `hako ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.toString();
}

async function until(what: string, cond: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!(await cond())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('-d --name web: ps, logs, exec, stop and rm find it; it runs after run returns', async () => {
  await inPrivateRoot(async (root) => {
    const script = 'echo started; trap "echo got TERM; exit 0" TERM; while :; do sleep 1; done';
    assert.equal(await ok(root, ['run', '-d', '--name', 'web', '--', 'sh', '-c', script]), 'web\n');
    assert.match(await ok(root, ['ps']), /^web\s+\d+\s+running/m);
    assert.equal(await ok(root, ['exec', 'web', '--', 'echo', 'in-exec']), 'in-exec\n');
    await until('its first output', async () => (await ok(root, ['logs', 'web'])).includes('started'));
    const again = await runHako(root, ['run', '-d', '--name', 'web', '--', 'true']);
    assert.equal(exitOf(again), 125);
    assert.match(again.stderr, /already exists/);
    assert.equal(await ok(root, ['stop', 'web']), 'web\n');
    assert.match(await ok(root, ['ps']), /^web\s+0\s+stopped/m);
    assert.match(await ok(root, ['logs', 'web']), /started\n(.*\n)*got TERM\n/);
    assert.equal(await ok(root, ['rm', 'web']), 'web\n');
    assert.doesNotMatch(await ok(root, ['ps']), /web/);
  });
});

test('-d without a name prints a new id; stop kills one that ignores SIGTERM after -t; --rm removes at exit', async () => {
  await inPrivateRoot(async (root) => {
    const id = (await ok(root, ['run', '-d', '--', 'sleep', '600'])).trim();
    assert.match(id, /^[0-9a-f]{12,}$/);
    const t0 = Date.now();
    await ok(root, ['stop', '-t', '1', id]);
    assert.ok(Date.now() - t0 < 10_000);
    const removed = await runHako(root, ['rm', id]);
    assert.equal(exitOf(removed), 0, removed.stderr);
    const gone = (await ok(root, ['run', '-d', '--rm', '--', 'sh', '-c', 'exit 3'])).trim();
    await until('--rm to remove it', async () => !(await readdir(root)).includes(gone));
    assert.deepEqual(
      (await readdir(root)).filter((e) => !ROOT_ENTRIES.includes(e)),
      [],
    );
  });
});

test('rm refuses a running container without -f; logs of an unknown id fail', async () => {
  await inPrivateRoot(async (root) => {
    await ok(root, ['run', '-d', '--name', 'busy', '--', 'sleep', '600']);
    const r = await runHako(root, ['rm', 'busy']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /not stopped: running/);
    await ok(root, ['rm', '-f', 'busy']);
    const missing = await runHako(root, ['logs', 'nope']);
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /container does not exist/);
  });
});

test('a foreground run is visible by its --name while it runs: ps, exec, state, stop; nothing stays after', async () => {
  await inPrivateRoot(async (root) => {
    const script = 'echo up; trap "echo got TERM; exit 9" TERM; while :; do sleep 1; done';
    const run = startHako(root, ['run', '--name', 'fg', '--', 'sh', '-c', script]);
    await run.waitForOutput('up');
    assert.match(await ok(root, ['ps']), /^fg\s+\d+\s+running/m);
    assert.equal(await ok(root, ['exec', 'fg', '--', 'echo', 'inside']), 'inside\n');
    assert.match(await ok(root, ['state', 'fg']), /"status": "running"/);
    assert.equal(await ok(root, ['stop', 'fg']), 'fg\n');
    const r = await run.result;
    assert.equal(r.code, 9, r.stderr);
    assert.match(r.stdout.toString(), /got TERM/);
  });
});

test('a detached container cannot grow its log on the host past the cap, however much it prints', async () => {
  await inPrivateRoot(async (root) => {
    // 20 MiB, more than the cap: the log lives with the state, often on tmpfs (host memory).
    await ok(root, [
      'run',
      '-d',
      '--name',
      'loud',
      '--',
      'sh',
      '-c',
      'head -c 20971520 /dev/zero; echo end >&2',
    ]);
    await until('it to stop', async () => /^loud\s+0\s+stopped/m.test(await ok(root, ['ps'])));
    const size = statSync(join(root, 'loud', 'container.log')).size;
    assert.ok(size <= MAX_CONTAINER_LOG + 100, `container.log holds ${size} bytes`);
    assert.match(
      (await runHako(root, ['logs', 'loud'])).stdout.subarray(-100).toString(),
      /log truncated at \d+ bytes/,
    );
    await ok(root, ['rm', 'loud']);
  });
});
