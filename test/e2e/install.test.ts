// `hako install containerd` on a containerd configuration without Hako:
// containerd started with the result runs a pod with handler hako; a second
// install changes nothing; --uninstall gives the file back as it was.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Cri } from '../helpers/cri.js';
import { runCommand } from '../helpers/exec.js';
import { fileNetns } from '../helpers/netns.js';
import { HAKO } from '../helpers/paths.js';

test('containerd configured by hako install runs a pod with handler hako; install is idempotent and --uninstall reverses it', async () => {
  const node = fileNetns('ins');
  node.make();
  let original = '';
  let configFile = '';
  const install = async (file: string) => {
    configFile = file;
    original = readFileSync(file, 'utf8');
    const dry = await runCommand([
      HAKO,
      'install',
      'containerd',
      '--config',
      file,
      '--dry-run',
      '--runtime-class',
      `${file}.rc.yaml`,
    ]);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /would add the runtime handler hako/);
    assert.equal(readFileSync(file, 'utf8'), original, '--dry-run changes nothing');
    const r = await runCommand([
      HAKO,
      'install',
      'containerd',
      '--config',
      file,
      '--runtime-class',
      `${file}.rc.yaml`,
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /did add the runtime handler hako/);
    assert.match(r.stdout, /\+ {3}runtime_type = "io\.containerd\.hako\.v2"/);
    assert.equal(readFileSync(`${file}.hako-backup`, 'utf8'), original);
    assert.match(readFileSync(`${file}.rc.yaml`, 'utf8'), /^handler: hako$/m);
  };
  const cri = await Cri.start(node.path, install).catch((e: unknown) => {
    node.remove();
    throw e;
  });
  try {
    const config = cri.podConfig('installed');
    const pod = await cri.runPod(config);
    try {
      const c = await cri.runContainer(pod, config, 'hello', ['echo', 'installed']);
      assert.equal(await cri.waitExit(c), 0);
      assert.equal(cri.logOf(config, 'hello'), 'installed\n');
    } finally {
      await cri.removePod(pod);
    }
    const again = await runCommand([
      HAKO,
      'install',
      'containerd',
      '--config',
      configFile,
      '--runtime-class',
      join(cri.containerd.dir, 'rc2.yaml'),
    ]);
    assert.match(again.stdout, /already there; nothing changed/);
    const un = await runCommand([HAKO, 'install', 'containerd', '--config', configFile, '--uninstall']);
    assert.equal(un.code, 0, un.stderr);
    assert.equal(readFileSync(configFile, 'utf8'), original, 'the file is as it was before install');
  } finally {
    await cri.stop();
    node.remove();
  }
});
