// podman 4.3 on its default bridge (CNI's bridge and portmap plugins), run
// inside a network namespace the test makes: podman's bridge, its iptables
// rules and the published ports all live there. Hako carries the pod
// namespace podman made into the VM.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Podman, PODMAN_IMAGE, PODMAN_LIMITS } from '../helpers/podman.js';
import { assertNoLeaks } from '../helpers/leaks.js';
import { fileNetns, httpGetEventually, inNetns, namedNetns } from '../helpers/netns.js';

const testNs = fileNetns('pm');
const ns = testNs.path;
let p: Podman;

before(async () => {
  testNs.make();
  p = await Podman.create({ netns: ns });
});

after(async () => {
  try {
    await p.destroy();
  } finally {
    testNs.remove();
  }
});

async function ok(args: readonly string[]): Promise<string> {
  const r = await p.podman(args);
  assert.equal(r.code, 0, `podman ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

const HTTPD = 'mkdir -p /www && echo hello-from-podman > /www/index.html && exec httpd -f -p 80 -h /www';

test('podman run -p 18080:80 on the default bridge: the host reaches httpd in the VM; the container has the address podman gave it and reaches the bridge gateway', async () => {
  const netnsBefore = namedNetns();
  await ok([
    'run',
    '-d',
    '--name',
    'web',
    '-p',
    '18080:80',
    ...PODMAN_LIMITS,
    PODMAN_IMAGE,
    'sh',
    '-c',
    HTTPD,
  ]);
  const www = mkdtempSync('/tmp/hkpw-');
  const server = spawn(
    'nsenter',
    [`--net=${ns}`, 'busybox', 'httpd', '-f', '-p', '10.88.0.1:8081', '-h', www],
    { stdio: 'ignore' },
  );
  try {
    const [ip, mac] = (
      await ok([
        'inspect',
        'web',
        '--format',
        '{{.NetworkSettings.IPAddress}} {{.NetworkSettings.MacAddress}}',
      ])
    )
      .trim()
      .split(' ');
    assert.match(ip ?? '', /^10\.88\.\d+\.\d+$/);
    // Through podman's published port (portmap's DNAT), on loopback and on the bridge's address.
    assert.equal(await httpGetEventually(ns, '127.0.0.1', 18080), 'hello-from-podman\n');
    assert.equal(await httpGetEventually(ns, '10.88.0.1', 18080), 'hello-from-podman\n');
    // Straight to the container's address.
    assert.equal(await httpGetEventually(ns, ip ?? '', 80), 'hello-from-podman\n');
    const shown = await ok([
      'exec',
      'web',
      'sh',
      '-c',
      'ip -o -4 addr show eth0; cat /sys/class/net/eth0/address',
    ]);
    assert.match(shown, new RegExp(`eth0\\s+inet ${(ip ?? '').replace(/\./g, '\\.')}/16`));
    assert.equal(shown.trim().split('\n').pop(), mac);
    // The container reaches a server on the node (the bridge's gateway address).
    mkdirSync(join(www, 'd'));
    writeFileSync(join(www, 'd', 'f'), 'hello-from-the-node\n');
    let got = '';
    for (let i = 0; i < 40 && got === ''; i++) {
      const r = await p.podman(['exec', 'web', 'wget', '-qO-', 'http://10.88.0.1:8081/d/f']);
      got = r.code === 0 ? r.stdout : '';
      if (got === '') await new Promise((r) => setTimeout(r, 250));
    }
    assert.equal(got, 'hello-from-the-node\n');
  } finally {
    server.kill('SIGKILL');
    rmSync(www, { recursive: true, force: true });
    await p.podman(['rm', '-f', '-t', '0', 'web']);
  }
  await assertNoLeaks(p.hakoStateDir);
  // podman removed the pod's namespace; its veth went with it. Only its bridge stays.
  assert.deepEqual(namedNetns(), netnsBefore);
  const links = (JSON.parse(inNetns(ns, 'ip', '-j', 'link', 'show')) as { ifname: string }[]).map(
    (l) => l.ifname,
  );
  assert.deepEqual(links.sort(), ['cni-podman0', 'lo']);
});

test('podman run --network none: loopback only', async () => {
  const r = await p.podman([
    'run',
    '--rm',
    '--network',
    'none',
    ...PODMAN_LIMITS,
    PODMAN_IMAGE,
    'ls',
    '/sys/class/net',
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^lo$/m);
  assert.doesNotMatch(r.stdout, /eth/);
  await assertNoLeaks(p.hakoStateDir);
});
