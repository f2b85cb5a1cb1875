// podman 4.3 (with conmon) drives Hako through the runc-compatible CLI.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Podman, PODMAN_IMAGE, PODMAN_RUN_FLAGS } from '../helpers/podman.js';
import { assertNoLeaks } from '../helpers/leaks.js';
import { runInPty } from '../helpers/pty.js';

let p: Podman;

before(async () => {
  p = await Podman.create();
});

after(async () => {
  await p.destroy();
});

async function ok(args: readonly string[]): Promise<string> {
  const r = await p.podman(args);
  assert.equal(r.code, 0, `podman ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

const noLeaks = () => assertNoLeaks(p.hakoStateDir);

test('podman run --rm echo hi', async () => {
  const r = await p.podman(['run', '--rm', ...PODMAN_RUN_FLAGS, PODMAN_IMAGE, 'echo', 'hi']);
  assert.equal(r.stdout, 'hi\n', r.stderr);
  assert.equal(r.code, 0);
  await noLeaks();
});

test('the exit code propagates', async () => {
  const r = await p.podman(['run', '--rm', ...PODMAN_RUN_FLAGS, PODMAN_IMAGE, 'sh', '-c', 'exit 7']);
  assert.equal(r.code, 7, r.stderr);
  await noLeaks();
});

test('podman run -it through a test-driven pty', async () => {
  const r = await runInPty(
    [{ expect: '# ' }, { send: 'echo typed-$((6*7))\r' }, { expect: 'typed-42' }, { send: 'exit 4\r' }],
    [...p.baseArgs, 'run', '--rm', '-it', ...PODMAN_RUN_FLAGS, PODMAN_IMAGE, 'sh'],
  );
  assert.match(r.output, /typed-42/);
  assert.equal(r.exit, 4, r.output);
  await noLeaks();
});

test('exec, pause/unpause, ps and inspect, stop honouring SIGTERM', async () => {
  const script = 'trap "exit 0" TERM; while :; do sleep 0.2; done';
  await ok(['run', '-d', '--name', 'svc', ...PODMAN_RUN_FLAGS, PODMAN_IMAGE, 'sh', '-c', script]);
  try {
    const ex = await p.podman(['exec', 'svc', 'sh', '-c', 'echo from-exec; exit 3']);
    assert.equal(ex.stdout, 'from-exec\n', ex.stderr);
    assert.equal(ex.code, 3);
    assert.match(await ok(['ps', '--format', '{{.Names}} {{.Status}}']), /^svc Up /m);
    await ok(['pause', 'svc']);
    assert.equal((await ok(['inspect', 'svc', '--format', '{{.State.Status}}'])).trim(), 'paused');
    await ok(['unpause', 'svc']);
    assert.equal((await ok(['inspect', 'svc', '--format', '{{.State.Status}}'])).trim(), 'running');
    const stop = await p.podman(['stop', '-t', '20', 'svc']);
    assert.equal(stop.code, 0, stop.stderr);
    assert.ok(stop.ms < 15_000, `stop took ${stop.ms} ms: SIGTERM was not honoured`);
    assert.equal(
      (await ok(['inspect', 'svc', '--format', '{{.State.Status}} {{.State.ExitCode}}'])).trim(),
      'exited 0',
    );
  } finally {
    await p.podman(['rm', '-f', '-t', '0', 'svc']);
  }
  await noLeaks();
});

test('podman stop sends SIGKILL after the timeout to a container ignoring SIGTERM', async () => {
  await ok([
    'run',
    '-d',
    '--name',
    'stubborn',
    ...PODMAN_RUN_FLAGS,
    PODMAN_IMAGE,
    'sh',
    '-c',
    'trap "" TERM; while :; do sleep 0.2; done',
  ]);
  try {
    const stop = await p.podman(['stop', '-t', '2', 'stubborn']);
    assert.equal(stop.code, 0, stop.stderr);
    assert.ok(stop.ms >= 2000, `stop took only ${stop.ms} ms`);
    assert.equal((await ok(['inspect', 'stubborn', '--format', '{{.State.ExitCode}}'])).trim(), '137');
  } finally {
    await p.podman(['rm', '-f', '-t', '0', 'stubborn']);
  }
  await noLeaks();
});
