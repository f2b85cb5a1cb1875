// The VM template cache over the fake hypervisor: made once, then reused; a
// different VM gets a different template; concurrent starts agree on one;
// its directory must be ours and memory-backed; what dead processes left is
// removed; a start falls back to booting when it cannot have a template.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { chmod, statfs, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { UNCONFINED } from '../../src/confinement/jail.js';
import { parseConfigText } from '../../src/config/load.js';
import { HakoError } from '../../src/errors.js';
import type { Device, VmSpec } from '../../src/hypervisor/types.js';
import { RealProcessTable } from '../../src/sys/procs.js';
import { withBuildLock } from '../../src/runtime/build-lock.js';
import { secureRoot } from '../../src/runtime/template-dir.js';
import { cloneFiles, ensureTemplate, templateKey, type TemplateSpec } from '../../src/runtime/templates.js';
import { startVm } from '../../src/runtime/vm-start.js';
import { rig } from '../helpers/fake-rig.js';

/** A fake rig whose templates live in a private directory on tmpfs. */
async function withSetup(
  fn: (s: { r: ReturnType<typeof rig>; deps: ReturnType<typeof rig>['env']; root: string }) => Promise<void>,
): Promise<void> {
  const r = rig();
  const shm = mkdtempSync('/dev/shm/hku-');
  const root = join(shm, 't');
  const config = parseConfigText(`[factory]\ntemplate_path = "${root}"\n`, 'test');
  try {
    await fn({ r, deps: { ...r.env, config }, root });
  } finally {
    for (const vm of r.hv.vms) await vm.kill();
    r.done();
    rmSync(shm, { recursive: true, force: true });
  }
}

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
    jail: UNCONFINED,
    seccomp: false,
    devices: [{ kind: 'serial-port', id: 'agent', name: 'hako.agent', socketPath: join(dir, 'agent.sock') }],
    consoleLog: false,
    dieWithParent: true,
    memoryFile,
  });

const templatesIn = (root: string) => readdirSync(root).filter((n) => /^[0-9a-f]{32}$/.test(n));

test('a template is made once, then reused; another VM gets its own', () =>
  withSetup(async ({ r, deps, root }) => {
    const a = await ensureTemplate(deps, specFor(512), 'agent');
    assert.equal(r.hv.templatesSaved.length, 1);
    assert.match(
      r.hv.templatesSaved[0]?.memoryFile?.path ?? '',
      /\/\.build-\d+\.\d+-[0-9a-f]{32}-[0-9a-f]{8}\/memory$/,
    );
    assert.deepEqual(readdirSync(a.dir).sort(), ['memory', 'state']);
    const again = await ensureTemplate(deps, specFor(512), 'agent');
    assert.equal(again.dir, a.dir);
    assert.equal(r.hv.templatesSaved.length, 1, 'reused, not made again');
    const other = await ensureTemplate(deps, specFor(1024), 'agent');
    assert.notEqual(other.dir, a.dir);
    assert.equal(r.hv.templatesSaved.length, 2);
    assert.deepEqual(
      readdirSync(root).filter((n) => n.startsWith('.')),
      [],
      'no build directory or lock left',
    );
  }));

test('concurrent starts agree on one template, made once; the others are told to boot', () =>
  withSetup(async ({ r, deps }) => {
    const results = await Promise.allSettled([
      ensureTemplate(deps, specFor(512), 'agent'),
      ensureTemplate(deps, specFor(512), 'agent'),
    ]);
    assert.equal(r.hv.templatesSaved.length, 1, 'made once');
    const made = results.filter((x) => x.status === 'fulfilled');
    const busy = results.filter((x) => x.status === 'rejected');
    assert.equal(made.length, 1);
    assert.match(String(busy[0]?.reason), /being made by process \d+/);
  }));

test('a half-removed template is made again', () =>
  withSetup(async ({ r, deps }) => {
    const t = await ensureTemplate(deps, specFor(512), 'agent');
    rmSync(join(t.dir, 'state'));
    const again = await ensureTemplate(deps, specFor(512), 'agent');
    assert.equal(again.dir, t.dir);
    assert.equal(r.hv.templatesSaved.length, 2, 'made a second time');
    assert.equal(readFileSync(join(t.dir, 'state'), 'utf8'), 'fake state');
  }));

test('what dead processes left is removed; old unused templates beyond four are pruned', () =>
  withSetup(async ({ deps, root }) => {
    const t = await ensureTemplate(deps, specFor(512), 'agent');
    const key = t.dir.split('/').pop() ?? '';
    const dead = 4194305; // above the largest pid_max: no such process
    mkdirSync(join(root, `.build-${dead}.1-${key}-0a1b2c3d`));
    mkdirSync(join(root, 'clones'), { recursive: true });
    writeFileSync(join(root, 'clones', `${dead}.1-sandbox`), 'x');
    const hourAgo = new Date(Date.now() - 3600_000);
    for (let i = 0; i < 6; i++) {
      const old = join(root, `${String(i).repeat(32)}`);
      mkdirSync(old);
      utimesSync(old, hourAgo, hourAgo);
    }
    writeFileSync(join(root, `.failed-${'f'.repeat(32)}`), 'old failure');
    utimesSync(join(root, `.failed-${'f'.repeat(32)}`), hourAgo, hourAgo);
    await ensureTemplate(deps, specFor(512), 'agent');
    assert.ok(!existsSync(join(root, `.build-${dead}.1-${key}-0a1b2c3d`)));
    assert.ok(!existsSync(join(root, 'clones', `${dead}.1-sandbox`)));
    assert.ok(!existsSync(join(root, `.failed-${'f'.repeat(32)}`)));
    assert.equal(templatesIn(root).length, 4, 'the one in use and the three most recent others');
    assert.ok(templatesIn(root).includes(key));
    // What a live process (we) has under way is left alone.
    const me = `${process.pid}.${(await new RealProcessTable().startTime(process.pid)) ?? ''}`;
    mkdirSync(join(root, `.build-${me}-${key}-0a1b2c3d`));
    mkdirSync(join(root, 'clones', `${me}-sandbox`));
    await ensureTemplate(deps, specFor(512), 'agent');
    assert.ok(existsSync(join(root, `.build-${me}-${key}-0a1b2c3d`)));
    assert.ok(existsSync(join(root, 'clones', `${me}-sandbox`)));
  }));

test('a template that cannot be made is not tried again by every start', () =>
  withSetup(async ({ r, deps }) => {
    r.hv.templateError = new Error('the guest never opened its port');
    await assert.rejects(ensureTemplate(deps, specFor(512), 'agent'), /never opened its port/);
    await assert.rejects(
      ensureTemplate(deps, specFor(512), 'agent'),
      /making this VM template failed recently: the guest never opened its port/,
    );
    assert.equal(r.hv.templatesSaved.length, 1, 'not tried a second time');
  }));

test("the TSC frequency given to the template's boot does not change which template is used", () =>
  withSetup(async ({ deps }) => {
    const withTsc =
      (khz: number): TemplateSpec =>
      (dir, m) => {
        const s = specFor(512)(dir, m);
        return { ...s, kernelArgs: [...s.kernelArgs, `tsc_early_khz=${khz}`] };
      };
    assert.equal(await templateKey(deps, withTsc(2100000)), await templateKey(deps, withTsc(2099998)));
    assert.notEqual(await templateKey(deps, specFor(512)), await templateKey(deps, specFor(1024)));
  }));

test('the template directory must be ours, 0700, a real directory, on tmpfs, in a safe parent', async () => {
  const shm = mkdtempSync('/dev/shm/hku-');
  const disk = mkdtempSync('/var/tmp/hku-');
  try {
    await secureRoot(join(shm, 'ok'));
    await chmod(join(shm, 'ok'), 0o755);
    await assert.rejects(secureRoot(join(shm, 'ok')), /mode 755, not 700/);
    await symlink(join(shm, 'ok'), join(shm, 'link'));
    await assert.rejects(secureRoot(join(shm, 'link')), /not a directory/);
    await assert.rejects(secureRoot(join(shm, 'missing', 't')), /missing does not exist/);
    mkdirSync(join(shm, 'open'), { mode: 0o777 });
    await chmod(join(shm, 'open'), 0o777);
    await assert.rejects(secureRoot(join(shm, 'open', 't')), /writable by others and not sticky/);
    mkdirSync(join(shm, 'theirs'));
    chownSync(join(shm, 'theirs'), 65534, 65534);
    await assert.rejects(secureRoot(join(shm, 'theirs', 't')), /owned by uid 65534/);
    if ((await statfs(disk)).type !== 0x01021994) {
      await assert.rejects(secureRoot(join(disk, 't')), /not on tmpfs/);
      assert.ok(!existsSync(join(disk, 't')), 'nothing made on a disk');
    }
  } finally {
    rmSync(shm, { recursive: true, force: true });
    rmSync(disk, { recursive: true, force: true });
  }
});

test("a lock whose holder is gone is taken over; a live holder's is not", () =>
  withSetup(async ({ root }) => {
    const procs = new RealProcessTable();
    await secureRoot(root);
    writeFileSync(join(root, '.lock-k'), '4194305.123');
    assert.equal(await withBuildLock(procs, root, 'k', () => Promise.resolve('taken over')), 'taken over');
    assert.ok(!existsSync(join(root, '.lock-k')));
    writeFileSync(join(root, '.lock-k'), `${process.ppid}.${(await procs.startTime(process.ppid)) ?? ''}`);
    await assert.rejects(
      withBuildLock(procs, root, 'k', () => Promise.resolve(1)),
      /being made by process/,
    );
  }));

test("a clone's files: its own copy of the template's RAM, and the template's state", () =>
  withSetup(async ({ deps }) => {
    const t = await ensureTemplate(deps, specFor(512), 'agent');
    const clone = await cloneFiles(deps, t, 'sb1', UNCONFINED);
    assert.equal(readFileSync(join(clone.dir, 'memory'), 'utf8'), 'fake RAM');
    assert.equal(readFileSync(join(clone.dir, 'state'), 'utf8'), 'fake state');
    assert.equal(
      statSync(join(clone.dir, 'state')).ino,
      statSync(join(t.dir, 'state')).ino,
      'linked, not copied',
    );
    assert.match(clone.dir, new RegExp(`/clones/${process.pid}\\.\\d+-sb1$`));
  }));

/** startVm for a sandbox with a virtio-fs share, counting shared-fs starts and restarts. */
function start(deps: ReturnType<typeof rig>['env'], dir: string) {
  let fsStarts = 0;
  let fsRestarts = 0;
  const vm = startVm(deps, {
    id: 'sb',
    dir,
    jail: { vmm: UNCONFINED, fsd: UNCONFINED, helper: UNCONFINED, seccomp: false },
    transport: {
      devices: (): Device[] => [
        { kind: 'serial-port', id: 'agent', name: 'hako.agent', socketPath: join(dir, 'agent.sock') },
      ],
      kernelArgs: () => ['hako.port=hako.agent'],
    },
    fsDevices: [{ kind: 'vhost-user-fs', id: 'fs0', tag: 'hako', socketPath: join(dir, 'fs.sock') }],
    netDevices: [],
    dieWithParent: false,
    startFs: () => {
      fsStarts++;
      return Promise.resolve();
    },
    restartDaemons: () => {
      fsRestarts++;
      return Promise.resolve();
    },
  });
  return { vm, fsStarts: () => fsStarts, fsRestarts: () => fsRestarts };
}

test('a start from a template hot-plugs the shared fs and removes its RAM copy', () =>
  withSetup(async ({ r, deps, root }) => {
    const s = start(deps, r.root);
    await s.vm;
    assert.equal(s.fsStarts(), 1);
    assert.equal(r.hv.restored.length, 1);
    assert.deepEqual(
      r.hv.restored[0]?.hotplug.map((d) => d.kind),
      ['vhost-user-fs'],
    );
    assert.equal(r.hv.restored[0]?.spec.machine, 'q35');
    assert.ok(!r.hv.restored[0]?.spec.devices.some((d) => d.kind === 'vhost-user-fs'));
    assert.deepEqual(readdirSync(join(root, 'clones')), []);
  }));

test('a start whose RAM copy fails boots instead, starting the shared fs once', () =>
  withSetup(async ({ r, deps, root }) => {
    await ensureTemplate(deps, specFor(512), 'agent').catch(() => undefined);
    await secureRoot(root);
    writeFileSync(join(root, 'clones'), 'not a directory');
    const s = start(deps, r.root);
    await s.vm;
    assert.equal(s.fsStarts(), 1);
    assert.equal(r.hv.restored.length, 0);
    assert.ok(
      r.hv.started.some((x) => x.devices.some((d) => d.kind === 'vhost-user-fs')),
      'booted with the fs',
    );
  }));

test('a template whose state cannot be loaded is removed and the VM boots; other restore failures keep it', () =>
  withSetup(async ({ r, deps, root }) => {
    r.hv.restoreError = new HakoError('VM_START_FAILED', 'device_add failed');
    await assert.rejects(start(deps, r.root).vm, /device_add failed/);
    assert.equal(templatesIn(root).length, 1, 'kept');
    r.hv.restoreError = new HakoError('TEMPLATE_INVALID', 'Not a migration stream');
    const s = start(deps, r.root);
    await s.vm;
    assert.equal(s.fsStarts(), 1);
    // The failed VM had the daemon's one connection: the boot gets a new daemon.
    assert.equal(s.fsRestarts(), 1);
    assert.ok(
      r.hv.started.some((x) => x.devices.some((d) => d.kind === 'vhost-user-fs')),
      'booted with the fs',
    );
    assert.equal(templatesIn(root).length, 0, 'removed');
    assert.deepEqual(readdirSync(join(root, 'clones')), [], 'no clone files left');
  }));
