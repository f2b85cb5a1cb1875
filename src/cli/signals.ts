// Relays signals sent to `hako run` to the container. A signal that arrives
// before the container runs is remembered (the run is then abandoned); a
// second SIGINT or SIGTERM escalates to SIGKILL, so a container whose init
// ignores signals (PID 1 in its namespace) can still be stopped.
import type { Container } from '../runtime/container.js';
import { signalNumber } from './exit-codes.js';

const RELAYED: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];
const SIGKILL = 9;

export class SignalRelay {
  #target: Container | undefined;
  #early: number | undefined;
  readonly #counts = new Map<NodeJS.Signals, number>();
  readonly #handler = (s: NodeJS.Signals) => this.#on(s);

  constructor() {
    for (const s of RELAYED) process.on(s, this.#handler);
  }

  /** The first signal received before a container was attached. */
  get early(): number | undefined {
    return this.#early;
  }

  attach(c: Container): void {
    this.#target = c;
  }

  stop(): void {
    for (const s of RELAYED) process.off(s, this.#handler);
  }

  #on(s: NodeJS.Signals): void {
    const count = (this.#counts.get(s) ?? 0) + 1;
    this.#counts.set(s, count);
    const n = signalNumber(s);
    if (!this.#target) {
      this.#early ??= n;
      return;
    }
    const escalate = count > 1 && (s === 'SIGINT' || s === 'SIGTERM');
    void this.#target.signal(escalate ? SIGKILL : n).catch(() => undefined);
  }
}
