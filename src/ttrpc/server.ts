// A ttrpc server: unary handlers registered by service and method, requests
// handled concurrently, replies written whole in completion order. Hostile
// input gets a status, never a crash: oversized frames RESOURCE_EXHAUSTED,
// undecodable requests INVALID_ARGUMENT, even stream ids INVALID_ARGUMENT,
// unknown services or methods UNIMPLEMENTED.
import type { Duplex } from 'node:stream';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { RequestSchema, ResponseSchema, type Response } from '../gen/ttrpc_pb.js';
import { encodeFrame, FrameDecoder, MAX_PAYLOAD, MessageType } from './frame.js';
import { Code, toStatus } from './status.js';

export interface IncomingCall {
  readonly service: string;
  readonly method: string;
  readonly payload: Uint8Array;
  readonly metadata: ReadonlyMap<string, string>;
  /** Relative deadline sent by the client; 0 = none. */
  readonly timeoutNano: bigint;
}

export type MethodHandler = (call: IncomingCall) => Promise<Uint8Array>;

export class TtrpcServer {
  readonly #methods = new Map<string, Map<string, MethodHandler>>();
  readonly #connections = new Set<Duplex>();

  register(service: string, method: string, handler: MethodHandler): void {
    let methods = this.#methods.get(service);
    if (!methods) {
      methods = new Map();
      this.#methods.set(service, methods);
    }
    methods.set(method, handler);
  }

  /** Serves one connection until it closes. */
  serve(socket: Duplex): void {
    this.#connections.add(socket);
    const decoder = new FrameDecoder(MAX_PAYLOAD);
    socket.on('close', () => this.#connections.delete(socket));
    socket.on('error', () => socket.destroy());
    socket.on('data', (chunk: Buffer) => {
      for (const event of decoder.push(chunk)) {
        if (event.kind === 'oversized') {
          const message = `message length ${event.length} exceeds maximum message size of ${MAX_PAYLOAD}`;
          reply(socket, event.streamId, errorResponse(Code.RESOURCE_EXHAUSTED, message));
          continue;
        }
        const { frame } = event;
        if (frame.type !== MessageType.Request) continue;
        if (frame.streamId % 2 === 0) {
          const message = 'StreamID must be odd for client initiated streams';
          reply(socket, frame.streamId, errorResponse(Code.INVALID_ARGUMENT, message));
          continue;
        }
        void this.#handle(socket, frame.streamId, frame.payload);
      }
    });
  }

  /** Closes every open connection. */
  closeAll(): void {
    for (const c of this.#connections) c.destroy();
  }

  async #handle(socket: Duplex, streamId: number, payload: Uint8Array): Promise<void> {
    let request;
    try {
      request = fromBinary(RequestSchema, payload);
    } catch (e) {
      const message = `malformed ttrpc request: ${e instanceof Error ? e.message : String(e)}`;
      reply(socket, streamId, errorResponse(Code.INVALID_ARGUMENT, message));
      return;
    }
    let response: Response;
    const handler = this.#methods.get(request.service)?.get(request.method);
    if (!this.#methods.has(request.service)) {
      response = errorResponse(Code.UNIMPLEMENTED, `service ${request.service}`);
    } else if (!handler) {
      response = errorResponse(Code.UNIMPLEMENTED, `method ${request.method}`);
    } else {
      try {
        const metadata = new Map(request.metadata.map((kv) => [kv.key.toLowerCase(), kv.value]));
        const out = await handler({
          service: request.service,
          method: request.method,
          payload: request.payload,
          metadata,
          timeoutNano: request.timeoutNano,
        });
        response = create(ResponseSchema, { payload: out });
      } catch (e) {
        const { code, message } = toStatus(e);
        response = errorResponse(code, message);
      }
    }
    reply(socket, streamId, response);
  }
}

function errorResponse(code: number, message: string): Response {
  return create(ResponseSchema, { status: { code, message } });
}

function reply(socket: Duplex, streamId: number, response: Response): void {
  if (socket.destroyed) return;
  let body = toBinary(ResponseSchema, response);
  if (body.length > MAX_PAYLOAD) {
    body = toBinary(
      ResponseSchema,
      errorResponse(Code.RESOURCE_EXHAUSTED, 'response exceeds the maximum message size'),
    );
  }
  socket.write(encodeFrame(streamId, MessageType.Response, body));
}
