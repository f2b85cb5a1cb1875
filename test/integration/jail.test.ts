// The host helper's `exec` jail, run for real (as root): what a process
// it starts can no longer reach. QEMU gets exactly this (src/confinement).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { jailedArgv } from '../../src/confinement/jail.js';
import { helperBinary } from '../../src/home.js';

/** Runs `script` under the helper's jail with `extra` open descriptors inherited (fd 3 and up). */
async function jailed(isolate: boolean, script: string): Promise<string> {
  const argv = jailedArgv(
    helperBinary(),
    { noNewPrivs: true, cgroups: [], noCore: true, seccomp: true, isolate },
    { dieWithParent: true },
    ['/bin/sh', '-c', script],
  );
  // fd 3 is a pipe the caller holds: it must not reach the jailed process.
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'inherit', 'pipe'] });
  let out = '';
  const stdout = child.stdout;
  assert.ok(stdout);
  stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  assert.equal(code, 0, `the jailed shell failed: ${out}`);
  return out;
}

test('the jail gives QEMU no inherited descriptor and, isolated, no host network, IPC, /tmp or /dev/shm', async () => {
  const marker = mkdtempSync('/tmp/hk-jail-');
  const shm = join('/dev/shm', `hako-jail-test-${process.pid}`);
  writeFileSync(join(marker, 'left-behind'), 'x');
  writeFileSync(shm, 'x');
  try {
    const script = [
      'for n in net ipc mnt; do echo "$n $(readlink /proc/self/ns/$n)"; done',
      'if [ -e /proc/self/fd/3 ]; then echo "fd3 open"; else echo "fd3 closed"; fi',
      `if [ -e ${marker} ]; then echo "tmp shared"; else echo "tmp private"; fi`,
      `if [ -e ${shm} ]; then echo "shm shared"; else echo "shm private"; fi`,
      'echo "links $(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d " " | tr "\\n" " ")"',
    ].join('; ');
    const host = (n: string): string => readlinkSync(`/proc/self/ns/${n}`);

    const plain = await jailed(false, script);
    assert.match(plain, /^fd3 closed$/m, 'an inherited descriptor reached the jailed process');
    assert.match(plain, new RegExp(`^net ${host('net').replace(/[[\]]/g, '\\$&')}$`, 'm'));

    const isolated = await jailed(true, script);
    assert.match(isolated, /^fd3 closed$/m);
    for (const n of ['net', 'ipc', 'mnt']) {
      const line = isolated.split('\n').find((l) => l.startsWith(`${n} `));
      assert.ok(line, `no ${n} line in ${isolated}`);
      assert.notEqual(line.slice(n.length + 1), host(n), `the ${n} namespace is the host's`);
    }
    assert.match(isolated, /^tmp private$/m);
    assert.match(isolated, /^shm private$/m);
    // A new network namespace has loopback only, and it is down.
    assert.match(isolated, /^links lo $/m);
  } finally {
    rmSync(marker, { recursive: true, force: true });
    rmSync(shm, { force: true });
  }
});
