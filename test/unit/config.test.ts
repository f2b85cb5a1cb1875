import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig, parseConfigText } from '../../src/config/load.js';
import { isHakoError } from '../../src/errors.js';
import { REPO } from '../helpers/paths.js';

test('an empty file gives the documented defaults', () => {
  const c = parseConfigText('', 'x');
  assert.equal(c.hypervisor.machineType, 'microvm');
  assert.equal(c.hypervisor.accelerator, 'auto');
  assert.equal(c.hypervisor.memoryMiB, 512);
  assert.equal(c.hypervisor.sharedFs, 'virtio-fs');
  assert.equal(c.agent.dialTimeoutMs, 60_000);
  assert.equal(c.runtime.stateDir, '/run/hako');
});

test('the shipped configuration.toml parses and equals the defaults', () => {
  const shipped = parseConfigText(
    readFileSync(join(REPO, 'config', 'configuration.toml'), 'utf8'),
    'shipped',
  );
  assert.deepEqual(shipped, parseConfigText('', 'defaults'));
});

test('values override defaults', () => {
  const c = parseConfigText(
    '[hypervisor.qemu]\nmachine_type = "q35"\ndefault_memory = 256\nshared_fs = "virtio-9p"\n[agent.hako]\ndial_timeout = 5\n',
    'x',
  );
  assert.equal(c.hypervisor.machineType, 'q35');
  assert.equal(c.hypervisor.memoryMiB, 256);
  assert.equal(c.hypervisor.sharedFs, 'virtio-9p');
  assert.equal(c.agent.dialTimeoutMs, 5000);
});

test('unknown keys are named, at any depth', () => {
  assert.throws(
    () => parseConfigText('[hypervisor.qemu]\nturbo = true\n', 'f.toml'),
    /configuration f\.toml: unknown key "hypervisor\.qemu\.turbo"/,
  );
  assert.throws(() => parseConfigText('[network]\nx = 1\n', 'f.toml'), /unknown key "network"/);
  assert.throws(
    () => parseConfigText('[hypervisor.firecracker]\n', 'f.toml'),
    /unknown key "hypervisor\.firecracker"/,
  );
});

test('wrong types and values are named', () => {
  assert.throws(
    () => parseConfigText('[hypervisor.qemu]\ndefault_vcpus = "two"\n', 'f'),
    /hypervisor\.qemu\.default_vcpus/,
  );
  assert.throws(
    () => parseConfigText('[hypervisor.qemu]\nmachine_type = "pc"\n', 'f'),
    /hypervisor\.qemu\.machine_type/,
  );
  assert.throws(() => parseConfigText('[hypervisor.qemu]\ndefault_memory = 1\n', 'f'), /default_memory/);
});

test('[security]: confinement on by default; a cgroup parent must be a plain cgroup path or empty', () => {
  const d = parseConfigText('', 'f').security;
  assert.deepEqual(d, {
    confine: true,
    vmmUidBase: 2_000_000_000,
    vmmUidCount: 65536,
    cgroupParent: '/hako',
  });
  const at = (v: string) => () => parseConfigText(`[security]\ncgroup_parent = "${v}"\n`, 'f');
  assert.equal(at('')().security.cgroupParent, '');
  assert.equal(at('/kubepods/hako')().security.cgroupParent, '/kubepods/hako');
  for (const bad of ['hako', '/a/../b', '/a b', '/a/']) assert.throws(at(bad), /security\.cgroup_parent/);
  assert.throws(() => parseConfigText('[security]\nvmm_uid_base = 0\n', 'f'), /security\.vmm_uid_base/);
  assert.equal(parseConfigText('[runtime]\nhook_timeout = 2\n', 'f').runtime.hookTimeoutMs, 2000);
});

test('a VM template path with characters outside plain ones, or too long for its sockets, is refused', () => {
  const at = (p: string) => () => parseConfigText(`[factory]\ntemplate_path = "${p}"\n`, 'f');
  assert.equal(at('/dev/shm/t')().factory.templatePath, '/dev/shm/t');
  assert.throws(at('/tmp/a b'), /factory\.template_path.*absolute path of letters, digits/);
  assert.throws(at('/tmp/$(reboot)'), /factory\.template_path/);
  assert.throws(at('relative/dir'), /factory\.template_path/);
  assert.throws(at(`/${'x'.repeat(40)}`), /factory\.template_path.*at most 36 characters/);
});

test('TOML syntax errors are reported as such', () => {
  assert.throws(
    () => parseConfigText('[hypervisor.qemu\n', 'bad.toml'),
    (e: unknown) => isHakoError(e, 'CONFIG_INVALID') && /bad\.toml: not valid TOML/.test(e.message),
  );
});

test('an explicit file that does not exist is an error; no file at all means defaults', async () => {
  await assert.rejects(
    loadConfig('/nonexistent/hako.toml', {}),
    /cannot read configuration \/nonexistent\/hako\.toml/,
  );
  const dir = mkdtempSync('/tmp/hkc-');
  try {
    writeFileSync(join(dir, 'c.toml'), '[runtime]\nstate_dir = "/tmp/x"\n');
    const viaEnv = await loadConfig(undefined, { HAKO_CONFIG: join(dir, 'c.toml') });
    assert.equal(viaEnv.config.runtime.stateDir, '/tmp/x');
    assert.equal(viaEnv.source, join(dir, 'c.toml'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
