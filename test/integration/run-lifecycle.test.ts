// Signals, VM death and cleanup around `hako run`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { commandsNaming, inPrivateRoot, exitOf, startHako } from '../helpers/hako.js';
import { readFile } from 'node:fs/promises';

/** The first process of the sandboxes under `root` whose program is `program`. */
async function pidOf(root: string, program: string): Promise<number> {
  for (const { pid, argv } of await commandsNaming(root)) {
    const argv0 = argv[0] ?? '';
    if (argv0.endsWith(`/${program}`) || argv0 === program) return pid;
  }
  throw new Error(`no ${program} of ${root} found`);
}

test('SIGTERM to hako run reaches the container, which can handle it', async () => {
  await inPrivateRoot(async (root) => {
    const run = startHako(root, [
      'run',
      '--',
      'sh',
      '-c',
      'trap "echo got TERM; exit 3" TERM; echo ready; while :; do sleep 0.1; done',
    ]);
    await run.waitForOutput('ready');
    run.kill('SIGTERM');
    const r = await run.result;
    assert.equal(exitOf(r), 3, r.stderr);
    assert.equal(r.stdout.toString(), 'ready\ngot TERM\n');
  });
});

test('a second SIGINT kills a container that ignores signals', async () => {
  await inPrivateRoot(async (root) => {
    // SIGINT is ignored from before "ready" on, and stays ignored across exec.
    const run = startHako(root, ['run', '--', 'sh', '-c', 'trap "" INT; echo ready; exec sleep 600']);
    await run.waitForOutput('ready');
    run.kill('SIGINT');
    await new Promise((r) => setTimeout(r, 500));
    run.kill('SIGINT');
    const r = await run.result;
    assert.equal(exitOf(r), 137, r.stderr);
  });
});

test('killing QEMU makes hako run fail promptly with a clear error and clean up', async () => {
  await inPrivateRoot(async (root) => {
    const run = startHako(root, ['run', '--', 'sh', '-c', 'echo ready; exec sleep 600']);
    await run.waitForOutput('ready');
    const killedAt = Date.now();
    process.kill(await pidOf(root, 'qemu-system-x86_64'), 'SIGKILL');
    const r = await run.result;
    const took = Date.now() - killedAt;
    assert.equal(exitOf(r), 125);
    assert.match(r.stderr, /sandbox VM stopped \(killed by SIGKILL\)/);
    assert.ok(took < 10_000, `hako run took ${took} ms to notice`);
  });
});

test('virtiofsd dying stops the VM: hako run fails with a clear error and cleans up', async () => {
  await inPrivateRoot(async (root) => {
    const run = startHako(root, ['run', '--', 'sh', '-c', 'echo ready; exec sleep 600']);
    await run.waitForOutput('ready');
    const fsd = await pidOf(root, 'virtiofsd');
    // glibc's malloc must not size its arenas with sched_getaffinity, which
    // virtiofsd's seccomp filter punishes with SIGSYS.
    const environ = (await readFile(`/proc/${fsd}/environ`, 'utf8')).split('\0');
    assert.ok(environ.includes('GLIBC_TUNABLES=glibc.malloc.arena_max=4'), environ.join(' '));
    process.kill(fsd, 'SIGKILL');
    const r = await run.result;
    assert.equal(exitOf(r), 125);
    assert.match(r.stderr, /sandbox VM stopped .*: its shared-fs daemon exited \(killed by SIGKILL\)/);
    // With the end of its log, which names the vhost-user connection it served.
    assert.match(r.stderr, /virtiofsd\.log:\n(.*\n)*.*vhost-user/);
  });
});

test('a sandbox left by a killed hako run is swept by the next run', async () => {
  await inPrivateRoot(async (root) => {
    const run = startHako(root, ['run', '--', 'sh', '-c', 'echo ready; exec sleep 600']);
    await run.waitForOutput('ready');
    run.kill('SIGKILL');
    await run.result;
    const next = startHako(root, ['run', '--', 'true']);
    assert.equal(exitOf(await next.result), 0);
  });
});
