// Pods through containerd's CRI plugin with runtime handler `hako` and
// Debian's CNI bridge plugin, containerd and the bridge inside a network
// namespace the test made (the "node"). CNI gives each pod an address on
// the bridge; Hako carries the pod's namespace into its VM.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Cri, criSuite, CNI_GATEWAY } from '../helpers/cri.js';
import { assertNoLeaks } from '../helpers/leaks.js';
import { hakoTaps, httpGetEventually, inNetns, namedNetns } from '../helpers/netns.js';

let cri: Cri;
let server: ChildProcess | undefined;
const node = criSuite('cri', (c) => (cri = c), { cleanup: () => server?.kill('SIGKILL') });

const HTTPD = (text: string) => [
  'sh',
  '-c',
  `mkdir -p /www && echo ${text} > /www/index.html && exec httpd -f -p 8080 -h /www`,
];
/** wget with retries (the server may still be starting), printing what it got. */
const FETCH = (url: string) => [
  'sh',
  '-c',
  `for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do wget -qO- ${url} && exit 0; sleep 0.5; done; exit 1`,
];

test('CRI pods on the CNI bridge: the pod IP is in the VM; node↔pod, pod↔pod and container↔container on 127.0.0.1 all connect; nothing is left', async () => {
  const netnsBefore = namedNetns();
  const [a, b] = [cri.podConfig('pod-a'), cri.podConfig('pod-b')];
  const podA = await cri.runPod(a);
  let podB: string | undefined;
  try {
    const ipA = await cri.podIp(podA);
    assert.match(ipA, /^10\.99\.0\.\d+$/);
    await cri.runContainer(podA, a, 'web', HTTPD('hello-from-pod-a'));
    // The pod's IP is on the container's eth0.
    const show = await cri.runContainer(podA, a, 'show', ['ip', '-o', '-4', 'addr', 'show', 'eth0']);
    assert.equal(await cri.waitExit(show), 0, cri.logOf(a, 'show', 'stderr'));
    assert.match(cri.logOf(a, 'show'), new RegExp(`eth0\\s+inet ${ipA.replace(/\./g, '\\.')}/24`));
    // The node reaches the pod's server on the pod's IP.
    assert.equal(await httpGetEventually(node.path, ipA, 8080), 'hello-from-pod-a\n');
    // Two containers of one pod reach each other on 127.0.0.1.
    const local = await cri.runContainer(podA, a, 'local', FETCH('http://127.0.0.1:8080/'));
    assert.equal(await cri.waitExit(local), 0, cri.logOf(a, 'local', 'stderr'));
    assert.equal(cri.logOf(a, 'local'), 'hello-from-pod-a\n');
    // The pod reaches a server on the node, at the bridge's gateway address.
    const www = join(cri.containerd.dir, 'node-www');
    mkdirSync(www, { recursive: true });
    writeFileSync(join(www, 'f'), 'hello-from-the-node\n');
    server = spawn(
      'nsenter',
      [`--net=${node.path}`, 'busybox', 'httpd', '-f', '-p', `${CNI_GATEWAY}:8081`, '-h', www],
      {
        stdio: 'ignore',
      },
    );
    const up = await cri.runContainer(podA, a, 'up', FETCH(`http://${CNI_GATEWAY}:8081/f`));
    assert.equal(await cri.waitExit(up), 0, cri.logOf(a, 'up', 'stderr'));
    assert.equal(cri.logOf(a, 'up'), 'hello-from-the-node\n');
    // Two pods reach each other by IP.
    podB = await cri.runPod(b);
    const across = await cri.runContainer(podB, b, 'across', FETCH(`http://${ipA}:8080/`));
    assert.equal(await cri.waitExit(across), 0, cri.logOf(b, 'across', 'stderr'));
    assert.equal(cri.logOf(b, 'across'), 'hello-from-pod-a\n');
    // Each pod's VM has its tap beside the pod's interface.
    for (const pod of [podA, podB]) {
      const path = (
        await cri.call<{ info: Record<string, string> }>('PodSandboxStatus', {
          podSandboxId: pod,
          verbose: true,
        })
      ).info['info'];
      const netns = (
        JSON.parse(path ?? '{}') as {
          runtimeSpec?: { linux?: { namespaces?: { type: string; path?: string }[] } };
        }
      ).runtimeSpec?.linux?.namespaces?.find((n) => n.type === 'network')?.path;
      assert.ok(netns, 'the pod has a network namespace by path');
      assert.deepEqual(hakoTaps(netns), ['tap0_hako']);
    }
  } finally {
    server?.kill('SIGKILL');
    server = undefined;
    for (const pod of [podA, podB]) if (pod !== undefined) await cri.removePod(pod);
  }
  await assertNoLeaks(cri.containerd.hakoStateDir);
  // CRI removed the pods' namespaces (their veths and our taps went with them).
  assert.deepEqual(namedNetns(), netnsBefore);
  const links = (JSON.parse(inNetns(node.path, 'ip', '-j', 'link', 'show')) as { ifname: string }[]).map(
    (l) => l.ifname,
  );
  assert.deepEqual(links.sort(), ['hkcni0', 'lo']);
});
