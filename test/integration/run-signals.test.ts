// Signals from a terminal or a supervisor reach the container, never the VM:
// Ctrl-C on a real pseudo-terminal (helpers/pty-drive.py), and `timeout`,
// which signals its whole process group. And a closed output pipe reaches
// the container's writer as it would on a host (EPIPE, SIGPIPE).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertClean, inPrivateRoot, privateRoot } from '../helpers/hako.js';
import { runCommand } from '../helpers/exec.js';
import { HAKO } from '../helpers/paths.js';
import { runInPty } from '../helpers/pty.js';

test("Ctrl-C in a terminal reaches the container's trap, and the run exits with its status", async () => {
  await inPrivateRoot(async (root) => {
    const script = 'trap "echo got INT; exit 5" INT; echo ready; sleep 30 & wait';
    const r = await runInPty(
      [{ expect: 'ready' }, { send: '\x03' }, { expect: 'got INT' }],
      [HAKO, '--root', root, 'run', '--', 'sh', '-c', script],
    );
    assert.match(r.output, /got INT/);
    assert.doesNotMatch(r.output, /sandbox VM stopped|virtiofsd|qemu/i);
    assert.equal(r.exit, 5, r.output);
  });
});

test('a second Ctrl-C kills a container that traps the first', async () => {
  await inPrivateRoot(async (root) => {
    const script = 'trap "echo got INT" INT; echo ready; while :; do sleep 1; done';
    const r = await runInPty(
      [{ expect: 'ready' }, { send: '\x03' }, { expect: 'got INT' }, { send: '\x03' }],
      [HAKO, '--root', root, 'run', '--', 'sh', '-c', script],
    );
    assert.match(r.output, /got INT/);
    assert.equal(r.exit, 128 + 9, r.output);
  });
});

test('`timeout 5 hako run -- sleep 30` ends with the container and leaves nothing behind', async () => {
  const root = privateRoot();
  const t0 = Date.now();
  const r = await runCommand(['timeout', '5', HAKO, '--root', root, 'run', '--', 'sleep', '30'], {
    timeoutMs: 60_000,
  });
  // timeout's own status once its command had to be signalled.
  assert.equal(r.code, 124, r.stderr);
  assert.ok(Date.now() - t0 < 25_000, `took ${Date.now() - t0} ms`);
  assert.doesNotMatch(r.stderr, /sandbox VM stopped/);
  await assertClean(root);
});

test('`hako run -- yes | head -1` prints y and ends: the writer gets EPIPE, and the VM stops', async () => {
  const root = privateRoot();
  const r = await runCommand(['sh', '-c', `${HAKO} --root ${root} run -- yes | head -1`], {
    timeoutMs: 60_000,
  });
  assert.equal(r.stdout, 'y\n');
  assert.equal(r.code, 0, r.stderr);
  await assertClean(root);
});

test("a writer that is not the container's init dies of SIGPIPE when the host reader goes (status 141)", async () => {
  const root = privateRoot();
  const script = 'yes; echo "yes ended $?" >&2';
  const r = await runCommand(['sh', '-c', `${HAKO} --root ${root} run -- sh -c '${script}' | head -2`], {
    timeoutMs: 60_000,
  });
  assert.equal(r.stdout, 'y\ny\n');
  assert.match(r.stderr, /yes ended 141/);
  await assertClean(root);
});
