// Data integrity through the agent's stdio relay.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { inPrivateRoot, exitOf, runHako } from '../helpers/hako.js';

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

test('1 MiB of random data piped through cat comes back byte-exact', async () => {
  await inPrivateRoot(async (root) => {
    const input = randomBytes(1 << 20);
    const r = await runHako(root, ['run', '-i', '--', 'cat'], { input });
    assert.equal(exitOf(r), 0, r.stderr);
    assert.equal(r.stdout.length, input.length);
    assert.equal(sha256(r.stdout), sha256(input));
  });
});

test('20 MiB of output arrives complete', async () => {
  await inPrivateRoot(async (root) => {
    const size = 20 << 20;
    const r = await runHako(root, ['run', '--', 'head', '-c', String(size), '/dev/zero']);
    assert.equal(exitOf(r), 0, r.stderr);
    assert.equal(r.stdout.length, size);
    assert.ok(r.stdout.every((b) => b === 0));
  });
});
