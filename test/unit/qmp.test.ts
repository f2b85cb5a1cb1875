// The QMP client against a scripted fake QMP server.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { QmpClient, type QmpEvent } from '../../src/hypervisor/qemu/qmp.js';

type Script = (
  cmd: { execute: string; id?: number; arguments?: unknown },
  send: (o: unknown) => void,
  s: Socket,
) => void;

async function fakeQmp(script: Script, greeting = true) {
  const dir = mkdtempSync('/tmp/hkq-');
  const path = join(dir, 'qmp.sock');
  const received: string[] = [];
  const server = createServer((s) => {
    const send = (o: unknown) => s.write(`${JSON.stringify(o)}\r\n`);
    if (greeting) send({ QMP: { version: { qemu: { major: 7, minor: 2, micro: 0 } }, capabilities: [] } });
    let buf = '';
    s.on('data', (d) => {
      buf += d.toString();
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        const cmd = JSON.parse(line) as { execute: string; id?: number };
        received.push(cmd.execute);
        script(cmd, send, s);
      }
    });
  });
  await new Promise<void>((r) => server.listen(path, r));
  return { path, received, close: () => (server.close(), rmSync(dir, { recursive: true, force: true })) };
}

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
