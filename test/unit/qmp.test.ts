// The QMP client against a scripted fake QMP server.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fakeQmp } from '../helpers/fake-qmp.js';
import { testVmSpec } from '../helpers/vm-spec.js';
import { QmpClient, type QmpEvent } from '../../src/hypervisor/qemu/qmp.js';
import { RealRunner } from '../../src/sys/runner.js';

test('negotiates capabilities, matches replies by id and delivers events', async () => {
  const fake = await fakeQmp((cmd, send) => {
    if (cmd.execute === 'qmp_capabilities') send({ return: {}, id: cmd.id });
    if (cmd.execute === 'query-status') {
      send({ event: 'RESUME', data: {}, timestamp: { seconds: 1, microseconds: 0 } });
      send({ return: { status: 'running', running: true }, id: cmd.id });
    }
  });
  const qmp = await QmpClient.connect(fake.path);
  const events: QmpEvent[] = [];
  qmp.onEvent((e) => events.push(e));
  try {
    assert.deepEqual(await qmp.execute('query-status'), { status: 'running', running: true });
    assert.deepEqual(
      events.map((e) => e.event),
      ['RESUME'],
    );
    assert.deepEqual(fake.received, ['qmp_capabilities', 'query-status']);
  } finally {
    qmp.close();
    fake.close();
  }
});

test('QMP errors become rejections with the class and description', async () => {
  const fake = await fakeQmp((cmd, send) => {
    if (cmd.execute === 'qmp_capabilities') send({ return: {}, id: cmd.id });
    else
      send({ error: { class: 'CommandNotFound', desc: 'The command nope has not been found' }, id: cmd.id });
  });
  const qmp = await QmpClient.connect(fake.path);
  try {
    await assert.rejects(qmp.execute('nope'), /CommandNotFound: The command nope has not been found/);
  } finally {
    qmp.close();
    fake.close();
  }
});

test('a server that never greets times out', async () => {
  const fake = await fakeQmp(() => undefined, false);
  try {
    await assert.rejects(QmpClient.connect(fake.path, 100), /no greeting within 100 ms/);
  } finally {
    fake.close();
  }
});

test('a server that sends garbage ends the connection with an error', async () => {
  const fake = await fakeQmp((cmd, send, s) => {
    if (cmd.execute === 'qmp_capabilities') send({ return: {}, id: cmd.id });
    else s.write('this is not json\n');
  });
  const qmp = await QmpClient.connect(fake.path);
  try {
    await assert.rejects(qmp.execute('query-status'), /not JSON/);
  } finally {
    qmp.close();
    fake.close();
  }
});

test('a server that hangs up fails pending commands', async () => {
  const fake = await fakeQmp((cmd, send, s) => {
    if (cmd.execute === 'qmp_capabilities') send({ return: {}, id: cmd.id });
    else s.destroy();
  });
  const qmp = await QmpClient.connect(fake.path);
  try {
    await assert.rejects(qmp.execute('quit'), /QMP connection closed/);
  } finally {
    fake.close();
  }
});

test("stopping a VM whose QMP never answers 'quit' still ends it within its grace", async () => {
  const { spawn } = await import('node:child_process');
  const { QemuVm } = await import('../../src/hypervisor/qemu/driver.js');
  // A QMP server that greets and then ignores every command, quit included.
  const fake = await fakeQmp(() => undefined);
  const child = spawn('sleep', ['600']);
  const exited = new Promise<{ code: number | null; signal: string | null }>((r) =>
    child.once('exit', (code, signal) => r({ code, signal })),
  );
  const spec = testVmSpec({ dir: fake.path.slice(0, -'/qmp.sock'.length) });
  const vm = new QemuVm({ pid: child.pid ?? -1, startTime: '0' }, exited, spec, (s) => child.kill(s), {
    runner: new RealRunner(),
    helper: '/nonexistent',
  });
  const t0 = Date.now();
  try {
    await vm.stop(800);
    assert.ok(Date.now() - t0 < 3000, `stop took ${Date.now() - t0} ms`);
    assert.equal((await exited).signal, 'SIGKILL');
  } finally {
    child.kill('SIGKILL');
    fake.close();
  }
});

test('a private socket is 0600 from the moment it exists, whatever the umask', async () => {
  const { listenPrivate } = await import('../../src/sys/private-socket.js');
  const { lstatSync } = await import('node:fs');
  const dir = mkdtempSync('/tmp/hkq-');
  const old = process.umask(0);
  try {
    const server = createServer();
    await listenPrivate(server, join(dir, 's.sock'));
    assert.equal(lstatSync(join(dir, 's.sock')).mode & 0o777, 0o600);
    assert.equal(process.umask(0), 0, 'the umask is left alone');
    await new Promise((r) => server.close(r));
    await new Promise((r) => setTimeout(r, 20));
    assert.throws(() => lstatSync(join(dir, 's.sock')), /ENOENT/, 'removed with the server');
  } finally {
    process.umask(old);
    rmSync(dir, { recursive: true, force: true });
  }
});
