// `hako run -t`: the container gets a terminal, driven here by a pty that
// util-linux `script` allocates for the test.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { inPrivateRoot } from '../helpers/hako.js';
import { HAKO } from '../helpers/paths.js';

function inPty(command: string, input: string): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn('script', ['-qec', command, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stdin.end(input);
    child.on('close', (code) => resolve({ code, out }));
  });
}

test('the container runs on a terminal whose size follows ours', async () => {
  await inPrivateRoot(async (root) => {
    const r = await inPty(
      `stty cols 91 rows 27; ${HAKO} --root ${root} run -t -- sh -c 'tty; stty size'`,
      '',
    );
    assert.match(r.out, /\/dev\/pts\/\d+/);
    assert.match(r.out, /27 91/);
    assert.equal(r.code, 0);
  });
});

test('typed input reaches an interactive shell, whose exit status is returned', async () => {
  await inPrivateRoot(async (root) => {
    const r = await inPty(`${HAKO} --root ${root} run -i -t -- sh`, 'echo typed-$((6*7))\nexit 5\n');
    assert.match(r.out, /typed-42/);
    assert.equal(r.code, 5);
  });
});
