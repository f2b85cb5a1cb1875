// The TypeScript ttrpc client and server against each other and against
// hostile peers: nothing may hang or crash.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, connect, type Socket, type Server } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { TtrpcClient } from '../../src/ttrpc/client.js';
import { TtrpcServer } from '../../src/ttrpc/server.js';
import { Code, TtrpcError } from '../../src/ttrpc/status.js';
import { encodeFrame, FrameDecoder, MAX_PAYLOAD, MessageType } from '../../src/ttrpc/frame.js';
import { HakoError } from '../../src/errors.js';

async function pair(onServerSocket: (s: Socket) => void): Promise<{ client: Socket; close(): void }> {
  const dir = mkdtempSync('/tmp/hkt-');
  const path = join(dir, 's');
  const server: Server = createServer(onServerSocket);
  await new Promise<void>((r) => server.listen(path, r));
  const client = connect(path);
  await new Promise((r) => client.once('connect', r));
  return {
    client,
    close() {
      client.destroy();
      server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function echoServer(): TtrpcServer {
  const s = new TtrpcServer();
  s.register('t.S', 'Echo', async (c) => c.payload);
  s.register('t.S', 'Slow', async (c) => {
    await new Promise((r) => setTimeout(r, 50));
    return c.payload;
  });
  s.register('t.S', 'Fail', async () => {
    throw new TtrpcError(Code.NOT_FOUND, 'no such thing');
  });
  s.register('t.S', 'Hako', async () => {
    throw new HakoError('FAILED_PRECONDITION', 'container is running');
  });
  s.register('t.S', 'Meta', async (c) => Buffer.from(`${c.metadata.get('k') ?? ''}|${c.timeoutNano}`));
  return s;
}

test('unary calls are multiplexed and answered out of order', async () => {
  const server = echoServer();
  const p = await pair((s) => server.serve(s));
  const client = new TtrpcClient(p.client);
  try {
    const slow = client.call('t.S', 'Slow', Buffer.from('slow'));
    const fast = client.call('t.S', 'Echo', Buffer.from('fast'));
    assert.equal(Buffer.from(await fast).toString(), 'fast');
    assert.equal(Buffer.from(await slow).toString(), 'slow');
    const meta = await client.call('t.S', 'Meta', Buffer.alloc(0), { metadata: { k: 'v' }, timeoutMs: 1000 });
    assert.equal(Buffer.from(meta).toString(), 'v|1000000000');
  } finally {
    client.close();
    p.close();
  }
});

test('errors travel as statuses', async () => {
  const server = echoServer();
  const p = await pair((s) => server.serve(s));
  const client = new TtrpcClient(p.client);
  try {
    await assert.rejects(
      client.call('t.S', 'Fail', Buffer.alloc(0)),
      (e: TtrpcError) => e.code === Code.NOT_FOUND && e.message === 'no such thing',
    );
    await assert.rejects(
      client.call('t.S', 'Hako', Buffer.alloc(0)),
      (e: TtrpcError) => e.code === Code.FAILED_PRECONDITION,
    );
    await assert.rejects(
      client.call('t.S', 'Nope', Buffer.alloc(0)),
      (e: TtrpcError) => e.code === Code.UNIMPLEMENTED && e.message === 'method Nope',
    );
    await assert.rejects(
      client.call('x.Y', 'Z', Buffer.alloc(0)),
      (e: TtrpcError) => e.code === Code.UNIMPLEMENTED && e.message === 'service x.Y',
    );
  } finally {
    client.close();
    p.close();
  }
});

/** Raw exchange with the TS server. */
async function rawToServer(bytes: Buffer, expect: number) {
  const server = echoServer();
  const p = await pair((s) => server.serve(s));
  const decoder = new FrameDecoder();
  const got: { streamId: number; payload: Buffer }[] = [];
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, 2000);
    p.client.on('data', (c: Buffer) => {
      for (const e of decoder.push(c))
        if (e.kind === 'frame') got.push({ streamId: e.frame.streamId, payload: e.frame.payload });
      if (got.length >= expect) {
        clearTimeout(timer);
        resolve();
      }
    });
    p.client.write(bytes);
  });
  p.close();
  return got;
}

test('the server answers garbage, oversized frames and even stream ids with statuses', async () => {
  const { fromBinary } = await import('@bufbuild/protobuf');
  const { ResponseSchema } = await import('../../src/gen/ttrpc_pb.js');
  const head = Buffer.alloc(10);
  head.writeUInt32BE(MAX_PAYLOAD + 5, 0);
  head.writeUInt32BE(5, 4);
  head.writeUInt8(1, 8);
  const bytes = Buffer.concat([
    encodeFrame(1, MessageType.Request, Buffer.from([0xff, 0xff, 0xff])),
    encodeFrame(2, MessageType.Request, Buffer.alloc(0)),
    head,
    Buffer.alloc(MAX_PAYLOAD + 5),
  ]);
  const got = await rawToServer(bytes, 3);
  const codes = got.map((g) => [g.streamId, fromBinary(ResponseSchema, g.payload).status?.code]);
  assert.deepEqual(codes, [
    [1, Code.INVALID_ARGUMENT],
    [2, Code.INVALID_ARGUMENT],
    [5, Code.RESOURCE_EXHAUSTED],
  ]);
});

test('a call times out with DEADLINE_EXCEEDED', async () => {
  const p = await pair(() => undefined); // a peer that never answers
  const client = new TtrpcClient(p.client);
  try {
    await assert.rejects(
      client.call('t.S', 'Echo', Buffer.alloc(0), { timeoutMs: 50 }),
      (e: TtrpcError) => e.code === Code.DEADLINE_EXCEEDED,
    );
  } finally {
    client.close();
    p.close();
  }
});

test('a peer sending an oversized frame fails every pending call instead of hanging', async () => {
  const p = await pair((s) => {
    const head = Buffer.alloc(10);
    head.writeUInt32BE(MAX_PAYLOAD + 1, 0);
    head.writeUInt32BE(1, 4);
    head.writeUInt8(2, 8);
    s.write(head);
  });
  const client = new TtrpcClient(p.client);
  try {
    await assert.rejects(
      client.call('t.S', 'Echo', Buffer.alloc(0)),
      (e: TtrpcError) => e.code === Code.RESOURCE_EXHAUSTED,
    );
    assert.equal(client.isClosed, true);
  } finally {
    p.close();
  }
});

test('a peer sending a garbage response fails the call with DATA_LOSS', async () => {
  const p = await pair((s) =>
    s.once('data', () => s.write(encodeFrame(1, MessageType.Response, Buffer.from([0xff, 0xff])))),
  );
  const client = new TtrpcClient(p.client);
  try {
    await assert.rejects(
      client.call('t.S', 'Echo', Buffer.alloc(0)),
      (e: TtrpcError) => e.code === Code.DATA_LOSS,
    );
  } finally {
    p.close();
  }
});

test('a peer hanging up mid-frame fails pending calls with DATA_LOSS (a broken protocol, AGENT_PROTOCOL)', async () => {
  const p = await pair((s) =>
    s.once('data', () => s.end(encodeFrame(1, MessageType.Response, Buffer.alloc(20)).subarray(0, 14))),
  );
  const client = new TtrpcClient(p.client);
  try {
    await assert.rejects(
      client.call('t.S', 'Echo', Buffer.alloc(0)),
      (e: TtrpcError) => e.code === Code.DATA_LOSS && /middle of a frame/.test(e.message),
    );
    await assert.rejects(
      client.call('t.S', 'Echo', Buffer.alloc(0)),
      (e: TtrpcError) => e.code === Code.DATA_LOSS,
    );
  } finally {
    p.close();
  }
});
