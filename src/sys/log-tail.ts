// The last lines of a log file, for error messages: read from its last
// 64 KiB only, so that a log a guest made huge costs no more than a small one.
import { open } from 'node:fs/promises';

const MAX_READ = 64 * 1024;

/** The last `lines` lines of `path`, or '' if it cannot be read. */
export async function logTail(path: string, lines: number): Promise<string> {
  try {
    const f = await open(path, 'r');
    try {
      const { size } = await f.stat();
      const length = Math.min(size, MAX_READ);
      const buf = Buffer.alloc(length);
      await f.read(buf, 0, length, size - length);
      return buf.toString('utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } finally {
      await f.close();
    }
  } catch {
    return '';
  }
}
