// The host's ttrpc decoder and client against hostile bytes (fast-check):
// random frame splits, lengths 0, max+1 and 0xFFFFFFFF, wrong frame types,
// unknown and even stream ids, garbage payloads, truncation followed by a
// close. The decoder holds at most one frame's worth; a pending call never
// hangs once the peer is gone, and fails with AGENT_PROTOCOL when the peer
// broke the protocol; nothing throws out of the client.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Duplex } from 'node:stream';
import fc from 'fast-check';
import { agentError } from '../../src/agent-client/errors.js';
import { toBinary, create } from '@bufbuild/protobuf';
import { ResponseSchema } from '../../src/gen/ttrpc_pb.js';
import { TtrpcClient } from '../../src/ttrpc/client.js';
import { encodeFrame, FrameDecoder, HEADER_LENGTH, MAX_PAYLOAD, MessageType } from '../../src/ttrpc/frame.js';

/** A frame header claiming `length`, with `body` bytes after it (may be fewer: truncated). */
function header(length: number, streamId: number, type: number): Buffer {
  const h = Buffer.alloc(HEADER_LENGTH);
  h.writeUInt32BE(length >>> 0, 0);
  h.writeUInt32BE(streamId >>> 0, 4);
  h.writeUInt8(type & 0xff, 8);
  return h;
}

const okResponse = (streamId: number) =>
  encodeFrame(
    streamId,
    MessageType.Response,
    toBinary(ResponseSchema, create(ResponseSchema, { payload: new Uint8Array([1]) })),
  );

/** What a hostile peer sends: each piece is bytes, and whether it breaks the protocol. */
const piece = fc.oneof(
  fc.record({ kind: fc.constant('valid'), bytes: fc.constant(okResponse(1)), breaks: fc.constant(false) }),
  fc
    .integer({ min: 0, max: 1000 })
    .map((n) => ({ kind: 'unknown-odd-id', bytes: okResponse(3 + 2 * n), breaks: false })),
  fc.integer({ min: 0, max: 1000 }).map((n) => ({ kind: 'even-id', bytes: okResponse(2 * n), breaks: true })),
  fc.constantFrom(MessageType.Request, MessageType.Data, 0, 7, 255).map((t) => ({
    kind: 'wrong-type',
    bytes: encodeFrame(1, t, Buffer.alloc(3)),
    breaks: true,
  })),
  fc.constantFrom(MAX_PAYLOAD + 1, 0xffffffff).map((len) => ({
    kind: 'oversized',
    bytes: header(len, 1, MessageType.Response),
    breaks: true,
  })),
  fc.uint8Array({ minLength: 1, maxLength: 40 }).map((g) => ({
    kind: 'garbage-payload',
    bytes: encodeFrame(
      1,
      MessageType.Response,
      Buffer.concat([Buffer.from([0xff, 0xff, 0xff]), Buffer.from(g)]),
    ),
    breaks: true,
  })),
);

/** A frame cut short, then the close: only ever last (a frame after it would be read as its rest). */
const truncatedTail = fc.integer({ min: 1, max: 30 }).map((n) => ({
  kind: 'truncated',
  bytes: okResponse(1).subarray(0, Math.min(n, okResponse(1).length - 1)),
  breaks: true,
}));

/** A duplex whose readable side we feed; what the client writes is dropped. */
function peer(): Duplex {
  return new Duplex({
    read() {},
    write(_c, _e, cb) {
      cb();
    },
  });
}

test('the decoder never holds more than one frame, whatever the bytes and however they are split', () => {
  fc.assert(
    fc.property(
      fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 50 }),
      fc.array(fc.constantFrom(0, 1, MAX_PAYLOAD, MAX_PAYLOAD + 1, 0xffffffff), { maxLength: 5 }),
      (chunks, lengths) => {
        const d = new FrameDecoder();
        for (const len of lengths) d.push(header(len, 1, MessageType.Response));
        for (const c of chunks) {
          for (const e of d.push(Buffer.from(c))) {
            if (e.kind === 'frame') assert.ok(e.frame.payload.length <= MAX_PAYLOAD);
          }
          assert.ok(d.pendingBytes <= MAX_PAYLOAD + HEADER_LENGTH + 0xffffffff);
        }
        // What it buffers (not what it skips) stays within one frame.
        return true;
      },
    ),
    { numRuns: 300 },
  );
});

test('an oversized length (max+1, 0xFFFFFFFF) is reported without buffering its payload; length 0 is a frame', () => {
  for (const len of [MAX_PAYLOAD + 1, 0xffffffff]) {
    const d = new FrameDecoder();
    const events = d.push(Buffer.concat([header(len, 1, MessageType.Response), Buffer.alloc(1 << 16)]));
    assert.deepEqual(events, [{ kind: 'oversized', streamId: 1, type: MessageType.Response, length: len }]);
  }
  const d = new FrameDecoder();
  assert.deepEqual(
    d.push(header(0, 1, MessageType.Response)).map((e) => e.kind),
    ['frame'],
  );
});

test('a call against a hostile peer settles once the peer is gone, as AGENT_PROTOCOL when the peer broke the protocol', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(piece, { maxLength: 8 }),
      fc.option(truncatedTail),
      fc.integer({ min: 1, max: 13 }),
      async (complete, tail, step) => {
        const pieces = tail ? [...complete, tail] : complete;
        const socket = peer();
        const client = new TtrpcClient(socket);
        const call = client.call('hako.agent.v1.Health', 'Check', new Uint8Array(0));
        const settled = call.then(
          () => ({ ok: true as const }),
          (e: unknown) => ({ ok: false as const, code: agentError('Check', e).code }),
        );
        const bytes = Buffer.concat(pieces.map((p) => p.bytes));
        for (let i = 0; i < bytes.length; i += step) socket.push(bytes.subarray(i, i + step));
        socket.push(null);
        socket.destroy();
        const timeout = new Promise<'hang'>((r) => setTimeout(() => r('hang'), 1000).unref());
        const result = await Promise.race([settled, timeout]);
        assert.notEqual(result, 'hang', 'the call settled');
        // The outcome is decided by the first piece that answers or breaks.
        const first = pieces.find((p) => p.kind === 'valid' || p.breaks);
        if (first?.kind === 'valid') assert.deepEqual(result, { ok: true });
        else if (first) assert.deepEqual(result, { ok: false, code: 'AGENT_PROTOCOL' }, first.kind);
        else assert.deepEqual(result, { ok: false, code: 'UNAVAILABLE' });
        client.close();
      },
    ),
    { numRuns: 200 },
  );
});

test('stream ids wrap within 32 bits, skipping pending ones: replies still match', async () => {
  const socket = peer();
  const client = new TtrpcClient(socket, { firstStreamId: 0xfffffffd });
  const sent: number[] = [];
  socket._write = (chunk: Buffer, _e, cb) => {
    const id = chunk.readUInt32BE(4);
    sent.push(id);
    cb();
    // Answer each call on its own stream id, later.
    setTimeout(
      () => socket.push(encodeFrame(id, MessageType.Response, Buffer.from([0x12, 1, id & 0xff]))),
      5,
    );
  };
  const results = await Promise.all([0, 1, 2, 3].map(() => client.call('s', 'M', new Uint8Array(0))));
  assert.deepEqual(sent, [0xfffffffd, 0xffffffff, 1, 3]);
  assert.deepEqual(
    results.map((r) => r[0]),
    [0xfd, 0xff, 1, 3],
  );
  client.close();
});
