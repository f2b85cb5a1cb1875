// The VM template cache over the fake hypervisor: made once, then reused;
// a different VM gets a different template; concurrent starts agree on one;
// what dead processes left is removed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfigText } from '../../src/config/load.js';
import type { VmSpec } from '../../src/hypervisor/types.js';
import { copyMemory, ensureTemplate, templateKey, type TemplateSpec } from '../../src/runtime/templates.js';
import { rig } from '../helpers/fake-rig.js';

function setup() {
  const r = rig();
  const config = parseConfigText(`[factory]\ntemplate_path = "${r.root}/templates"\n`, 'test');
  const deps = { ...r.env, config };
  const specFor =
    (memoryMiB: number): TemplateSpec =>
    (dir, memoryFile): VmSpec => ({
      id: 'template',
      dir,
      machine: 'q35',
      accel: 'tcg',
      vcpus: 1,
      memoryMiB,
      kernel: '/k',
      initrd: '/i',
      kernelArgs: ['hako.template=1'],
      devices: [
        { kind: 'serial-port', id: 'agent', name: 'hako.agent', socketPath: join(dir, 'agent.sock') },
      ],
      consoleLog: false,
      dieWithParent: true,
      memoryFile,
    });
  return { r, deps, specFor, root: `${r.root}/templates` };
}

test('a template is made once, then reused; another VM gets its own', async () => {
  const { r, deps, specFor, root } = setup();
  try {
    const a = await ensureTemplate(deps, specFor(512), 'agent');
    assert.equal(r.hv.templatesSaved.length, 1);
    assert.equal(r.hv.templatesSaved[0]?.memoryFile?.shared, true);
    assert.deepEqual(readdirSync(a.dir).sort(), ['memory', 'state']);
    const again = await ensureTemplate(deps, specFor(512), 'agent');
    assert.equal(again.dir, a.dir);
    assert.equal(r.hv.templatesSaved.length, 1, 'reused, not made again');
    const other = await ensureTemplate(deps, specFor(1024), 'agent');
    assert.notEqual(other.dir, a.dir);
    assert.equal(r.hv.templatesSaved.length, 2);
    assert.ok(
      readdirSync(root).every((n) => !n.startsWith('.build-')),
      'no build directory left',
    );
  } finally {
    r.done();
  }
});

test('concurrent starts agree on one published template', async () => {
  const { r, deps, specFor, root } = setup();
  try {
    const [a, b] = await Promise.all([
      ensureTemplate(deps, specFor(512), 'agent'),
      ensureTemplate(deps, specFor(512), 'agent'),
    ]);
    assert.equal(a.dir, b.dir);
    assert.equal(readFileSync(join(a.dir, 'state'), 'utf8'), 'fake state');
    assert.deepEqual(
      readdirSync(root).filter((n) => n !== 'clones'),
      [a.dir.split('/').pop()],
    );
  } finally {
    r.done();
  }
});

test('a half-made template is not used, and what dead processes left is removed', async () => {
  const { r, deps, specFor, root } = setup();
  try {
    const t = await ensureTemplate(deps, specFor(512), 'agent');
    const key = t.dir.split('/').pop() ?? '';
    // A template without its state (an interrupted copy) is made again.
    writeFileSync(join(t.dir, 'state'), '');
    await ensureTemplate(deps, specFor(512), 'agent').catch(() => undefined);
    // A build and a RAM copy of a process that no longer runs (pid 2^22+1 cannot exist).
    const dead = 4194305;
    mkdirSync(join(root, `.build-${key}-${dead}-0a1b2c3d`));
    mkdirSync(join(root, 'clones'), { recursive: true });
    writeFileSync(join(root, 'clones', `${dead}-sandbox`), 'x');
    await ensureTemplate(deps, specFor(2048), 'agent');
    assert.ok(!existsSync(join(root, `.build-${key}-${dead}-0a1b2c3d`)));
    assert.ok(!existsSync(join(root, 'clones', `${dead}-sandbox`)));
  } finally {
    r.done();
  }
});

test("a clone's RAM is a private copy of the template's", async () => {
  const { r, deps, specFor } = setup();
  try {
    const t = await ensureTemplate(deps, specFor(512), 'agent');
    const copy = await copyMemory(deps, t, 'sb1');
    assert.equal(readFileSync(copy, 'utf8'), 'fake RAM');
    assert.ok(copy.startsWith(join(deps.config.factory.templatePath, 'clones', `${process.pid}-`)));
  } finally {
    r.done();
  }
});

test('a template that cannot be made is not tried again by every start', async () => {
  const { r, deps, specFor } = setup();
  try {
    r.hv.templateError = new Error('the guest never opened its port');
    await assert.rejects(ensureTemplate(deps, specFor(512), 'agent'), /never opened its port/);
    await assert.rejects(
      ensureTemplate(deps, specFor(512), 'agent'),
      /making this VM template failed recently: the guest never opened its port/,
    );
    assert.equal(r.hv.templatesSaved.length, 1, 'not tried a second time');
  } finally {
    r.done();
  }
});

test("the TSC frequency given to the template's boot does not change which template is used", async () => {
  const { deps, specFor, r } = setup();
  try {
    const withTsc =
      (khz: number): TemplateSpec =>
      (dir, m) => {
        const s = specFor(512)(dir, m);
        return { ...s, kernelArgs: [...s.kernelArgs, `tsc_early_khz=${khz}`] };
      };
    assert.equal(await templateKey(deps, withTsc(2100000)), await templateKey(deps, withTsc(2099998)));
    assert.notEqual(await templateKey(deps, specFor(512)), await templateKey(deps, specFor(1024)));
  } finally {
    r.done();
  }
});
