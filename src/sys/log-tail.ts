// The last lines of a log file, for error messages: read from its last
// 64 KiB only, so that a log a guest made huge costs no more than a small one.
import { open } from 'node:fs/promises';
import { basename } from 'node:path';
import { sanitizeGuestLines } from '../sanitize.js';

const MAX_READ = 64 * 1024;

/** The last `lines` lines of `path`, or '' if it cannot be read. */
export async function logTail(path: string, lines: number): Promise<string> {
  try {
    const f = await open(path, 'r');
    try {
      const { size } = await f.stat();
      const length = Math.min(size, MAX_READ);
      const buf = Buffer.alloc(length);
      const { bytesRead } = await f.read(buf, 0, length, size - length);
      const all = buf.subarray(0, bytesRead).toString('utf8').trimEnd().split('\n');
      // Read from the middle of a file, the first line is a fragment.
      if (size > MAX_READ) all.shift();
      return all.slice(-lines).join('\n');
    } finally {
      await f.close();
    }
  } catch {
    return '';
  }
}

/** logTail headed by the file's name (`qemu.log:`), or '' if there is nothing. */
export async function logSection(path: string, lines: number): Promise<string> {
  // What a VMM, its console or the shared-fs daemon printed carries text
  // the guest chose.
  const tail = sanitizeGuestLines(await logTail(path, lines), 400);
  return tail ? `${basename(path)}:\n${tail}` : '';
}
