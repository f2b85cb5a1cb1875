// The shim's task table over the fake hypervisor and agent: a failed create
// leaves no task and no container behind, and stdio reaches the paths
// containerd gave, including one file for both output streams.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createLogger, silentLogger } from '../../src/log.js';
import { isHakoError } from '../../src/errors.js';
import { ShimTasks } from '../../src/shim/tasks.js';
import { EventPublisher } from '../../src/shim/events.js';
import { TaskExitSchema, TaskOOMSchema } from '../../src/gen/containerd/events_pb.js';
import type { StdioPaths } from '../../src/shim/stdio.js';
import { rig, type Rig } from '../helpers/fake-rig.js';

const NO_STDIO: StdioPaths = { stdin: '', stdout: '', stderr: '', terminal: false };

function tasksOver(r: Rig, events: { topic: string; event: unknown }[] = []): ShimTasks {
  return new ShimTasks({
    events: { publish: (topic, _schema, event) => void events.push({ topic, event }) },
    log: process.env['DBG'] ? createLogger({ level: 'debug', format: 'text' }) : silentLogger,
    env: () => Promise.resolve(r.env),
    mounter: r.mounter,
    socketPath: join(r.root, 'shim.sock'),
  });
}

/** A bundle for task `id` in pod `pod` (so that several tasks share one sandbox). */
function bundle(r: Rig, id: string, pod: string, args = ['x']): string {
  const dir = join(r.root, 'bundles', id);
  mkdirSync(join(dir, 'rootfs'), { recursive: true });
  const spec = {
    ociVersion: '1.0.2',
    process: { args, cwd: '/' },
    root: { path: 'rootfs' },
    annotations: { 'io.kubernetes.cri.sandbox-id': pod },
  };
  writeFileSync(join(dir, 'config.json'), JSON.stringify(spec));
  return dir;
}

test('a create whose state cannot be recorded leaves no task and no container', async () => {
  let second = '';
  const r = rig({
    // Once c2 is made in the guest, its state file's place is taken by a
    // non-empty directory: recording its pid fails.
    onCreateContainer: (id) => {
      if (id !== 'c2') return;
      rmSync(join(second, 'hako-shim.json'));
      mkdirSync(join(second, 'hako-shim.json', 'x'), { recursive: true });
    },
  });
  const tasks = tasksOver(r);
  try {
    const first = bundle(r, 'pod1', 'pod1');
    await tasks.create({ id: 'pod1', bundle: first, rootfs: [], stdio: NO_STDIO, configPath: undefined });
    second = bundle(r, 'c2', 'pod1');
    await assert.rejects(
      tasks.create({ id: 'c2', bundle: second, rootfs: [], stdio: NO_STDIO, configPath: undefined }),
    );
    assert.equal(tasks.size, 1);
    assert.throws(
      () => tasks.state('c2', ''),
      (e: unknown) => isHakoError(e, 'NOT_FOUND'),
    );
    // The container is gone from the sandbox too: the same id can be created again.
    const again = bundle(r, 'c3', 'pod1');
    await assert.doesNotReject(
      tasks.create({ id: 'c3', bundle: again, rootfs: [], stdio: NO_STDIO, configPath: undefined }),
    );
    const calls = r.hv.agents[0]?.calls ?? [];
    assert.deepEqual(
      calls.filter((c) => c === 'CreateContainer' || c === 'RemoveContainer'),
      ['CreateContainer', 'CreateContainer', 'RemoveContainer', 'CreateContainer'],
    );
  } finally {
    await tasks.stopAll().catch(() => undefined);
    r.done();
  }
});

test('stdout and stderr given the same file both reach it', async () => {
  const r = rig({ script: () => ({ stdout: 'to-out\n', stderr: 'to-err\n', status: 0 }) });
  const tasks = tasksOver(r);
  try {
    const b = bundle(r, 'pod2', 'pod2');
    const log = join(r.root, 'both.log');
    writeFileSync(log, '');
    const uri = `file://${log}`;
    await tasks.create({
      id: 'pod2',
      bundle: b,
      rootfs: [],
      stdio: { stdin: '', stdout: uri, stderr: uri, terminal: false },
      configPath: undefined,
    });
    await tasks.start('pod2', '');
    const exit = await tasks.wait('pod2', '');
    assert.equal(exit.status, 0);
    const text = readFileSync(log, 'utf8');
    assert.match(text, /to-out/);
    assert.match(text, /to-err/);
  } finally {
    await tasks.stopAll().catch(() => undefined);
    r.done();
  }
});

test("OOM events from a hostile guest: another pod's ids are dropped, a flood is rate-limited, TaskExit still arrives", async () => {
  let n = 0;
  // Every other id is a container of some other pod; the rest name ours.
  const r = rig({
    oomFlood: () => (n++ % 2 === 0 ? 'victim-of-another-pod' : 'pod3'),
    script: () => ({ status: 3 }),
  });
  const events: { topic: string; event: unknown }[] = [];
  const tasks = tasksOver(r, events);
  try {
    const b = bundle(r, 'pod3', 'pod3');
    await tasks.create({ id: 'pod3', bundle: b, rootfs: [], stdio: NO_STDIO, configPath: undefined });
    await new Promise((res) => setTimeout(res, 1500));
    await tasks.start('pod3', '');
    assert.equal((await tasks.wait('pod3', '')).status, 3);
    await new Promise((res) => setTimeout(res, 50));
    const ooms = events
      .filter((e) => e.topic === '/tasks/oom')
      .map((e) => (e.event as { containerId: string }).containerId);
    assert.ok(ooms.length >= 1 && ooms.length <= 2, `one OOM event a second for pod3, got ${ooms.length}`);
    assert.deepEqual([...new Set(ooms)], ['pod3']);
    const asked = (r.hv.agents[0]?.calls ?? []).filter((c) => c === 'GetOOMEvent').length;
    assert.ok(asked <= 40, `the guest was asked ${asked} times in 1.5 s (a bounded rate)`);
    assert.ok(
      events.some((e) => e.topic === '/tasks/exit'),
      'TaskExit published',
    );
  } finally {
    await tasks.stopAll().catch(() => undefined);
    r.done();
  }
});

test('the event queue drops OOM events beyond its bound, never a TaskExit', async () => {
  const publisher = new EventPublisher('unix:///nonexistent/containerd.sock.ttrpc', 'ns', silentLogger);
  try {
    for (let i = 0; i < 300; i++) publisher.publish('/tasks/oom', TaskOOMSchema, { containerId: 'c' });
    publisher.publish('/tasks/exit', TaskExitSchema, { containerId: 'c', id: 'c', pid: 1, exitStatus: 0 });
    for (let i = 0; i < 10; i++) publisher.publish('/tasks/oom', TaskOOMSchema, { containerId: 'c' });
    // 256 OOM events at most, plus the exit.
    assert.equal(publisher.pending, 257);
  } finally {
    publisher.close();
  }
});
