import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeFrame, FrameDecoder, HEADER_LENGTH, MAX_PAYLOAD, MessageType } from '../../src/ttrpc/frame.js';

test('the header matches the ttrpc layout', () => {
  const f = encodeFrame(3, MessageType.Request, Buffer.from([0x0a, 0x02, 0x63, 0x31]));
  assert.deepEqual([...f.subarray(0, HEADER_LENGTH)], [0, 0, 0, 4, 0, 0, 0, 3, 1, 0]);
});

test('frames split anywhere and joined in one chunk decode the same', () => {
  const frames = [
    encodeFrame(1, 1, Buffer.from('hello')),
    encodeFrame(3, 2, Buffer.alloc(0)),
    encodeFrame(5, 1, Buffer.alloc(70_000, 7)),
  ];
  const all = Buffer.concat(frames);
  for (const step of [1, 3, 10, 4096, all.length]) {
    const d = new FrameDecoder();
    const got = [];
    for (let i = 0; i < all.length; i += step) got.push(...d.push(all.subarray(i, i + step)));
    assert.deepEqual(
      got.map((e) => (e.kind === 'frame' ? [e.frame.streamId, e.frame.type, e.frame.payload.length] : [])),
      [
        [1, 1, 5],
        [3, 2, 0],
        [5, 1, 70_000],
      ],
    );
    assert.equal(d.pendingBytes, 0);
  }
});

test('an oversized frame is reported and its payload skipped without buffering it', () => {
  const d = new FrameDecoder(100);
  const head = Buffer.alloc(10);
  head.writeUInt32BE(1000, 0);
  head.writeUInt32BE(9, 4);
  head.writeUInt8(1, 8);
  const events = [
    ...d.push(head),
    ...d.push(Buffer.alloc(600)),
    ...d.push(Buffer.alloc(400)),
    ...d.push(encodeFrame(11, 1, Buffer.from('ok'))),
  ];
  assert.deepEqual(
    events.map((e) =>
      e.kind === 'oversized' ? ['oversized', e.streamId, e.length] : ['frame', e.frame.streamId],
    ),
    [
      ['oversized', 9, 1000],
      ['frame', 11],
    ],
  );
});

test('a truncated frame stays pending', () => {
  const d = new FrameDecoder();
  assert.deepEqual(d.push(encodeFrame(1, 1, Buffer.from('abcdef')).subarray(0, 12)), []);
  assert.equal(d.pendingBytes, 12);
});

test('encoding refuses payloads over the limit', () => {
  assert.throws(() => encodeFrame(1, 1, Buffer.alloc(MAX_PAYLOAD + 1)), /exceeds/);
});
