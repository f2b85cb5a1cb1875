// A ttrpc client over any byte stream: unary calls multiplexed by stream id
// (1, 3, 5, …), replies matched in any order, per-call timeouts. A peer that
// breaks the protocol (oversized or undecodable frames) ends the connection:
// every pending call fails with a clear error instead of hanging.
import type { Duplex } from 'node:stream';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { RequestSchema, ResponseSchema } from '../gen/ttrpc_pb.js';
import { encodeFrame, FrameDecoder, MAX_PAYLOAD, MessageType } from './frame.js';
import { Code, TtrpcError } from './status.js';

export interface CallOptions {
  /** Fails the call with DEADLINE_EXCEEDED after this long; also sent to the peer. */
  readonly timeoutMs?: number;
  readonly metadata?: Readonly<Record<string, string>>;
}

/** Stream ids are unsigned 32-bit numbers on the wire. */
const MAX_STREAM_ID = 0xffff_ffff;

interface Pending {
  resolve(payload: Uint8Array): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout | undefined;
}

export class TtrpcClient {
  readonly #socket: Duplex;
  readonly #decoder: FrameDecoder;
  readonly #pending = new Map<number, Pending>();
  #nextStream = 1;
  #closedWith: Error | undefined;
  readonly #closeWaiters: ((e: Error) => void)[] = [];

  constructor(socket: Duplex, opts: { maxPayload?: number; firstStreamId?: number } = {}) {
    this.#socket = socket;
    this.#nextStream = opts.firstStreamId ?? 1;
    this.#decoder = new FrameDecoder(opts.maxPayload ?? MAX_PAYLOAD);
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', (e) =>
      this.#fail(new TtrpcError(Code.UNAVAILABLE, `ttrpc connection failed: ${e.message}`)),
    );
    socket.on('close', () => {
      // A frame cut short is the peer breaking the protocol, not just leaving.
      if (this.#decoder.pendingBytes > 0) {
        this.#fail(
          new TtrpcError(Code.DATA_LOSS, 'ttrpc connection closed by the peer in the middle of a frame'),
        );
      } else this.#fail(new TtrpcError(Code.UNAVAILABLE, 'ttrpc connection closed by the peer'));
    });
  }

  /** Resolves with the reason once the connection is unusable. */
  closed(): Promise<Error> {
    if (this.#closedWith) return Promise.resolve(this.#closedWith);
    return new Promise((resolve) => this.#closeWaiters.push(resolve));
  }

  get isClosed(): boolean {
    return this.#closedWith !== undefined;
  }

  call(service: string, method: string, payload: Uint8Array, opts: CallOptions = {}): Promise<Uint8Array> {
    if (this.#closedWith) return Promise.reject(this.#closedWith);
    const streamId = this.#takeStreamId();
    if (streamId === undefined) {
      return Promise.reject(new TtrpcError(Code.RESOURCE_EXHAUSTED, 'no free ttrpc stream id'));
    }
    const timeoutMs = opts.timeoutMs;
    const request = create(RequestSchema, {
      service,
      method,
      payload,
      timeoutNano: timeoutMs !== undefined ? BigInt(Math.round(timeoutMs * 1e6)) : 0n,
      metadata: Object.entries(opts.metadata ?? {}).map(([key, value]) => ({ key, value })),
    });
    let frame: Buffer;
    try {
      frame = encodeFrame(streamId, MessageType.Request, toBinary(RequestSchema, request));
    } catch (e) {
      return Promise.reject(new TtrpcError(Code.RESOURCE_EXHAUSTED, (e as Error).message));
    }
    return new Promise<Uint8Array>((resolve, reject) => {
      const pending: Pending = { resolve, reject, timer: undefined };
      if (timeoutMs !== undefined) {
        pending.timer = setTimeout(() => {
          this.#pending.delete(streamId);
          reject(new TtrpcError(Code.DEADLINE_EXCEEDED, `${method} timed out after ${timeoutMs} ms`));
        }, timeoutMs);
      }
      this.#pending.set(streamId, pending);
      this.#socket.write(frame);
    });
  }

  /**
   * The next odd stream id (ids are 32 bits on the wire): past the largest
   * it wraps around to 1, skipping ids whose calls are still pending, so a
   * long-lived connection never sends an id whose reply would be taken
   * for another's.
   */
  #takeStreamId(): number | undefined {
    for (let tries = 0; tries <= this.#pending.size; tries++) {
      const id = this.#nextStream;
      this.#nextStream = id >= MAX_STREAM_ID - 1 ? 1 : id + 2;
      if (!this.#pending.has(id)) return id;
    }
    return undefined;
  }

  close(): void {
    this.#fail(new TtrpcError(Code.UNAVAILABLE, 'ttrpc client closed'));
  }

  #onData(chunk: Buffer): void {
    if (this.#closedWith) return;
    for (const event of this.#decoder.push(chunk)) {
      if (event.kind === 'oversized') {
        this.#fail(
          new TtrpcError(
            Code.RESOURCE_EXHAUSTED,
            `peer sent a frame of ${event.length} bytes, more than the ${MAX_PAYLOAD} allowed`,
          ),
        );
        return;
      }
      const { frame } = event;
      // A server sends only responses, on the odd streams its client opened.
      if (frame.type !== MessageType.Response || frame.streamId % 2 === 0) {
        this.#fail(
          new TtrpcError(
            Code.DATA_LOSS,
            `peer sent a frame of type ${frame.type} on stream ${frame.streamId}, not a response to a call`,
          ),
        );
        return;
      }
      const pending = this.#pending.get(frame.streamId);
      if (!pending) continue; // timed out earlier, or a stray reply
      this.#pending.delete(frame.streamId);
      if (pending.timer) clearTimeout(pending.timer);
      let response;
      try {
        response = fromBinary(ResponseSchema, frame.payload);
      } catch (e) {
        const err = new TtrpcError(
          Code.DATA_LOSS,
          `peer sent an undecodable response: ${(e as Error).message}`,
        );
        pending.reject(err);
        this.#fail(err);
        return;
      }
      const status = response.status;
      if (status && status.code !== Code.OK) {
        const details = status.details.map((d) => ({ typeUrl: d.typeUrl, value: d.value }));
        pending.reject(new TtrpcError(status.code, status.message, details));
      } else {
        pending.resolve(response.payload);
      }
    }
  }

  #fail(e: Error): void {
    if (this.#closedWith) return;
    this.#closedWith = e;
    for (const p of this.#pending.values()) {
      if (p.timer) clearTimeout(p.timer);
      p.reject(e);
    }
    this.#pending.clear();
    this.#socket.destroy();
    for (const w of this.#closeWaiters.splice(0)) w(e);
  }
}
