// Containers of a hako pod through containerd's CRI plugin (in a network
// namespace the test made): ExecSync (what every liveness and readiness
// probe uses), and the exit reasons CRI reports.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Cri, criSuite } from '../helpers/cri.js';
import { commandsNaming } from '../helpers/hako.js';

let cri: Cri;
criSuite('cre', (c) => (cri = c));

test('ExecSync returns output and exit codes, 100 times in a row, and a command past its timeout is cut off at the timeout', async () => {
  const config = cri.podConfig('probe');
  await cri.inPod(config, async (pod) => {
    const c = await cri.runContainer(pod, config, 'app', ['sleep', '600']);
    const first = await cri.execSync(c, ['sh', '-c', 'echo hi; echo err >&2; exit 3']);
    assert.deepEqual(first, { stdout: 'hi\n', stderr: 'err\n', exitCode: 3 });
    for (let i = 0; i < 100; i++) {
      const r = await cri.execSync(c, ['echo', `n${i}`]);
      assert.deepEqual(r, { stdout: `n${i}\n`, stderr: '', exitCode: 0 }, `exec ${i}`);
    }
    // Nothing of the 100 stays in the guest: only the container's own process.
    const ps = await cri.execSync(c, ['sh', '-c', 'for p in /proc/[0-9]*; do cat $p/comm; done']);
    const others = ps.stdout.split('\n').filter((n) => n !== '' && n !== 'sh' && n !== 'cat');
    assert.deepEqual(others, ['sleep'], ps.stdout);
    const t0 = Date.now();
    await assert.rejects(cri.execSync(c, ['sleep', '60'], 2), /timeout|deadline/i);
    const took = Date.now() - t0;
    assert.ok(took < 20_000, `the timed-out exec returned after ${took} ms`);
    // The container still answers.
    assert.equal((await cri.execSync(c, ['echo', 'after'])).stdout, 'after\n');
  });
  assert.deepEqual(await commandsNaming(cri.containerd.hakoStateDir), []);
});

test('ContainerStatus gives exit codes and reasons: Completed, Error, and OOMKilled for a container over its memory limit', async () => {
  const config = cri.podConfig('reasons');
  await cri.inPod(config, async (pod) => {
    const done = await cri.runContainer(pod, config, 'done', ['true']);
    assert.deepEqual(await cri.waitExited(done), { exitCode: 0, reason: 'Completed' });
    const failed = await cri.runContainer(pod, config, 'failed', ['sh', '-c', 'exit 2']);
    assert.deepEqual(await cri.waitExited(failed), { exitCode: 2, reason: 'Error' });
    // 32 MiB allowed; dd's 200 MiB buffer is touched as it reads.
    const hog = await cri.runContainer(
      pod,
      config,
      'hog',
      ['dd', 'if=/dev/zero', 'of=/dev/null', 'bs=200M', 'count=1'],
      { memoryLimitInBytes: 32 << 20 },
    );
    assert.deepEqual(await cri.waitExited(hog), { exitCode: 137, reason: 'OOMKilled' });
  });
});

test('a container restarted in the same pod (attempt 1, as kubelet does) runs in the same VM with its own log', async () => {
  const config = cri.podConfig('restart');
  await cri.inPod(config, async (pod) => {
    const first = await cri.runContainer(pod, config, 'app', ['sh', '-c', 'echo run-$RANDOM-0; exit 1']);
    assert.deepEqual(await cri.waitExited(first), { exitCode: 1, reason: 'Error' });
    await cri.call('RemoveContainer', { containerId: first });
    const again = await cri.runContainer(
      pod,
      config,
      'app',
      ['sh', '-c', 'echo second; exit 0'],
      undefined,
      1,
    );
    assert.deepEqual(await cri.waitExited(again), { exitCode: 0, reason: 'Completed' });
    assert.equal(cri.logOf(config, 'app', 'stdout', 1), 'second\n');
    assert.match(cri.logOf(config, 'app', 'stdout', 0), /^run-\d+-0\n$/);
    // One VM for the pod all along.
    const vms = (await commandsNaming(cri.containerd.hakoStateDir)).filter((p) =>
      p.argv[0]?.includes('qemu-system'),
    );
    assert.equal(vms.length, 1);
  });
});

test("a pod's shared PID namespace (shareProcessNamespace): its containers see each other's processes, the sandbox's as PID 1; without it they do not", async () => {
  /** The command lines a container sees in its PID namespace (`/proc`). */
  const seen = async (c: string) =>
    (await cri.execSync(c, ['sh', '-c', 'for p in /proc/[0-9]*; do tr "\\0" " " < $p/cmdline; echo; done']))
      .stdout;
  const shared = {
    ...cri.podConfig('shared-pid'),
    linux: { securityContext: { namespaceOptions: { network: 'POD', pid: 'POD', ipc: 'POD' } } },
  };
  await cri.inPod(shared, async (pod) => {
    await cri.runContainer(pod, shared, 'a', ['sleep', '1001']);
    const b = await cri.runContainer(pod, shared, 'b', ['sleep', '1002']);
    const procs = await seen(b);
    assert.match(procs, /^sleep 1001 $/m, procs);
    const init = await cri.execSync(b, ['sh', '-c', 'tr "\\0" " " < /proc/1/cmdline']);
    assert.equal(init.stdout, 'sleep 2147483647 ', 'PID 1 is the sandbox (pause) container');
  });
  const apart = cri.podConfig('own-pid');
  await cri.inPod(apart, async (pod) => {
    await cri.runContainer(pod, apart, 'a', ['sleep', '1001']);
    const b = await cri.runContainer(pod, apart, 'b', ['sleep', '1002']);
    const procs = await seen(b);
    assert.doesNotMatch(procs, /sleep 1001/, procs);
    assert.match(procs, /^sleep 1002 $/m, procs);
  });
});
