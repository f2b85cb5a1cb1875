// Publishes task events to containerd (Events.Forward on TTRPC_ADDRESS):
// one ordered queue, one connection, a 5 s deadline per event, reconnect
// and retry with back-off, and flush() before the daemon exits.
import { connect } from 'node:net';
import { pathOf } from './address.js';
import { create, toBinary, type DescMessage, type MessageInitShape } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { Events } from '../gen/containerd/events_service_pb.js';
import type { Logger } from '../log.js';
import { TtrpcClient } from '../ttrpc/client.js';
import { callUnary } from '../ttrpc/typed.js';
import { messageOf } from '../errors.js';

const FORWARD_TIMEOUT_MS = 5000;
const MAX_ATTEMPTS = 5;
const MAX_QUEUE = 2048;

interface Queued {
  readonly topic: string;
  readonly typeUrl: string;
  readonly value: Uint8Array;
  readonly at: Date;
}

export interface EventSink {
  publish<D extends DescMessage>(topic: string, schema: D, event: MessageInitShape<D>): void;
}

export class EventPublisher implements EventSink {
  readonly #queue: Queued[] = [];
  #client: TtrpcClient | undefined;
  #draining: Promise<void> | undefined;

  constructor(
    private readonly ttrpcAddress: string,
    private readonly namespace: string,
    private readonly log: Logger,
  ) {}

  publish<D extends DescMessage>(topic: string, schema: D, event: MessageInitShape<D>): void {
    if (this.#queue.length >= MAX_QUEUE) {
      this.log.log('warn', `event queue full, dropping ${topic}`);
      return;
    }
    // containerd looks event types up by their bare name.
    const value = toBinary(schema, create(schema, event));
    this.#queue.push({ topic, typeUrl: schema.typeName, value, at: new Date() });
    this.#draining ??= this.#drain().finally(() => (this.#draining = undefined));
  }

  /** Resolves once every queued event was sent (or given up on). */
  async flush(): Promise<void> {
    while (this.#draining) await this.#draining;
  }

  close(): void {
    this.#client?.close();
  }

  async #connect(): Promise<TtrpcClient> {
    if (this.#client && !this.#client.isClosed) return this.#client;
    const socket = connect(pathOf(this.ttrpcAddress));
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    this.#client = new TtrpcClient(socket);
    return this.#client;
  }

  async #drain(): Promise<void> {
    while (this.#queue.length > 0) {
      const ev = this.#queue[0];
      if (!ev) break;
      for (let attempt = 1; ; attempt++) {
        try {
          const client = await this.#connect();
          await callUnary(
            client,
            Events.method.forward,
            {
              envelope: {
                timestamp: timestampFromDate(ev.at),
                namespace: this.namespace,
                topic: ev.topic,
                event: { typeUrl: ev.typeUrl, value: ev.value },
              },
            },
            { timeoutMs: FORWARD_TIMEOUT_MS, metadata: { 'containerd-namespace-ttrpc': this.namespace } },
          );
          break;
        } catch (e) {
          this.#client?.close();
          this.#client = undefined;
          if (attempt >= MAX_ATTEMPTS) {
            this.log.log('warn', `dropping event ${ev.topic}: ${messageOf(e)}`);
            break;
          }
          await new Promise((r) => setTimeout(r, 200 * attempt));
        }
      }
      this.#queue.shift();
    }
  }
}
