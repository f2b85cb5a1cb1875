// Relays signals sent to `hako run` to the container. A signal that arrives
// before the container runs is remembered (the run is then abandoned); a
// second SIGINT or SIGTERM escalates to SIGKILL, so a container whose init
// ignores signals (PID 1 in its namespace) can still be stopped. SIGTERM
// and SIGHUP come from a supervisor (`timeout`, a closed terminal) that will
// not ask twice: a container still running STOP_GRACE_MS after them is
// killed, as `docker stop` does.
import type { Container } from '../runtime/container.js';
import { signalNumber } from './exit-codes.js';

const RELAYED: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];
const SIGKILL = 9;
/** How long a container may take to end after SIGTERM or SIGHUP. */
const STOP_GRACE_MS = 10_000;

export class SignalRelay {
  #target: Container | undefined;
  #early: number | undefined;
  readonly #counts = new Map<NodeJS.Signals, number>();
  readonly #handler = (s: NodeJS.Signals) => this.#on(s);
  #grace: NodeJS.Timeout | undefined;

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
    clearTimeout(this.#grace);
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
    this.#send(escalate ? SIGKILL : n);
    if ((s === 'SIGTERM' || s === 'SIGHUP') && !this.#grace) {
      this.#grace = setTimeout(() => this.#send(SIGKILL), STOP_GRACE_MS);
      this.#grace.unref();
    }
  }

  #send(n: number): void {
    void this.#target?.signal(n).catch(() => undefined);
  }
}
