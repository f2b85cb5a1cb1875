// Streaming Exec and Attach of a hako pod's containers through containerd's
// CRI plugin and its streaming server (WebSocket, v4.channel.k8s.io, as
// kubectl exec/attach speak it), from inside the network namespace the
// test made: with a TTY and resize, without one with stdin, exit codes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Cri, criSuite } from '../helpers/cri.js';

let cri: Cri;
criSuite('cst', (c) => (cri = c));

test('streaming Exec with a TTY and resize, and without one with stdin, through the URL containerd returns; exit codes come back', async () => {
  const config = cri.podConfig('stream');
  await cri.inPod(config, async (pod) => {
    const c = await cri.runContainer(pod, config, 'app', ['sleep', '600']);
    // A shell on a terminal, resized to 100x40 first.
    const tty = await cri.stream(await cri.execUrl(c, ['sh'], { tty: true, stdin: true }), [
      { resize: [100, 40] },
      { wait: 500 },
      { stdin: 'stty size; tty; echo done-$((6*7))\n' },
      { until: 'done-42' },
      { stdin: 'exit 0\n' },
    ]);
    assert.match(tty.stdout, /^40 100\r?$/m, JSON.stringify(tty));
    assert.match(tty.stdout, /^\/dev\/pts\/\d+\r?$/m, tty.stdout);
    assert.match(tty.status, /"status":"Success"/, tty.status);
    // Without a terminal: stdin arrives, stdout and stderr stay apart.
    const plain = await cri.stream(
      await cri.execUrl(c, ['sh', '-c', 'read l; echo got:$l; echo err >&2; exit 3'], {
        tty: false,
        stdin: true,
      }),
      [{ stdin: 'hello\n' }],
    );
    assert.equal(plain.stdout, 'got:hello\n');
    assert.equal(plain.stderr, 'err\n');
    assert.match(plain.status, /"reason":"NonZeroExitCode"/, plain.status);
    assert.match(plain.status, /"reason":"ExitCode","message":"3"/, plain.status);
  });
});

test("streaming Attach to a container's own shell on a TTY, with resize", async () => {
  const config = cri.podConfig('attach');
  await cri.inPod(config, async (pod) => {
    const c = await cri.runContainer(pod, config, 'shell', ['sh'], undefined, 0, { tty: true, stdin: true });
    const r = await cri.stream(await cri.attachUrl(c, { tty: true, stdin: true }), [
      { resize: [90, 30] },
      { wait: 500 },
      { stdin: 'stty size; echo attached-$((2+3))\n' },
      { until: 'attached-5' },
      { stdin: 'exit 4\n' },
    ]);
    assert.match(r.stdout, /^30 90\r?$/m, r.stdout);
    assert.deepEqual(await cri.waitExited(c), { exitCode: 4, reason: 'Error' });
  });
});
