// A QMP client: line-delimited JSON over a Unix socket. Commands carry an
// id so replies match even with events in between. Lines longer than 1 MiB
// or that are not JSON objects end the connection with an error.
import { connect, type Socket } from 'node:net';
import { HakoError } from '../../errors.js';

const MAX_LINE = 1 << 20;

export interface QmpEvent {
  readonly event: string;
  readonly data: unknown;
}

interface Pending {
  resolve(v: unknown): void;
  reject(e: Error): void;
}

export class QmpClient {
  readonly #socket: Socket;
  readonly #pending = new Map<number, Pending>();
  readonly #eventListeners: ((e: QmpEvent) => void)[] = [];
  #nextId = 1;
  #buffer = '';
  #greeted: Promise<void>;
  #greetFail: ((e: Error) => void) | undefined;
  #closed: Error | undefined;

  private constructor(socket: Socket) {
    this.#socket = socket;
    let greet: (() => void) | undefined;
    let fail: ((e: Error) => void) | undefined;
    this.#greeted = new Promise((resolve, reject) => {
      greet = resolve;
      fail = reject;
    });
    this.#greetFail = fail;
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      this.#buffer += chunk;
      if (this.#buffer.length > MAX_LINE && !this.#buffer.includes('\n')) {
        this.#fail(new HakoError('INTERNAL', 'QMP: line too long'));
        return;
      }
      let nl: number;
      while ((nl = this.#buffer.indexOf('\n')) >= 0) {
        const line = this.#buffer.slice(0, nl).trim();
        this.#buffer = this.#buffer.slice(nl + 1);
        if (line.length === 0) continue;
        let msg: unknown;
        try {
          msg = JSON.parse(line);
        } catch {
          this.#fail(new HakoError('INTERNAL', `QMP: not JSON: ${line.slice(0, 200)}`));
          return;
        }
        if (typeof msg !== 'object' || msg === null) continue;
        const m = msg as Record<string, unknown>;
        if ('QMP' in m) greet?.();
        else if ('event' in m) {
          const ev = { event: String(m['event']), data: m['data'] };
          for (const l of this.#eventListeners) l(ev);
        } else if ('id' in m && typeof m['id'] === 'number') {
          const p = this.#pending.get(m['id']);
          if (!p) continue;
          this.#pending.delete(m['id']);
          if ('error' in m) {
            const err = m['error'] as { class?: string; desc?: string } | undefined;
            p.reject(
              new HakoError('INTERNAL', `QMP: ${err?.class ?? 'Error'}: ${err?.desc ?? 'unknown error'}`),
            );
          } else p.resolve(m['return']);
        }
      }
    });
    socket.on('error', (e) => {
      fail?.(e);
      this.#fail(new HakoError('UNAVAILABLE', `QMP connection failed: ${e.message}`));
    });
    socket.on('close', () => {
      fail?.(new HakoError('UNAVAILABLE', 'QMP connection closed before the greeting'));
      this.#fail(new HakoError('UNAVAILABLE', 'QMP connection closed'));
    });
  }

  /** Connects, reads the greeting and leaves capabilities negotiation mode. */
  static async connect(path: string, timeoutMs = 5000): Promise<QmpClient> {
    const socket = connect(path);
    const client = new QmpClient(socket);
    const timer = setTimeout(() => {
      const e = new HakoError('INTERNAL', `QMP: no greeting within ${timeoutMs} ms`);
      client.#greetFail?.(e);
      client.#fail(e);
    }, timeoutMs);
    try {
      await client.#greeted;
      await client.execute('qmp_capabilities');
      return client;
    } catch (e) {
      client.close();
      throw e;
    } finally {
      clearTimeout(timer);
    }
  }

  onEvent(listener: (e: QmpEvent) => void): void {
    this.#eventListeners.push(listener);
  }

  execute(command: string, args?: Record<string, unknown>): Promise<unknown> {
    if (this.#closed) return Promise.reject(this.#closed);
    const id = this.#nextId++;
    const msg = JSON.stringify(args ? { execute: command, arguments: args, id } : { execute: command, id });
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#socket.write(`${msg}\n`);
    });
  }

  close(): void {
    this.#fail(new HakoError('UNAVAILABLE', 'QMP client closed'));
  }

  #fail(e: Error): void {
    if (this.#closed) return;
    this.#closed = e;
    for (const p of this.#pending.values()) p.reject(e);
    this.#pending.clear();
    this.#socket.destroy();
  }
}
