// The runtime's side of kubectl port-forward (src/network/port-forward.ts)
// over a fake helper and a fake guest: the per-connection header and
// answer, relaying with half-closes, refusals, bad headers, a helper that
// fails to start, and stop().
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPortForward, type GuestPorts } from '../../src/network/port-forward.js';
import type { Child, ChildExit, Runner, SpawnOptions } from '../../src/sys/runner.js';
import { silentLogger } from '../../src/log.js';
import { isHakoError } from '../../src/errors.js';

/** A helper that reports ready at once (or fails as `fail` says), and dies when killed. */
function fakeRunner(fail?: string): Runner & { spawned: SpawnOptions[]; killed: boolean } {
  const r = {
    spawned: [] as SpawnOptions[],
    killed: false,
    spawn(opts: SpawnOptions): Promise<Child> {
      r.spawned.push(opts);
      let exit: (e: ChildExit) => void = () => undefined;
      const exited = new Promise<ChildExit>((resolve) => (exit = resolve));
      if (fail) {
        writeFileSync(opts.logFile ?? '/dev/null', `hako-host-helper: ${fail}\n`);
        exit({ code: 1, signal: null });
      } else setImmediate(() => opts.onStdout?.());
      return Promise.resolve({
        pid: 1,
        exited,
        kill: () => {
          r.killed = true;
          exit({ code: null, signal: 'SIGKILL' });
        },
      });
    },
    run: () => Promise.reject(new Error('not here')),
  };
  return r;
}

/** A guest whose port 80 answers with what it got, upper-cased, once its input ended; others refuse. */
const guest: GuestPorts = {
  connect(port: number) {
    if (port !== 80) return Promise.reject(new Error('connection refused'));
    return Promise.resolve({
      relay: (socket: Socket) =>
        new Promise<void>((resolve) => {
          const got: Buffer[] = [];
          // Paused since its header was read: it reads on only when asked to.
          socket.on('data', (b: Buffer) => got.push(b)).resume();
          socket.on('end', () => socket.end(Buffer.concat(got).toString().toUpperCase(), () => resolve()));
        }),
    });
  },
};

/** What the helper would do: connect, send `header`, then `data` and a half-close; everything received. */
function asHelper(path: string, header: Buffer, data?: string): Promise<Buffer> {
  return new Promise((resolve) => {
    const s = connect({ path, allowHalfOpen: true });
    const got: Buffer[] = [];
    s.on('data', (b: Buffer) => got.push(b));
    s.on('error', () => undefined);
    // As the helper does: the runtime's end ends the connection.
    s.on('end', () => s.end());
    s.on('close', () => resolve(Buffer.concat(got)));
    s.write(header);
    if (data !== undefined) s.end(data);
  });
}

const port = (n: number) => Buffer.from([n >> 8, n & 0xff]);

test('each connection: its port, the answer, then bytes both ways with half-closes; refusals and bad headers', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hk-pf-'));
  const runner = fakeRunner();
  try {
    const pf = await startPortForward({
      runner,
      helper: '/h',
      netns: '/run/netns/p',
      dir,
      guest,
      log: silentLogger,
    });
    assert.deepEqual(runner.spawned[0]?.argv, [
      '/h',
      'forward',
      '--netns',
      '/run/netns/p',
      '--to',
      join(dir, 'fwd.sock'),
    ]);
    assert.equal(runner.spawned[0]?.dieWithParent, true);
    const sock = join(dir, 'fwd.sock');
    // Connected (0), then the guest's reply after our half-close.
    assert.deepEqual(await asHelper(sock, port(80), 'hello'), Buffer.from('\0HELLO'));
    // Nothing listens on 81 in the guest: answered 1, then closed.
    assert.deepEqual(await asHelper(sock, port(81), ''), Buffer.from([1]));
    // Port 0, or a header cut short: closed without an answer.
    assert.deepEqual(await asHelper(sock, port(0)), Buffer.alloc(0));
    assert.deepEqual(await asHelper(sock, Buffer.from([0]), ''), Buffer.alloc(0));
    await pf.stop();
    assert.ok(runner.killed, 'the helper is ended');
    assert.ok(!existsSync(sock), 'the socket is removed');
    await pf.stop();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a connection still open is cut by stop()', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hk-pf-'));
  try {
    const pf = await startPortForward({
      runner: fakeRunner(),
      helper: '/h',
      netns: '/n',
      dir,
      guest,
      log: silentLogger,
    });
    // Never half-closed: the fake guest would wait for good.
    const open = asHelper(join(dir, 'fwd.sock'), port(80));
    await new Promise((r) => setTimeout(r, 100));
    await pf.stop();
    assert.deepEqual(await open, Buffer.from([0]));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a helper that cannot redirect fails the start with its reason, and leaves no socket', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hk-pf-'));
  try {
    await assert.rejects(
      startPortForward({
        runner: fakeRunner('iptables-restore in /n: no nat table'),
        helper: '/h',
        netns: '/n',
        dir,
        guest,
        log: silentLogger,
      }),
      (e: unknown) =>
        isHakoError(e, 'HOST_NOT_READY') &&
        /port-forward in \/n: iptables-restore in \/n: no nat table/.test(e.message),
    );
    assert.ok(!existsSync(join(dir, 'fwd.sock')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
