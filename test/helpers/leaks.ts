// Checks that nothing of Hako's remains under a directory: no process
// naming it (VMs, virtiofsd, shim daemons), no mount below it, and no
// sandbox state (only the state root's marker and the empty socket
// directory may stay).
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { commandsNaming, mountsUnder, processesNaming, ROOT_ENTRIES } from './hako.js';

export async function assertNoLeaks(
  hakoStateDir: string,
  opts: { mountsIn?: string; timeoutMs?: number } = {},
) {
  const deadline = Date.now() + (opts.timeoutMs ?? 10_000);
  let procs: number[];
  let entries: string[];
  let mounts: string[];
  for (;;) {
    procs = await processesNaming(hakoStateDir);
    entries = (await readdir(hakoStateDir).catch(() => [] as string[])).filter(
      (e) => !ROOT_ENTRIES.includes(e),
    );
    const sockets = await readdir(`${hakoStateDir}/.s`).catch(() => [] as string[]);
    entries.push(...sockets.map((s) => `.s/${s}`));
    mounts = await mountsUnder(opts.mountsIn ?? hakoStateDir);
    if ((procs.length === 0 && entries.length === 0 && mounts.length === 0) || Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  if (procs.length > 0) {
    const named = (await commandsNaming(hakoStateDir)).map(
      (p) => `${p.pid}: ${p.argv.join(' ').slice(0, 160)}`,
    );
    assert.fail(`processes of ${hakoStateDir} remain:\n${named.join('\n')}`);
  }
  assert.deepEqual(entries, [], `state remains in ${hakoStateDir}`);
  assert.deepEqual(mounts, [], 'mounts remain');
}
