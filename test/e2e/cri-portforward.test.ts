// kubectl port-forward into a hako pod through containerd's CRI plugin:
// PortForward's URL, spoken to as kubectl does (WebSocket, one data and one
// error channel per port), reaches servers bound to the guest's loopback.
// containerd dials 127.0.0.1:PORT inside the pod's network namespace on the
// node; the same steps run against a runc pod give the same results.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { Cri, criSuite, type PodConfig } from '../helpers/cri.js';
import { pidsWith } from '../helpers/hako.js';

let cri: Cri;
criSuite('cpf', (c) => (cri = c));

const UPLOAD = 1 << 20;
const SEQ = 200_000;
// An HTTP server on the loopback only, and one that reads 1 MiB and answers its hash.
const SERVE = [
  'mkdir -p /tmp/www',
  `seq 1 ${SEQ} > /tmp/www/seq`,
  `printf '#!/bin/sh\\nhead -c ${UPLOAD} | sha256sum\\n' > /tmp/up`,
  'chmod +x /tmp/up',
  'httpd -p 127.0.0.1:8080 -h /tmp/www',
  'exec nc -ll -p 9000 -e /tmp/up',
].join(' && ');

/** Runs the servers in a pod of `handler`, then forwards to them; what each forward gave. */
async function forwardTo(handler: 'hako' | 'runc', config: PodConfig) {
  const pod = await cri.runPod(config, handler);
  try {
    const c = await cri.runContainer(pod, config, 'servers', ['sh', '-c', SERVE]);
    await cri.untilServed(c, 'http://127.0.0.1:8080/seq');
    const pf = async (port: number, steps: unknown[]) =>
      cri.stream(await cri.portForwardUrl(pod, port), steps, 'portforward');
    const http = await pf(8080, [{ stdin: 'GET /seq HTTP/1.0\r\n\r\n' }]);
    const upload = await pf(9000, [{ zeros: UPLOAD }]);
    const refused = await pf(8081, [{ wait: 500 }]);
    // Several at once, as kubectl opens one connection per client connection.
    const parallel = await Promise.all(
      [1, 2, 3].map(() => pf(8080, [{ stdin: 'GET /seq HTTP/1.0\r\n\r\n' }])),
    );
    return { pod, http, upload, refused, parallel };
  } finally {
    await cri.removePod(pod);
  }
}

const expectedSeq = Array.from({ length: SEQ }, (_, i) => i + 1).join('\n') + '\n';
const bodyOf = (response: string) => response.slice(response.indexOf('\r\n\r\n') + 4);

test("PortForward reaches a server on the guest's loopback, both ways, as it does a runc pod's", async () => {
  const before = await pidsWith('hako-host-helper', ' forward ');
  const results = [];
  for (const handler of ['runc', 'hako'] as const) {
    const r = await forwardTo(handler, cri.podConfig(`pf-${handler}`));
    results.push(r);
    assert.match(r.http.stdout, /^HTTP\/1\.[01] 200 OK\r\n/, `${handler}: ${r.http.stdout.slice(0, 200)}`);
    assert.equal(bodyOf(r.http.stdout), expectedSeq, `${handler}: the file came back whole`);
    const zeros = createHash('sha256').update(Buffer.alloc(UPLOAD)).digest('hex');
    assert.equal(r.upload.stdout.trim(), `${zeros}  -`, `${handler}: 1 MiB went up whole`);
    // Nothing listens on 8081: kubectl is told so on the error channel, and no data comes.
    assert.equal(r.refused.stdout, '', handler);
    assert.match(r.refused.stderr, /error forwarding port 8081/, `${handler}: ${JSON.stringify(r.refused)}`);
    for (const p of r.parallel) assert.equal(bodyOf(p.stdout), expectedSeq, `${handler}: a parallel forward`);
  }
  // The hako pod's forwarder went with it.
  const deadline = Date.now() + 10_000;
  let after = await pidsWith('hako-host-helper', ' forward ');
  while (after.length > before.length && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 200));
    after = await pidsWith('hako-host-helper', ' forward ');
  }
  assert.deepEqual(after, before, 'no forwarder is left');
});

test('connections end in the guest and on the host: 70 forwards, more than the agent keeps open at once (64), all get through', async () => {
  const config = cri.podConfig('pf-leak');
  await cri.inPod(config, async (pod) => {
    const c = await cri.runContainer(pod, config, 'servers', ['sh', '-c', SERVE]);
    await cri.untilServed(c, 'http://127.0.0.1:8080/seq');
    const [helper] = await pidsWith('hako-host-helper', ' forward ');
    assert.ok(helper, 'a forwarder runs for the pod');
    // Once it listens and redirects, the forwarder holds no capability.
    const status = await readFile(`/proc/${helper}/status`, 'utf8');
    for (const set of ['CapEff', 'CapPrm', 'CapBnd']) {
      assert.match(status, new RegExp(`^${set}:\\s+0+$`, 'm'), `${set} of the forwarder`);
    }
    const fds = async () => (await readdir(`/proc/${helper}/fd`)).length;
    const baseline = await fds();
    // A stream left open in the guest would make the 65th connection fail.
    for (let round = 0; round < 10; round++) {
      const results = await Promise.all(
        Array.from({ length: 7 }, async () =>
          cri.stream(
            await cri.portForwardUrl(pod, 8080),
            [{ stdin: 'GET /seq HTTP/1.0\r\n\r\n' }],
            'portforward',
          ),
        ),
      );
      for (const r of results) assert.equal(bodyOf(r.stdout).length, expectedSeq.length, `round ${round}`);
    }
    // In the guest: its TCP connections to the server are all closed (none established).
    const est = await cri.execSync(c, ['sh', '-c', 'netstat -tn | grep -c ESTABLISHED || true']);
    assert.equal(est.stdout.trim(), '0', est.stdout);
    let now = await fds();
    const until = Date.now() + 10_000;
    while (now > baseline && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 200));
      now = await fds();
    }
    assert.equal(now, baseline, "the forwarder's descriptors are back to what they were");
  });
});
