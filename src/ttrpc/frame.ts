// ttrpc framing: a 10-byte header (payload length u32 BE, stream id u32 BE,
// message type u8, flags u8) followed by the payload. The decoder never
// buffers more than one frame's worth: an oversized frame is reported and
// its payload skipped, so a hostile peer cannot make us allocate 4 GiB.

export const HEADER_LENGTH = 10;
/** ttrpc's own limit (4 MiB); larger frames are refused. */
export const MAX_PAYLOAD = 4 << 20;

export const MessageType = { Request: 1, Response: 2, Data: 3 } as const;

export interface Frame {
  readonly streamId: number;
  readonly type: number;
  readonly flags: number;
  readonly payload: Buffer;
}

export type DecodeEvent =
  | { readonly kind: 'frame'; readonly frame: Frame }
  | { readonly kind: 'oversized'; readonly streamId: number; readonly type: number; readonly length: number };

export function encodeFrame(streamId: number, type: number, payload: Uint8Array, flags = 0): Buffer {
  if (payload.length > MAX_PAYLOAD) {
    throw new RangeError(`ttrpc payload of ${payload.length} bytes exceeds ${MAX_PAYLOAD}`);
  }
  const out = Buffer.allocUnsafe(HEADER_LENGTH + payload.length);
  out.writeUInt32BE(payload.length, 0);
  out.writeUInt32BE(streamId >>> 0, 4);
  out.writeUInt8(type, 8);
  out.writeUInt8(flags, 9);
  out.set(payload, HEADER_LENGTH);
  return out;
}

export class FrameDecoder {
  readonly #maxPayload: number;
  #buffered: Buffer[] = [];
  #bufferedLength = 0;
  #skip = 0;

  constructor(maxPayload = MAX_PAYLOAD) {
    this.#maxPayload = maxPayload;
  }

  /** Bytes of an incomplete frame held back (non-zero at close = truncated). */
  get pendingBytes(): number {
    return this.#bufferedLength + this.#skip;
  }

  push(chunk: Buffer): DecodeEvent[] {
    const events: DecodeEvent[] = [];
    let data = chunk;
    if (this.#skip > 0) {
      const n = Math.min(this.#skip, data.length);
      this.#skip -= n;
      data = data.subarray(n);
    }
    if (data.length === 0) return events;
    this.#buffered.push(data);
    this.#bufferedLength += data.length;
    for (;;) {
      if (this.#bufferedLength < HEADER_LENGTH) break;
      const head = this.#peek(HEADER_LENGTH);
      const length = head.readUInt32BE(0);
      const streamId = head.readUInt32BE(4);
      const type = head.readUInt8(8);
      const flags = head.readUInt8(9);
      if (length > this.#maxPayload) {
        this.#consume(HEADER_LENGTH);
        const n = Math.min(length, this.#bufferedLength);
        this.#consume(n);
        this.#skip = length - n;
        events.push({ kind: 'oversized', streamId, type, length });
        if (this.#skip > 0) break;
        continue;
      }
      if (this.#bufferedLength < HEADER_LENGTH + length) break;
      this.#consume(HEADER_LENGTH);
      const payload = this.#consume(length);
      events.push({ kind: 'frame', frame: { streamId, type, flags, payload } });
    }
    return events;
  }

  #peek(n: number): Buffer {
    const first = this.#buffered[0];
    if (first !== undefined && first.length >= n) return first.subarray(0, n);
    const joined = Buffer.concat(this.#buffered);
    this.#buffered = [joined];
    return joined.subarray(0, n);
  }

  #consume(n: number): Buffer {
    if (n === 0) return Buffer.alloc(0);
    const joined = this.#buffered.length === 1 ? this.#buffered[0]! : Buffer.concat(this.#buffered);
    const taken = Buffer.from(joined.subarray(0, n));
    const rest = joined.subarray(n);
    this.#buffered = rest.length > 0 ? [rest] : [];
    this.#bufferedLength -= n;
    return taken;
  }
}
