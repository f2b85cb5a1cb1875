// containerd 1.6 drives Hako through the shim v2: `ctr` against a private
// containerd started here, each test in its own namespace, with the image
// built locally and imported. After each test nothing of Hako remains.
import { withNetns } from '../helpers/netns.js';
import { SOCKETS_DIR } from '../../src/shim/address.js';
import { after, afterEach, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { Containerd, IMAGE } from '../helpers/containerd.js';
import { assertNoLeaks } from '../helpers/leaks.js';
import { commandsNaming, processesNaming } from '../helpers/hako.js';
import { runInPty } from '../helpers/pty.js';
import { HAKO } from '../helpers/paths.js';
import { connect } from 'node:net';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { TtrpcClient } from '../../src/ttrpc/client.js';
import { callUnary } from '../../src/ttrpc/typed.js';
import { Task } from '../../src/gen/containerd/task_pb.js';

const RUNTIME = ['--runtime', 'io.containerd.hako.v2'];
let c: Containerd;
let n = 0;

before(async () => {
  c = await Containerd.start();
});

after(async () => {
  await c.stop();
});

const used: string[] = [];

/** A fresh namespace with the image imported (emptied again after the test). */
async function namespace(): Promise<string> {
  const ns = `t${process.pid}-${n++}`;
  used.push(ns);
  await c.importImage(ns);
  return ns;
}

/** Whatever a failed test left in its namespaces goes, so that one failure does not fail the next tests. */
afterEach(async () => {
  const namespaces = used.splice(0);
  await emptyNamespaces(namespaces);
  // A task the guest could not end still holds its VM: end the processes this
  // run started (by PID); containerd then runs the shim's `delete`, which
  // cleans up from disk, and the namespaces can be emptied.
  const stuck = await processesNaming(c.hakoStateDir);
  if (stuck.length === 0) return;
  for (const pid of stuck) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  await new Promise((r) => setTimeout(r, 2000));
  await emptyNamespaces(namespaces);
});

async function emptyNamespaces(namespaces: readonly string[]): Promise<void> {
  for (const ns of namespaces) {
    for (const id of (await c.ctr(ns, ['task', 'ls', '-q'])).stdout.split('\n').filter(Boolean))
      await remove(ns, id);
    for (const id of (await c.ctr(ns, ['container', 'ls', '-q'])).stdout.split('\n').filter(Boolean)) {
      await c.ctr(ns, ['container', 'delete', id]);
    }
  }
}

async function noLeaks(): Promise<void> {
  await assertNoLeaks(c.hakoStateDir, { mountsIn: c.dir });
}

/** Waits until `ctr task ls` shows the task STOPPED. */
async function stopped(ns: string, id: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (new RegExp(`${id}\\s+\\d+\\s+STOPPED`).test((await c.ctr(ns, ['task', 'ls'])).stdout)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`task ${id} did not stop`);
}

/** Kills, deletes and removes a task and its container (best effort, for cleanup). */
async function remove(ns: string, id: string): Promise<void> {
  await c.ctr(ns, ['task', 'kill', '-s', 'SIGKILL', id]);
  for (let i = 0; i < 100; i++) {
    if (!new RegExp(`${id}\\s+\\d+\\s+(RUNNING|PAUSED)`).test((await c.ctr(ns, ['task', 'ls'])).stdout))
      break;
    await new Promise((r) => setTimeout(r, 100));
  }
  await c.ctr(ns, ['task', 'delete', id]);
  await c.ctr(ns, ['container', 'delete', id]);
}

async function ok(ns: string, args: readonly string[]): Promise<string> {
  const r = await c.ctr(ns, args);
  assert.equal(r.code, 0, `ctr ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

test('ctr run --rm prints the container output', async () => {
  const ns = await namespace();
  const r = await c.ctr(ns, ['run', '--rm', ...RUNTIME, IMAGE, 'hello', 'echo', 'hi']);
  assert.equal(r.stdout, 'hi\n', r.stderr);
  assert.equal(r.code, 0);
  await noLeaks();
});

test('exit codes propagate through ctr run', async () => {
  const ns = await namespace();
  const r = await c.ctr(ns, [
    'run',
    '--rm',
    ...RUNTIME,
    IMAGE,
    'exits',
    'sh',
    '-c',
    'echo out; echo err >&2; exit 42',
  ]);
  assert.equal(r.code, 42, r.stderr);
  assert.equal(r.stdout, 'out\n');
  assert.match(r.stderr, /err/);
  await noLeaks();
});

test('ctr run -t: prompt, typed command and resize through a pty', async () => {
  const ns = await namespace();
  const ctr = c.ctrArgv(ns, ['run', '--rm', '-t', ...RUNTIME, IMAGE, 'tty', 'sh']);
  const r = await runInPty(
    [
      { expect: '# ' },
      { send: 'echo typed-$((6*7))\r' },
      { expect: 'typed-42' },
      { resize: [33, 111] },
      { send: 'sleep 1; stty size\r' },
      { expect: '33 111' },
      { send: 'exit 3\r' },
    ],
    ctr,
  );
  assert.match(r.output, /typed-42/);
  assert.match(r.output, /33 111/);
  assert.equal(r.exit, 3, r.output);
  await noLeaks();
});

test('task commands: exec, kill with a signal, pause/resume, ps, metrics', async () => {
  const ns = await namespace();
  const script = 'trap "echo got-usr1 > /tmp/usr1" USR1; while :; do sleep 0.2; done';
  await ok(ns, ['run', '-d', ...RUNTIME, IMAGE, 'svc', 'sh', '-c', script]);
  try {
    // exec: stdout and exit status
    const ex = await c.ctr(ns, [
      'task',
      'exec',
      '--exec-id',
      'e1',
      'svc',
      'sh',
      '-c',
      'echo from-exec; exit 5',
    ]);
    assert.equal(ex.stdout, 'from-exec\n', ex.stderr);
    assert.equal(ex.code, 5);

    // kill -s SIGUSR1 reaches the trap
    await ok(ns, ['task', 'kill', '-s', 'SIGUSR1', 'svc']);
    let marker = '';
    for (let i = 0; i < 50 && !marker.includes('got-usr1'); i++) {
      await new Promise((r) => setTimeout(r, 200));
      marker = (await c.ctr(ns, ['task', 'exec', '--exec-id', `m${i}`, 'svc', 'cat', '/tmp/usr1'])).stdout;
    }
    assert.match(marker, /got-usr1/);

    // pause / resume
    await ok(ns, ['task', 'pause', 'svc']);
    assert.match(await ok(ns, ['task', 'ls']), /svc\s+\d+\s+PAUSED/);
    await ok(ns, ['task', 'resume', 'svc']);
    assert.match(await ok(ns, ['task', 'ls']), /svc\s+\d+\s+RUNNING/);

    // ps lists the processes (the shell and its sleep at least)
    const ps = await ok(ns, ['task', 'ps', 'svc']);
    const pids = ps
      .split('\n')
      .slice(1)
      .filter((l) => /^\s*\d+/.test(l));
    assert.ok(pids.length >= 1, ps);

    // metrics: real memory usage from the guest cgroup
    const metrics = await ok(ns, ['task', 'metrics', 'svc']);
    const usage = /memory\.usage_in_bytes\s+(\d+)|memory\.usage\s+(\d+)/.exec(metrics);
    assert.ok(usage, metrics);
    assert.ok(Number(usage[1] ?? usage[2]) > 0, metrics);
  } finally {
    await remove(ns, 'svc');
  }
  await noLeaks();
});

test('events follow the runtime-v2 order: create, start, exit, delete', async () => {
  const ns = await namespace();
  const events = c.ctrBackground(ns, ['events']);
  await new Promise((r) => setTimeout(r, 500));
  try {
    await ok(ns, ['run', '--rm', ...RUNTIME, IMAGE, 'ev', 'true']);
    await new Promise((r) => setTimeout(r, 1000));
  } finally {
    events.child.kill('SIGTERM');
  }
  const topics = events
    .output()
    .split('\n')
    .filter((l) => l.includes('"container_id":"ev"') || l.includes('"ev"'))
    .map((l) => /\/tasks\/[a-z-]+/.exec(l)?.[0])
    .filter((t): t is string => t !== undefined);
  assert.deepEqual(
    topics,
    ['/tasks/create', '/tasks/start', '/tasks/exit', '/tasks/delete'],
    events.output(),
  );
  await noLeaks();
});

test('the guest kernel killing a container for memory sends TaskOOM', async () => {
  const ns = await namespace();
  const events = c.ctrBackground(ns, ['events']);
  await new Promise((r) => setTimeout(r, 500));
  try {
    // tail -c keeps everything it reads in memory: far over the 16 MiB limit.
    // (One process, no pipe: a task killed while its pipe partner charges
    // memory under the lock of their pipe can wedge both in the guest kernel.)
    const r = await c.ctr(
      ns,
      [
        'run',
        '--rm',
        '--memory-limit',
        String(16 << 20),
        ...RUNTIME,
        IMAGE,
        'oom',
        'tail',
        '-c',
        '150000000',
        '/dev/zero',
      ],
      { timeoutMs: 60_000 },
    );
    assert.equal(r.code, 137, r.stderr);
    await new Promise((r2) => setTimeout(r2, 1000));
  } finally {
    events.child.kill('SIGTERM');
  }
  assert.match(events.output(), /\/tasks\/oom/, events.output());
  await noLeaks();
});

test('after kill -9 of the shim daemon, containerd cleans up through delete and nothing remains', async () => {
  const ns = await namespace();
  await ok(ns, ['run', '-d', ...RUNTIME, IMAGE, 'crash', 'sleep', '600']);
  const shim = [];
  for (const { pid, argv } of await commandsNaming(c.hakoStateDir)) {
    if (argv.join(' ').includes('containerd-shim-hako-v2') && argv.join(' ').includes('-socket'))
      shim.push(pid);
  }
  assert.equal(shim.length, 1, 'one shim daemon');
  process.kill(shim[0] ?? -1, 'SIGKILL');
  let ls = '';
  for (let i = 0; i < 50; i++) {
    ls = (await c.ctr(ns, ['task', 'ls'])).stdout;
    if (!/crash\s+\d+\s+RUNNING/.test(ls)) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.doesNotMatch(ls, /crash\s+\d+\s+RUNNING/);
  const del = await c.ctr(ns, ['task', 'delete', 'crash']);
  assert.ok(del.code === 0 || /not found/.test(del.stderr), del.stderr);
  await ok(ns, ['container', 'delete', 'crash']);
  await noLeaks();
});

test('10 containers one after another and 5 in parallel leave nothing behind', async () => {
  const ns = await namespace();
  for (let i = 0; i < 10; i++) {
    const r = await c.ctr(ns, ['run', '--rm', ...RUNTIME, IMAGE, `seq${i}`, 'echo', `n${i}`]);
    assert.equal(r.stdout, `n${i}\n`, r.stderr);
  }
  const parallel = await Promise.all(
    [0, 1, 2, 3, 4].map((i) => c.ctr(ns, ['run', '--rm', ...RUNTIME, IMAGE, `par${i}`, 'echo', `p${i}`])),
  );
  parallel.forEach((r, i) => assert.equal(r.stdout, `p${i}\n`, r.stderr));
  await noLeaks();
});

/** QEMU processes of this containerd's sandboxes. */
async function vms(): Promise<number[]> {
  const all = await commandsNaming(c.hakoStateDir);
  return all.filter((p) => p.argv[0]?.includes('qemu-system')).map((p) => p.pid);
}

test('containers of one pod (io.kubernetes.cri.sandbox-id) share one VM and its network, and the VM stops with the last', async () =>
  withNetns(1, async ([podNetns = '']) => {
    const ns = await namespace();
    // As CRI does, the pod's network namespace is named by path (a host path
    // the guest cannot join: the containers share the sandbox's network, which
    // carries it: here it has only loopback).
    const pod = (id: string) => [
      '--annotation',
      'io.kubernetes.cri.sandbox-id=pod1',
      '--with-ns',
      `network:${podNetns}`,
      ...RUNTIME,
      IMAGE,
      id,
    ];
    await ok(ns, ['run', '-d', ...pod('pod1'), 'nc', '-ll', '-p', '7070', '-e', 'echo', 'pod network']);
    await ok(ns, ['run', '-d', ...pod('app1'), 'sleep', '600']);
    try {
      assert.equal((await vms()).length, 1, 'one VM for the pod');
      const dial = 'for i in 1 2 3 4 5 6 7 8 9 10; do nc 127.0.0.1 7070 && exit 0; sleep 0.5; done; exit 1';
      assert.equal(await ok(ns, ['run', '--rm', ...pod('probe'), 'sh', '-c', dial]), 'pod network\n');
      assert.match(await ok(ns, ['task', 'ls']), /app1\s+\d+\s+RUNNING/);
      await ok(ns, ['task', 'kill', '-s', 'SIGKILL', 'app1']);
      await stopped(ns, 'app1');
      await ok(ns, ['task', 'delete', 'app1']);
      assert.equal((await vms()).length, 1, 'the VM stays while the pod has a container');
    } finally {
      for (const id of ['probe', 'app1', 'pod1']) {
        await remove(ns, id);
      }
    }
    await noLeaks();
  }));

test('the runtime options ConfigPath chooses the configuration file', async () => {
  const ns = await namespace();
  const config = join(c.dir, 'small.toml');
  writeFileSync(
    config,
    `[hypervisor.qemu]\ndefault_memory = 192\n[runtime]\nstate_dir = "${c.hakoStateDir}"\n`,
  );
  const r = await c.ctr(ns, [
    'run',
    '--rm',
    ...RUNTIME,
    '--runtime-config-path',
    config,
    IMAGE,
    'cfg',
    'grep',
    'MemTotal',
    '/proc/meminfo',
  ]);
  assert.equal(r.code, 0, r.stderr);
  const kb = Number(/MemTotal:\s+(\d+)/.exec(r.stdout)?.[1]);
  assert.ok(kb > 100_000 && kb < 200_000, r.stdout);
  await noLeaks();
});

test('Update applies resources to the container cgroup in the guest', async () => {
  const ns = await namespace();
  await ok(ns, ['run', '-d', ...RUNTIME, IMAGE, 'upd', 'sleep', '600']);
  try {
    const sockets = await readdir(join(c.hakoStateDir, SOCKETS_DIR));
    assert.equal(sockets.length, 1);
    const socket = connect(join(c.hakoStateDir, SOCKETS_DIR, sockets[0] ?? ''));
    await new Promise((r) => socket.once('connect', r));
    const client = new TtrpcClient(socket);
    try {
      const resources = { memory: { limit: 48 << 20 } };
      await callUnary(client, Task.method.update, {
        id: 'upd',
        resources: {
          typeUrl: 'types.containerd.io/opencontainers/runtime-spec/1/LinuxResources',
          value: new TextEncoder().encode(JSON.stringify(resources)),
        },
      });
    } finally {
      client.close();
    }
    // ctr's spec mounts no cgroupfs in the container: read the limit back through Stats.
    assert.match(
      await ok(ns, ['task', 'metrics', 'upd']),
      new RegExp(`memory\\.usage_limit\\s+${48 << 20}\\b`),
    );
  } finally {
    await remove(ns, 'upd');
  }
  await noLeaks();
});

test("containerd's runc shim drives hako as its OCI binary (ctr run --runc-binary)", async () => {
  const ns = await namespace();
  const runcRoot = `/run/containerd/runc/${ns}`;
  const args = ['run', '--rm', '--runc-binary', HAKO, '--runtime', 'io.containerd.runc.v2', IMAGE];
  const hi = await c.ctr(ns, [...args, 'runc1', 'echo', 'hi']);
  assert.equal(hi.stdout, 'hi\n', hi.stderr);
  assert.equal(hi.code, 0);
  const code = await c.ctr(ns, [...args, 'runc2', 'sh', '-c', 'exit 6']);
  assert.equal(code.code, 6, code.stderr);
  // The runc shim keeps runtime state under its own root: nothing may remain there either.
  await assertNoLeaks(runcRoot, { mountsIn: c.dir });
  await noLeaks();
});
