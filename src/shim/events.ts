// Publishes task events to containerd (Events.Forward on TTRPC_ADDRESS):
// one ordered queue, one connection, a 5 s deadline per event, reconnect
// and retry with back-off, and flush() before the daemon exits.
// Lifecycle events (create, start, exit, delete, exec-*) are never dropped:
// there are a few per task, and containerd needs every one (a lost
// TaskExit leaves a task running for good). Only OOM events, which the
// guest drives, are bounded: at most MAX_DROPPABLE wait in the queue, and
// one that cannot be sent after MAX_ATTEMPTS is given up.
import { connect } from 'node:net';
import { pathOf } from './address.js';
import { create, toBinary, type DescMessage, type MessageInitShape } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { Events } from '../gen/containerd/events_service_pb.js';
import type { Logger } from '../log.js';
import { TtrpcClient } from '../ttrpc/client.js';
import { callUnary } from '../ttrpc/typed.js';
import { messageOf } from '../errors.js';
import { within } from '../within.js';

const FORWARD_TIMEOUT_MS = 5000;
const MAX_ATTEMPTS = 5;
const MAX_DROPPABLE = 256;
/** Back-off between attempts, at most. */
const MAX_BACKOFF_MS = 5000;
/** How long flush() waits for containerd at exit. */
const FLUSH_TIMEOUT_MS = 10_000;

/** Topics whose events may be dropped under pressure (the guest drives them). */
const DROPPABLE = new Set(['/tasks/oom']);

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
  #closed = false;

  constructor(
    private readonly ttrpcAddress: string,
    private readonly namespace: string,
    private readonly log: Logger,
  ) {}

  publish<D extends DescMessage>(topic: string, schema: D, event: MessageInitShape<D>): void {
    if (DROPPABLE.has(topic) && this.#queue.filter((q) => DROPPABLE.has(q.topic)).length >= MAX_DROPPABLE) {
      this.log.log('warn', `event queue holds ${MAX_DROPPABLE} ${topic} events: dropping one more`);
      return;
    }
    // containerd looks event types up by their bare name.
    const value = toBinary(schema, create(schema, event));
    this.#queue.push({ topic, typeUrl: schema.typeName, value, at: new Date() });
    this.#draining ??= this.#drain().finally(() => (this.#draining = undefined));
  }

  /** Resolves once every queued event was sent (or given up on), or after `timeoutMs`. */
  async flush(timeoutMs = FLUSH_TIMEOUT_MS): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.#draining && Date.now() < deadline) {
      await within(this.#draining, Math.max(1, deadline - Date.now()));
    }
  }

  /** How many events wait (for tests). */
  get pending(): number {
    return this.#queue.length;
  }

  /** Stops sending (what is queued is dropped) and closes the connection. */
  close(): void {
    this.#closed = true;
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
    while (this.#queue.length > 0 && !this.#closed) {
      const ev = this.#queue[0];
      if (!ev) break;
      for (let attempt = 1; !this.#closed; attempt++) {
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
          if (attempt >= MAX_ATTEMPTS && DROPPABLE.has(ev.topic)) {
            this.log.log('warn', `dropping event ${ev.topic}: ${messageOf(e)}`);
            break;
          }
          if (attempt === MAX_ATTEMPTS)
            this.log.log('warn', `event ${ev.topic} not delivered yet: ${messageOf(e)}`);
          await new Promise((r) => setTimeout(r, Math.min(200 * attempt, MAX_BACKOFF_MS)));
        }
      }
      this.#queue.shift();
    }
  }
}
