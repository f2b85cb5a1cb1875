// docker 20.10 on its own bridge, dockerd running inside a network
// namespace the test makes (its docker0, iptables rules and docker-proxy
// live there). docker configures the container's namespace from a prestart
// hook (libnetwork-setkey) after Hako made the VM: Hako carries it into the
// running VM before the container starts.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Dockerd, DOCKER_IMAGE } from '../helpers/docker.js';
import { assertNoLeaks } from '../helpers/leaks.js';
import { fileNetns, httpGetEventually, inNetns } from '../helpers/netns.js';

const testNs = fileNetns('dk');
const ns = testNs.path;
let d: Dockerd;

before(async () => {
  testNs.make();
  d = await Dockerd.start({ netns: ns });
});

after(async () => {
  try {
    await d.stop();
  } finally {
    testNs.remove();
  }
});

const noLeaks = async () => {
  await assertNoLeaks(d.hakoStateDir);
  await assertNoLeaks(join(d.dir, 'exec', 'runtime-runc', 'moby'));
};

async function ok(args: readonly string[]): Promise<string> {
  const r = await d.docker(args);
  assert.equal(r.code, 0, `docker ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

test('docker run -p on the default bridge: the node reaches httpd in the VM through the published port and the container address; the container reaches the bridge gateway', async () => {
  const httpd = 'mkdir -p /www && echo hello-from-docker > /www/index.html && exec httpd -f -p 80 -h /www';
  await ok([
    'run',
    '-d',
    '--runtime',
    'hako',
    '--name',
    'web',
    '-p',
    '18081:80',
    DOCKER_IMAGE,
    'sh',
    '-c',
    httpd,
  ]);
  try {
    const ip = (await ok(['inspect', 'web', '--format', '{{.NetworkSettings.IPAddress}}'])).trim();
    const gateway = (await ok(['inspect', 'web', '--format', '{{.NetworkSettings.Gateway}}'])).trim();
    assert.match(ip, /^\d+\.\d+\.\d+\.\d+$/);
    assert.equal(await httpGetEventually(ns, ip, 80), 'hello-from-docker\n');
    assert.equal(await httpGetEventually(ns, '127.0.0.1', 18081), 'hello-from-docker\n');
    assert.equal(await httpGetEventually(ns, gateway, 18081), 'hello-from-docker\n');
    const shown = await ok(['exec', 'web', 'sh', '-c', `ip -o -4 addr show eth0; ping -c 1 -W 5 ${gateway}`]);
    assert.match(shown, new RegExp(`eth0\\s+inet ${ip.replace(/\./g, '\\.')}/`));
    assert.match(shown, /1 packets received/);
  } finally {
    await d.docker(['rm', '-f', 'web']);
  }
  await noLeaks();
  // docker removed the container's veth; only its bridge stays in the namespace.
  const links = (JSON.parse(inNetns(ns, 'ip', '-j', 'link', 'show')) as { ifname: string }[]).map(
    (l) => l.ifname,
  );
  assert.deepEqual(links.sort(), ['docker0', 'lo']);
});

test('docker network connect plugs a NIC into the running VM, and disconnect unplugs it', async () => {
  const httpd =
    'mkdir -p /www && echo hello-from-two-networks > /www/index.html && exec httpd -f -p 80 -h /www';
  await ok(['network', 'create', '--subnet', '10.98.0.0/24', 'extra']);
  await ok(['run', '-d', '--runtime', 'hako', '--name', 'multi', DOCKER_IMAGE, 'sh', '-c', httpd]);
  try {
    await ok(['network', 'connect', 'extra', 'multi']);
    const ip = (
      await ok(['inspect', 'multi', '--format', '{{.NetworkSettings.Networks.extra.IPAddress}}'])
    ).trim();
    assert.match(ip, /^10\.98\.0\.\d+$/);
    assert.equal(await httpGetEventually(ns, ip, 80), 'hello-from-two-networks\n');
    const shown = await ok(['exec', 'multi', 'ip', '-o', '-4', 'addr', 'show', 'eth1']);
    assert.match(shown, new RegExp(`eth1\\s+inet ${ip.replace(/\./g, '\\.')}/24`));
    await ok(['network', 'disconnect', 'extra', 'multi']);
    let nics = '';
    for (let i = 0; i < 120; i++) {
      nics = await ok(['exec', 'multi', 'ls', '/sys/class/net']);
      if (!nics.includes('eth1')) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    assert.doesNotMatch(nics, /eth1/);
    assert.match(nics, /eth0/);
    // The first network still works.
    const first = (await ok(['inspect', 'multi', '--format', '{{.NetworkSettings.IPAddress}}'])).trim();
    assert.equal(await httpGetEventually(ns, first, 80), 'hello-from-two-networks\n');
  } finally {
    await d.docker(['rm', '-f', 'multi']);
    await d.docker(['network', 'rm', 'extra']);
  }
  await noLeaks();
});
