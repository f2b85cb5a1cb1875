// The sandbox and container state machines over the fake hypervisor and
// fake agent: the whole host side without a VM, including a hostile guest
// and a VM that dies.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import { Sandbox } from '../../src/runtime/sandbox.js';
import type { Container } from '../../src/runtime/container.js';
import { isRunning } from '../../src/sys/procs.js';
import { isHakoError } from '../../src/errors.js';
import { cleanupSandbox } from '../../src/runtime/cleanup.js';
import { rig, type Rig } from '../helpers/fake-rig.js';

/** What the state root holds but its marker. */
const sandboxesIn = (root: string) => readdirSync(root).filter((e) => e !== '.hako-state-root');

const SPEC = { ociVersion: '1', process: { args: ['x'], cwd: '/' }, root: { path: 'r' } };

/** A container `c` in `sb`, started, with its stdin closed (the fake's processes then run). */
async function runningContainer(sb: Sandbox): Promise<Container> {
  const c = await sb.createContainer({ id: 'c', spec: SPEC, rootfs: '/r', readonly: false });
  await c.io().closeInput();
  await c.start();
  return c;
}

function collect(stream: PassThrough): () => string {
  const chunks: Buffer[] = [];
  stream.on('data', (b: Buffer) => chunks.push(b));
  return () => Buffer.concat(chunks).toString();
}

test('a container runs: stdio relayed, exit status returned, everything removed', async () => {
  const r = rig({
    script: (args, stdin) => ({ stdout: `${args.join(',')}:${stdin.toString()}`, stderr: 'warn', status: 3 }),
  });
  try {
    const sb = await Sandbox.start(r.env, { id: 'sb1', dieWithParent: false });
    assert.equal(sb.status, 'running');
    assert.deepEqual(
      r.hv.started[0]?.devices.map((d) => d.kind),
      ['serial-port', '9p', 'rng'],
    );
    const c = await sb.createContainer({
      id: 'sb1',
      spec: { ociVersion: '1', process: { args: ['a', 'b'], cwd: '/' }, root: { path: 'rootfs' } },
      rootfs: '/rootfs',
      readonly: false,
    });
    assert.equal(r.fs.active.get(`${sb.dir}/host/sb1/rootfs`), '/rootfs');
    const io = c.io();
    const out = new PassThrough();
    const err = new PassThrough();
    const gotOut = collect(out);
    const gotErr = collect(err);
    const pumps = Promise.all([io.pipeOutput('stdout', out), io.pipeOutput('stderr', err)]);
    const stdin = new PassThrough();
    const input = io.pipeInput(stdin);
    stdin.end('input');
    await c.start();
    assert.equal(c.status, 'running');
    const exit = await c.wait();
    await pumps;
    await input;
    assert.deepEqual(exit, { status: 3, signal: 0 });
    assert.equal(gotOut(), 'a,b:input');
    assert.equal(gotErr(), 'warn');
    await c.delete();
    assert.equal(c.status, 'deleted');
    const vm = r.hv.vms[0];
    assert.ok(vm);
    await sb.stop();
    assert.equal(sb.status, 'stopped');
    assert.deepEqual(r.hv.agents[0]?.calls, [
      'Check',
      'CreateSandbox',
      'CreateContainer',
      'StartContainer',
      'RemoveContainer',
      'DestroySandbox',
    ]);
    assert.equal(await isRunning(r.env.procs, vm.process), false);
    assert.deepEqual(sandboxesIn(r.root), []);
    assert.deepEqual([...r.fs.active.keys()], []);
  } finally {
    r.done();
  }
});

test('illegal moves are refused by the state machines', async () => {
  const r = rig();
  try {
    const sb = await Sandbox.start(r.env, { id: 'sb2', dieWithParent: false });
    const c = await sb.createContainer({
      id: 'c',
      spec: SPEC,
      rootfs: '/r',
      readonly: false,
    });
    await assert.rejects(
      sb.createContainer({ id: 'c', spec: {}, rootfs: '/r', readonly: false }),
      (e: unknown) => isHakoError(e, 'ALREADY_EXISTS'),
    );
    await c.io().closeInput();
    await c.start();
    await assert.rejects(c.start(), (e: unknown) => isHakoError(e, 'FAILED_PRECONDITION'));
    await c.wait();
    await c.delete();
    await sb.stop();
    await assert.rejects(
      sb.createContainer({ id: 'd', spec: {}, rootfs: '/r', readonly: false }),
      (e: unknown) => isHakoError(e, 'FAILED_PRECONDITION'),
    );
  } finally {
    r.done();
  }
});

test('a VM that dies turns pending calls into VM_EXITED, and stop still cleans up', async () => {
  const r = rig({ script: () => ({ status: 0 }) });
  try {
    const sb = await Sandbox.start(r.env, { id: 'sb3', dieWithParent: false });
    const c = await sb.createContainer({
      id: 'c',
      spec: SPEC,
      rootfs: '/r',
      readonly: false,
    });
    await c.start();
    const waiting = c.wait();
    r.hv.vms[0]?.crash();
    await assert.rejects(
      waiting,
      (e: unknown) => isHakoError(e, 'VM_EXITED') && /killed by SIGKILL/.test(e.message),
    );
    await sb.stop();
    assert.deepEqual(sandboxesIn(r.root), []);
  } finally {
    r.done();
  }
});

test('hostile agent replies are refused', async () => {
  const r = rig({ oversizedReads: true });
  try {
    const sb = await Sandbox.start(r.env, { id: 'sb4', dieWithParent: false });
    await runningContainer(sb);
    await assert.rejects(
      sb.agent.read('stdout', 'c', '', 4),
      (e: unknown) => isHakoError(e, 'AGENT_PROTOCOL') && /were asked/.test(e.message),
    );
    await sb.stop();
  } finally {
    r.done();
  }
  // A port stream id that is not the digits the agent hands out (it would
  // be sent back as an exec id).
  const ports = rig({ portStreamId: '../c' });
  try {
    const sb = await Sandbox.start(ports.env, { id: 'sb4p', dieWithParent: false });
    await assert.rejects(
      sb.agent.portConnect(8080),
      (e: unknown) => isHakoError(e, 'AGENT_PROTOCOL') && /invalid stream id/.test(e.message),
    );
    await sb.stop();
  } finally {
    ports.done();
  }
  const bogus = rig({ bogusExitStatus: 999 });
  try {
    const sb = await Sandbox.start(bogus.env, { id: 'sb5', dieWithParent: false });
    const c = await runningContainer(sb);
    await assert.rejects(
      c.wait(),
      (e: unknown) => isHakoError(e, 'AGENT_PROTOCOL') && /impossible exit status 999/.test(e.message),
    );
    await sb.stop();
  } finally {
    bogus.done();
  }
});

test('a failed container create leaves no mount or record behind', async () => {
  const r = rig();
  try {
    const sb = await Sandbox.start(r.env, { id: 'sb6', dieWithParent: false });
    await assert.rejects(
      sb.createContainer({
        id: 'c',
        spec: { ociVersion: '1', process: { args: ['missing-command'], cwd: '/' }, root: { path: 'r' } },
        rootfs: '/r',
        readonly: false,
      }),
      (e: unknown) => isHakoError(e, 'NOT_FOUND'),
    );
    assert.deepEqual(
      [...r.fs.active.keys()].filter((p) => p.includes('/host/c')),
      [],
    );
    const record = await r.env.store.read('sb6');
    assert.ok(record !== undefined && record !== 'corrupt');
    assert.deepEqual(record.containers, []);
    await sb.stop();
  } finally {
    r.done();
  }
});

test('cleanup from disk alone kills recorded processes and removes the state', async () => {
  const r = rig();
  try {
    const sb = await Sandbox.start(r.env, { id: 'sb7', dieWithParent: false });
    const vm = r.hv.vms[0];
    assert.ok(vm);
    // As if the owner crashed: nothing in memory is used, only the disk.
    await cleanupSandbox(r.env, 'sb7');
    assert.equal(await isRunning(r.env.procs, vm.process), false);
    assert.deepEqual(sandboxesIn(r.root), []);
    void sb;
  } finally {
    r.done();
  }
});

test('waiting for a process and reading its output are not bounded by the request timeout', async () => {
  const r = rig({}, 0.3);
  try {
    const sb = await Sandbox.start(r.env, { id: 'sb8', dieWithParent: false });
    const c = await sb.createContainer({
      id: 'c',
      spec: SPEC,
      rootfs: '/r',
      readonly: false,
      start: true,
    });
    const reading = c.io().pipeOutput('stdout', new PassThrough());
    const waiting = c.wait();
    await new Promise((res) => setTimeout(res, 800));
    await c.signal(15);
    assert.deepEqual(await waiting, { status: 143, signal: 15 });
    await reading;
    await sb.stop();
  } finally {
    r.done();
  }
});

/** Runs `body` on a fresh rig, then removes the rig. */
async function onRig(body: (r: Rig) => Promise<void>): Promise<void> {
  const r = rig();
  try {
    await body(r);
  } finally {
    r.done();
  }
}

/** Container `c` as the first container given to Sandbox.start. */
function firstContainer(spec: Record<string, unknown> = SPEC) {
  return { id: 'c', spec, rootfs: '/r', readonly: false, start: true };
}

function assertNothingLeft(r: Rig): void {
  assert.deepEqual([...r.fs.active.keys()], []);
  assert.deepEqual(sandboxesIn(r.root), []);
}

test('a first container given to Sandbox.start is created with the sandbox', () =>
  onRig(async (r) => {
    const sb = await Sandbox.start(r.env, { id: 'sb9', dieWithParent: false }, firstContainer());
    assert.equal(sb.container('c').status, 'running');
    assert.deepEqual(r.hv.agents[0]?.calls.slice(0, 3), ['Check', 'CreateSandbox', 'CreateContainer']);
    const record = await r.env.store.read('sb9');
    assert.ok(record !== undefined && record !== 'corrupt');
    assert.deepEqual(record.containers, [{ id: 'c', status: 'running' }]);
    await sb.stop();
    assertNothingLeft(r);
  }));

test('a first container that cannot be created fails the start and leaves nothing behind', () =>
  onRig(async (r) => {
    const first = firstContainer({ ...SPEC, process: { args: ['missing-command'], cwd: '/' } });
    await assert.rejects(Sandbox.start(r.env, { id: 'sb10', dieWithParent: false }, first), (e: unknown) =>
      isHakoError(e, 'NOT_FOUND'),
    );
    assertNothingLeft(r);
  }));

test('a first container whose caller gave up during the boot is not created, and stop removes it', () =>
  onRig(async (r) => {
    const opts = { id: 'sb11', dieWithParent: false, abandoned: () => true };
    const sb = await Sandbox.start(r.env, opts, firstContainer());
    assert.ok(!r.hv.agents[0]?.calls.includes('CreateContainer'));
    assert.throws(
      () => sb.container('c'),
      (e: unknown) => isHakoError(e, 'NOT_FOUND'),
    );
    await sb.stop();
    assertNothingLeft(r);
  }));

test('a container with limits grows the VM by them while it exists, an update resizes it, removal gives it back; the guest is told what to have online', async () => {
  const r = rig();
  const h = r.env.config.hypervisor;
  const hypervisor = { ...h, machineType: 'q35' as const, maxVcpus: 4, maxMemoryMiB: 2048 };
  const env = { ...r.env, config: { ...r.env.config, hypervisor } };
  try {
    const sb = await Sandbox.start(env, { id: 'sized', dieWithParent: false });
    // Without limits: nothing moves.
    await sb.createContainer({ id: 'plain', spec: SPEC, rootfs: '/r', readonly: false });
    const MiB = 1 << 20;
    const limited = {
      ...SPEC,
      linux: { resources: { cpu: { quota: 150_000, period: 100_000 }, memory: { limit: 300 * MiB } } },
    };
    const c = await sb.createContainer({ id: 'big', spec: limited, rootfs: '/r', readonly: false });
    // Fewer CPUs: the cgroup first, then the guest takes one offline (the module of 384 MiB stays: it does not fit the excess).
    await c.update({ cpu: { quota: 100_000, period: 100_000 }, memory: { limit: 300 * MiB } });
    await sb.removeContainer('big');
    const calls = r.hv.agents[0]?.calls.filter((x) =>
      /^(OnlineCpuMem|UpdateContainer|CreateContainer|RemoveContainer)/.test(x),
    );
    assert.deepEqual(calls, [
      'CreateContainer',
      // 2 + ceil(1.5) vCPUs; 512 + 300 MiB, rounded up to a 384 MiB module.
      'OnlineCpuMem:4:896',
      'CreateContainer',
      'UpdateContainer',
      'OnlineCpuMem:3:896',
      'RemoveContainer',
      'OnlineCpuMem:2:512',
    ]);
    await sb.stop();
  } finally {
    r.done();
  }
});
