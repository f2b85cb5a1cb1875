// Hako pods through containerd's CRI plugin at scale and through failures
// (in a network namespace the test made): 5 pods with 2 containers each at
// once; kill -9 of a pod's shim; kill -9 of a pod's QEMU (what the host's
// OOM killer does), which must read as a failure, never as success.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Cri, criSuite } from '../helpers/cri.js';
import { assertNoLeaks } from '../helpers/leaks.js';
import { pidsWith } from '../helpers/hako.js';
import { hakoTaps, namedNetns } from '../helpers/netns.js';

let cri: Cri;
criSuite('crs', (c) => (cri = c));

/** The live processes of this containerd's sandboxes whose command line has `word`. */
const processes = (word: string) => pidsWith(cri.containerd.hakoStateDir, word);

/** A pod with two containers that say hello and stay; its id and theirs. */
async function podOfTwo(name: string): Promise<{ pod: string; containers: string[] }> {
  const config = cri.podConfig(name);
  const pod = await cri.runPod(config);
  const containers = [];
  for (const c of ['a', 'b'])
    containers.push(
      await cri.runContainer(pod, config, c, ['sh', '-c', `echo hello-${name}-${c}; exec sleep 600`]),
    );
  return { pod, containers };
}

test('5 pods with 2 containers each, run in parallel, all answer, and their removal in parallel leaves nothing', async () => {
  const names = [0, 1, 2, 3, 4].map((i) => `scale${i}`);
  const pods = await Promise.all(names.map((n) => podOfTwo(n)));
  try {
    assert.equal((await processes('qemu-system')).length, 5, 'one VM per pod');
    await Promise.all(
      pods.flatMap(({ containers }, i) =>
        containers.map(async (c, j) => {
          const r = await cri.execSync(c, ['sh', '-c', 'echo $(hostname) $0', `c${j}`]);
          assert.equal(r.stdout, `${names[i]} c${j}\n`);
        }),
      ),
    );
    for (const [i, n] of names.entries()) {
      const config = cri.podConfig(n);
      for (const c of ['a', 'b']) assert.equal(cri.logOf(config, c), `hello-${names[i]}-${c}\n`);
    }
  } finally {
    await Promise.all(pods.map((p) => cri.removePod(p.pod)));
  }
  await assertNoLeaks(cri.containerd.hakoStateDir);
});

test("kill -9 of a pod's shim: containerd's cleanup and RemovePodSandbox leave no process, mount, tap or state", async () => {
  const netnsBefore = namedNetns();
  const { pod, containers } = await podOfTwo('shimkill');
  const podNetns = namedNetns().filter((n) => !netnsBefore.includes(n));
  assert.equal(podNetns.length, 1, 'CNI made the pod its namespace');
  const netnsPath = `/var/run/netns/${podNetns[0] ?? ''}`;
  assert.deepEqual(hakoTaps(netnsPath), ['tap0_hako']);
  const shims = await processes('containerd-shim-hako-v2');
  assert.equal(shims.length, 1, 'one shim daemon');
  process.kill(shims[0] ?? -1, 'SIGKILL');
  // containerd sees its shim go, runs `shim delete` (from the state on disk), and the containers exit.
  for (const c of containers) {
    const r = await cri.waitExited(c, 60_000);
    assert.notEqual(r.exitCode, 0, `container ${c} exited ${r.exitCode}: not a success`);
  }
  await cri.removePod(pod);
  await assertNoLeaks(cri.containerd.hakoStateDir);
  assert.deepEqual(
    namedNetns().filter((n) => !netnsBefore.includes(n)),
    [],
    'the pod namespace is gone, with its tap',
  );
});

test("a pod whose QEMU is killed (as the host's OOM killer does) reports its containers failed, never completed", async () => {
  const { pod, containers } = await podOfTwo('vmkill');
  const vms = await processes('qemu-system');
  assert.equal(vms.length, 1, 'the pod has one VM');
  process.kill(vms[0] ?? -1, 'SIGKILL');
  for (const c of containers) {
    const r = await cri.waitExited(c, 60_000);
    assert.notEqual(r.exitCode, 0, `container ${c} exited ${r.exitCode}`);
    assert.notEqual(r.reason, 'Completed');
  }
  // The pod can go as usual.
  await cri.removePod(pod);
  await assertNoLeaks(cri.containerd.hakoStateDir);
});
