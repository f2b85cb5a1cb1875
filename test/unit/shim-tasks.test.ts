// The shim's task table over the fake hypervisor and agent: a failed create
// leaves no task and no container behind, and stdio reaches the paths
// containerd gave, including one file for both output streams.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createLogger, silentLogger } from '../../src/log.js';
import { isHakoError } from '../../src/errors.js';
import { ShimTasks } from '../../src/shim/tasks.js';
import type { StdioPaths } from '../../src/shim/stdio.js';
import { rig, type Rig } from '../helpers/fake-rig.js';

const NO_STDIO: StdioPaths = { stdin: '', stdout: '', stderr: '', terminal: false };

function tasksOver(r: Rig): ShimTasks {
  return new ShimTasks({
    events: { publish: () => undefined },
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
  const r = rig();
  const tasks = tasksOver(r);
  try {
    const first = bundle(r, 'pod1', 'pod1');
    await tasks.create({ id: 'pod1', bundle: first, rootfs: [], stdio: NO_STDIO, configPath: undefined });
    const second = bundle(r, 'c2', 'pod1');
    // The state file's place is taken by a non-empty directory: recording fails.
    mkdirSync(join(second, 'hako-shim.json', 'x'), { recursive: true });
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
