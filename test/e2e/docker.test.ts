// docker 20.10 (dockerd with --add-runtime) drives Hako through
// containerd's runc shim and the runc-compatible CLI.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Dockerd, DOCKER_IMAGE } from '../helpers/docker.js';
import { assertNoLeaks } from '../helpers/leaks.js';

let d: Dockerd;

before(async () => {
  d = await Dockerd.start();
});

after(async () => {
  await d.stop();
});

const RUN = ['run', '--runtime', 'hako', '--network', 'none'];
// dockerd's runc shim calls Hako with --root under dockerd's exec-root; that
// root holds the containers' state, relays and VMs.
const noLeaks = async () => {
  await assertNoLeaks(d.hakoStateDir);
  await assertNoLeaks(join(d.dir, 'exec', 'runtime-runc', 'moby'));
};

test('docker run --runtime hako --rm echo hi', async () => {
  const r = await d.docker([...RUN, '--rm', DOCKER_IMAGE, 'echo', 'hi']);
  assert.equal(r.stdout, 'hi\n', r.stderr);
  assert.equal(r.code, 0);
  const failing = await d.docker([...RUN, '--rm', DOCKER_IMAGE, 'sh', '-c', 'exit 9']);
  assert.equal(failing.code, 9, failing.stderr);
  await noLeaks();
});

test('docker exec, stop and logs', async () => {
  const script = 'trap "echo got-term; exit 0" TERM; echo hello-log; while :; do sleep 0.2; done';
  const started = await d.docker([...RUN, '-d', '--name', 'svc', DOCKER_IMAGE, 'sh', '-c', script]);
  assert.equal(started.code, 0, started.stderr);
  try {
    const ex = await d.docker(['exec', 'svc', 'sh', '-c', 'echo from-exec; exit 2']);
    assert.equal(ex.stdout, 'from-exec\n', ex.stderr);
    assert.equal(ex.code, 2);
    const stop = await d.docker(['stop', '-t', '20', 'svc']);
    assert.equal(stop.code, 0, stop.stderr);
    assert.ok(stop.ms < 15_000, `stop took ${stop.ms} ms`);
    const state = await d.docker(['inspect', 'svc', '--format', '{{.State.Status}} {{.State.ExitCode}}']);
    assert.equal(state.stdout.trim(), 'exited 0');
    const logs = await d.docker(['logs', 'svc']);
    assert.equal(logs.stdout, 'hello-log\ngot-term\n', logs.stderr);
  } finally {
    await d.docker(['rm', '-f', 'svc']);
  }
  await noLeaks();
});
