// OOM events come from the guest, which is untrusted: an id that is not a
// container of this sandbox is dropped, and events are rate-limited, per
// container (one a second: a container killed for memory again within the
// second is the same news) and for the sandbox (a token bucket; once it is
// empty, the next event is waited for, so a guest that answers GetOOMEvent
// without end cannot make the host spin).

/** Events per second a sandbox may report, at most, and its burst. */
const RATE_PER_S = 10;
const BURST = 20;
/** One event per container within this long. */
const PER_CONTAINER_MS = 1000;

export type OomVerdict = { readonly publish: true } | { readonly publish: false; readonly why: string };

export class OomFilter {
  #tokens = BURST;
  #refilled: number;
  readonly #last = new Map<string, number>();

  constructor(
    private readonly isContainer: (id: string) => boolean,
    private readonly now: () => number = Date.now,
  ) {
    this.#refilled = now();
  }

  #refill(): void {
    const t = this.now();
    this.#tokens = Math.min(BURST, this.#tokens + ((t - this.#refilled) * RATE_PER_S) / 1000);
    this.#refilled = t;
  }

  /** How long to wait before asking the guest for the next event (0: at once). */
  delayMs(): number {
    this.#refill();
    return this.#tokens >= 1 ? 0 : Math.ceil(((1 - this.#tokens) * 1000) / RATE_PER_S);
  }

  judge(id: string): OomVerdict {
    this.#refill();
    this.#tokens = Math.max(0, this.#tokens - 1);
    if (!this.isContainer(id)) return { publish: false, why: 'not a container of this sandbox' };
    const t = this.now();
    const last = this.#last.get(id);
    if (last !== undefined && t - last < PER_CONTAINER_MS)
      return { publish: false, why: 'repeated within a second' };
    this.#last.set(id, t);
    return { publish: true };
  }

  forget(id: string): void {
    this.#last.delete(id);
  }
}
