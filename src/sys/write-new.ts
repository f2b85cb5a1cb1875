// Replacing a file in a directory that is not ours (a bundle): the content
// goes to a new file of a random name, created exclusively (so a link
// planted there is never followed, O_EXCL), mode 0600, then renamed over
// the target (rename replaces a planted link, never writes through it).
import { randomBytes } from 'node:crypto';
import { rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

export async function writeNew(path: string, content: string): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}`);
  try {
    await writeFile(tmp, content, { flag: 'wx', mode: 0o600 });
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}
