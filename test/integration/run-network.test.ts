// hako run's own network (passt; the default for an image's container):
// outbound, the host's loopback mapped only when asked (--network
// user:host-loopback: a server the test runs on the host's loopback is
// reached through the gateway's address), and -p publishing a port on
// 127.0.0.1. Traffic stays on this host's loopback.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createServer, get, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { netDirFor } from '../../src/runtime/run-dir.js';
import { commandsNaming, inPrivateRoot, runHako } from '../helpers/hako.js';

function gateway(): string {
  const routes = JSON.parse(execFileSync('ip', ['-j', 'route', 'show', 'default'], { encoding: 'utf8' })) as {
    gateway?: string;
  }[];
  const gw = routes[0]?.gateway;
  assert.ok(gw, 'this host has a default route (passt needs one)');
  return gw;
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return (server.address() as AddressInfo).port;
}

async function freePort(): Promise<number> {
  const s = createServer();
  const port = await listen(s);
  await new Promise((r) => s.close(r));
  return port;
}

function fetchText(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    get(url, { timeout: 3000 }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve(body));
    }).on('error', reject);
  });
}

test('--network user:host-loopback: the container reaches a server on the host loopback through the gateway address', async () => {
  const server = createServer((_req, res) => res.end('from the host loopback\n'));
  const port = await listen(server);
  try {
    await inPrivateRoot(async (root) => {
      const r = await runHako(root, [
        'run',
        '--network',
        'user:host-loopback',
        '--',
        'wget',
        '-qO-',
        `http://${gateway()}:${port}/`,
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.toString(), 'from the host loopback\n');
    });
  } finally {
    server.close();
  }
});

test('-p 127.0.0.1:PORT:8080 publishes the container’s httpd on the host loopback; a bad -p or a port in use exits 125, named; nothing is left', async () => {
  await inPrivateRoot(async (root) => {
    const port = await freePort();
    const d = await runHako(
      root,
      [
        'run',
        '-d',
        '--name',
        'web',
        '-p',
        `127.0.0.1:${port}:8080`,
        '--',
        'sh',
        '-c',
        'mkdir -p /www && echo from the container > /www/i && exec httpd -f -p 8080 -h /www',
      ],
      { until: 'exit' },
    );
    assert.equal(d.code, 0, d.stderr);
    try {
      let body = '';
      for (let i = 0; i < 50 && body === ''; i++) {
        body = await fetchText(`http://127.0.0.1:${port}/i`).catch(async () => {
          await new Promise((r) => setTimeout(r, 200));
          return '';
        });
      }
      assert.equal(body, 'from the container\n');
      const taken = await runHako(root, ['run', '-p', `127.0.0.1:${port}:80`, '--', 'true']);
      assert.equal(taken.code, 125);
      assert.match(taken.stderr, new RegExp(`127\\.0\\.0\\.1:${port} cannot be bound \\(EADDRINUSE\\)`));
    } finally {
      assert.equal((await runHako(root, ['rm', '-f', 'web'])).code, 0);
    }
    // passt went with the container, and so did its directory.
    const netDir = netDirFor(join(root, 'web'));
    assert.deepEqual(await commandsNaming(netDir), []);
    assert.ok(!existsSync(netDir), `${netDir} removed`);
    for (const [spec, message] of [
      ['80', /-p 80: expected \[HOSTIP:\]HOSTPORT:CONTAINERPORT/],
      ['1.2.3.400:80:80', /1\.2\.3\.400 is not an IPv4 address/],
      ['70000:80', /ports 1 to 65535/],
    ] as const) {
      const bad = await runHako(root, ['run', '-p', spec, '--', 'true']);
      assert.equal(bad.code, 125, bad.stderr);
      assert.match(bad.stderr, message);
    }
    const mixed = await runHako(root, ['run', '--network', 'none', '-p', '8080:80', '--', 'true']);
    assert.match(mixed.stderr, /-p needs --network user/);
    // The port is free again: its forward went with passt.
    const again = createServer();
    await new Promise<void>((resolve, reject) => {
      again.once('error', reject);
      again.listen(port, '127.0.0.1', () => resolve());
    });
    again.close();
  });
});

test("by default a container has outbound networking (passt: eth0, a default route) without the host's loopback, which only --network user:host-loopback maps", async () => {
  await inPrivateRoot(async (root) => {
    // A VM booted without a template (a microvm: the NIC on its command line) as well.
    const cfgDir = mkdtempSync('/tmp/hkn-');
    const booted = join(cfgDir, 'booted.toml');
    writeFileSync(booted, '[factory]\nenable_template = false\n');
    for (const [name, flags, mapped, config] of [
      ['default-net', [], false, undefined],
      ['mapped', ['--network', 'user:host-loopback'], true, undefined],
      ['booted', [], false, booted],
    ] as const) {
      const d = await runHako(root, ['run', '-d', '--name', name, ...flags, '--', 'sleep', '60'], {
        until: 'exit',
        ...(config !== undefined ? { config } : {}),
      });
      assert.equal(d.code, 0, d.stderr);
      try {
        const ex = await runHako(root, ['exec', name, 'sh', '-c', 'ip -o -4 addr show eth0; ip route']);
        assert.equal(ex.code, 0, ex.stderr);
        assert.match(ex.stdout.toString(), /eth0\s+inet \d+\.\d+\.\d+\.\d+\//);
        assert.match(ex.stdout.toString(), /^default via /m);
        const passt = await commandsNaming(netDirFor(join(root, name)));
        assert.equal(passt.length, 1, 'one passt for the sandbox');
        assert.equal(passt[0]?.argv.includes('--no-map-gw'), !mapped, passt[0]?.argv.join(' '));
      } finally {
        await runHako(root, ['rm', '-f', name]);
      }
    }
    rmSync(cfgDir, { recursive: true, force: true });
  });
});
