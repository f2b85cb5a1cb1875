// A log file that stops growing at a bound: what a child process printed,
// up to `max` bytes in all (counting what the file already held), then one
// line saying so. A guest can make its VMM or its shared-fs daemon print
// without end, and their logs live on tmpfs, in the host's memory.
import { closeSync, fstatSync, openSync, writeSync } from 'node:fs';

export class CappedLog {
  #fd: number | undefined;
  #written: number;
  #users = 0;

  constructor(
    path: string,
    private readonly max: number,
  ) {
    this.#fd = openSync(path, 'a', 0o600);
    this.#written = fstatSync(this.#fd).size;
  }

  write(chunk: Buffer): void {
    if (this.#fd === undefined || this.#written >= this.max) return;
    const room = this.max - this.#written;
    const part = chunk.length <= room ? chunk : chunk.subarray(0, room);
    this.#written += part.length;
    try {
      writeSync(this.#fd, part);
      if (this.#written >= this.max) {
        writeSync(this.#fd, `\n[hako: log truncated at ${this.max} bytes]\n`);
      }
    } catch {
      // A full or vanished log must not take the sandbox down.
    }
  }

  /** One more stream writes here (a file shared by stdout and stderr closes after both). */
  retain(): this {
    this.#users++;
    return this;
  }

  close(): void {
    if (--this.#users > 0 || this.#fd === undefined) return;
    closeSync(this.#fd);
    this.#fd = undefined;
  }
}
