// `hako run -t`: the container gets a terminal, driven here by a pty that
// util-linux `script` allocates for the test.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { inPrivateRoot } from '../helpers/hako.js';
import { runCommand } from '../helpers/exec.js';
import { rootfsCopy, tempDir } from '../helpers/fixtures.js';
import { HAKO } from '../helpers/paths.js';
import { runInPty } from '../helpers/pty.js';

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

/** Runs `fn` with a bundle as a new user makes one (`hako spec`: a terminal and `sh`) and a private root. */
async function withSpecBundle(fn: (bundle: string, root: string) => Promise<void>): Promise<void> {
  const b = tempDir();
  try {
    const r = await runCommand(['sh', '-c', `cd ${b.dir} && ${HAKO} spec`]);
    assert.equal(r.code, 0, r.stderr);
    rootfsCopy(b.dir);
    await inPrivateRoot((root) => fn(b.dir, root));
  } finally {
    b.remove();
  }
}

/** On a pty: the shell prompt, typed input, its terminal, and exit 4. */
async function typeIntoShell(argv: readonly string[]): Promise<void> {
  const r = await runInPty(
    [{ expect: '# ' }, { send: 'tty; echo typed-$((6*7))\r' }, { expect: 'typed-42' }, { send: 'exit 4\r' }],
    argv,
  );
  assert.match(r.output, /\/dev\/pts\/\d+/);
  assert.equal(r.exit, 4, r.output);
}

test('`hako spec` then `run --bundle`, stdin not a terminal: run without one, stdin relayed, never a hang', async () => {
  await withSpecBundle(async (bundle, root) => {
    const run = `${HAKO} --root ${root} run --bundle ${bundle}`;
    const empty = await runCommand(['sh', '-c', `${run} < /dev/null`], { timeoutMs: 60_000 });
    assert.equal(empty.code, 0, empty.stderr);
    const piped = await runCommand(['sh', '-c', run], {
      input: 'tty || echo no-tty; exit 3\n',
      timeoutMs: 60_000,
    });
    assert.match(piped.stdout, /no-tty/);
    assert.equal(piped.code, 3, piped.stderr);
  });
});

test('`hako spec` then `run --bundle` on a terminal: the shell gets a terminal and our typing, as with runc', async () => {
  await withSpecBundle((bundle, root) => typeIntoShell([HAKO, '--root', root, 'run', '--bundle', bundle]));
});

test('runc-style foreground run of a terminal spec without a console socket: a pty relayed to our stdio, as runc', async () => {
  await withSpecBundle(async (bundle, root) => {
    await typeIntoShell([HAKO, '--root', root, 'run', '--bundle', bundle, 'tty1']);
    const piped = await runCommand(
      ['sh', '-c', `${HAKO} --root ${root} run --bundle ${bundle} tty2 < /dev/null`],
      {
        timeoutMs: 60_000,
      },
    );
    assert.equal(piped.code, 0, piped.stderr);
  });
});
