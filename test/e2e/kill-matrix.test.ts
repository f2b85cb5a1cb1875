// kill -9 at every step, for every process: `hako run`, the shim daemon
// (under containerd) and the OCI relay, each paused at a step by a
// test-only pause point (src/test-pause.ts), then that process, its QEMU or
// its virtiofsd is killed. After the documented recovery (the next start
// for hako run; `ctr task/container delete` for containerd; `hako delete
// --force` for the OCI CLI; and a next start for template leftovers), no
// process, mount, socket, state directory, cgroup, uid reservation or
// template leftover of the case remains.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cgroupPath } from '../../src/confinement/confinement.js';
import { UIDS_DIR } from '../../src/confinement/vmm-uids.js';
import type { PauseStep } from '../../src/test-pause.js';
import { Containerd, IMAGE } from '../helpers/containerd.js';
import { assertClean, commandsNaming, runHako, startHako, type HakoRun } from '../helpers/hako.js';
import { assertNoLeaks } from '../helpers/leaks.js';
import { makeBundle } from '../helpers/fixtures.js';

type Step = PauseStep | 'steady';
type Victim = 'hako' | 'qemu' | 'virtiofsd';

/** The processes that exist at each step (virtiofsd is started beside the RAM copy: not a fixed point there). */
const MATRIX: [Step, Victim[]][] = [
  ['template-build', ['hako', 'qemu']],
  ['clone-copy', ['hako']],
  ['fs-start', ['hako', 'virtiofsd']],
  ['vm-spawn', ['hako', 'qemu', 'virtiofsd']],
  ['create-sandbox', ['hako', 'qemu', 'virtiofsd']],
  ['first-container', ['hako', 'qemu', 'virtiofsd']],
  ['steady', ['hako', 'qemu', 'virtiofsd']],
  ['stop', ['hako']],
];

const pauseDir = mkdtempSync('/tmp/hkp-');
/** Template directories: one warm (holding a template), and a fresh one per template-build case. */
const warmTemplates = mkdtempSync('/dev/shm/hkm-');
let fresh = 0;
const templateDirs: string[] = [warmTemplates];

function templatePathFor(step: Step): string {
  if (step !== 'template-build') return join(warmTemplates, 't');
  const d = mkdtempSync('/dev/shm/hkm-');
  templateDirs.push(d);
  fresh++;
  return join(d, 't');
}

function configFile(into: string, templatePath: string, stateDir?: string): string {
  const file = join(into, `hako-${fresh}.toml`);
  const state = stateDir !== undefined ? `[runtime]\nstate_dir = "${stateDir}"\n` : '';
  writeFileSync(file, `${state}[factory]\ntemplate_path = "${templatePath}"\n`);
  return file;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Arms the pause point for `step` (steady: none, the container's output says when). */
function arm(step: Step): void {
  rmSync(join(pauseDir, `paused-${step}`), { force: true });
  if (step === 'steady') rmSync(join(pauseDir, 'pause'), { force: true });
  else writeFileSync(join(pauseDir, 'pause'), step);
}

function disarm(): void {
  rmSync(join(pauseDir, 'pause'), { force: true });
}

async function pausedAt(step: PauseStep, timeoutMs = 60_000): Promise<number> {
  const marker = join(pauseDir, `paused-${step}`);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const pid = existsSync(marker) ? Number(readFileSync(marker, 'utf8')) : NaN;
    if (Number.isInteger(pid) && pid > 1) return pid;
    if (Date.now() > deadline) throw new Error(`nothing paused at ${step}`);
    await sleep(20);
  }
}

/** The pid of the victim among the processes naming `dirs`. */
async function victimPid(victim: Exclude<Victim, 'hako'>, dirs: readonly string[]): Promise<number> {
  const binary = victim === 'qemu' ? 'qemu-system' : 'virtiofsd';
  for (let i = 0; i < 100; i++) {
    for (const dir of dirs) {
      // The daemon we started (its namespace child is found by cleanup, not killed here).
      const found = (await commandsNaming(dir)).filter((p) => p.argv[0]?.includes(binary));
      if (found[0]) return found[0].pid;
    }
    await sleep(20);
  }
  throw new Error(`no ${victim} process`);
}

/** SIGKILL to one process: never 0 or -1 (a whole group, every process). */
function kill(pid: number): void {
  assert.ok(Number.isInteger(pid) && pid > 1, `not a process to kill: ${pid}`);
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // Gone already.
  }
}

/** Asserts that nothing of the sandbox in `dir` is left outside its state root. */
function assertNoHostTraces(sandboxDirs: readonly string[]): void {
  for (const dir of sandboxDirs) {
    const path = cgroupPath('/hako', dir);
    for (const c of ['memory', 'cpu', 'pids']) {
      assert.ok(!existsSync(`/sys/fs/cgroup/${c}${path}`), `cgroup ${c}${path} of ${dir} remains`);
    }
    for (const f of existsSync(UIDS_DIR) ? readdirSync(UIDS_DIR) : []) {
      const holder = readFileSync(join(UIDS_DIR, f), 'utf8');
      assert.notEqual(holder, dir, `uid ${f} still reserved for ${dir}`);
    }
  }
}

/** Template leftovers: anything but complete templates and failure markers (a back-off, removed after 5 minutes). */
function assertTemplatesTidy(templatePath: string): void {
  const left = (existsSync(templatePath) ? readdirSync(templatePath) : []).filter(
    (e) => !/^[0-9a-f]{32}$/.test(e) && !e.startsWith('.failed-') && e !== 'clones',
  );
  assert.deepEqual(left, [], `template leftovers in ${templatePath}`);
  const clones = join(templatePath, 'clones');
  assert.deepEqual(existsSync(clones) ? readdirSync(clones) : [], [], 'RAM copies left');
}

/**
 * A start after the crash, in `root` (a scratch one by default): it sweeps
 * what the dead left there (sandboxes) and in the template directory.
 */
async function nextStart(config: string, root = mkdtempSync('/tmp/hk-')): Promise<void> {
  try {
    const r = await runHako(root, ['run', '--', 'true'], { config });
    assert.equal(r.code, 0, r.stderr);
  } finally {
    await assertClean(root);
  }
}

/** Waits for `run` to end; after 5 s, ends it as a user would (SIGTERM, then a second one). */
async function endRun(run: HakoRun): Promise<void> {
  const timers = [
    setTimeout(() => run.kill('SIGTERM'), 5_000),
    setTimeout(() => run.kill('SIGTERM'), 6_000),
    setTimeout(() => run.kill('SIGKILL'), 90_000),
  ];
  await run.result;
  for (const t of timers) clearTimeout(t);
}

const env = { HAKO_TEST_PAUSE_DIR: pauseDir };

before(async () => {
  // The warm template, made once.
  await nextStart(configFile(pauseDir, join(warmTemplates, 't')));
});

after(() => {
  for (const d of [pauseDir, ...templateDirs]) rmSync(d, { recursive: true, force: true });
});

for (const [step, victims] of MATRIX) {
  for (const victim of victims) {
    test(`hako run: kill -9 of ${victim} at ${step}, then the next start: nothing remains`, async () => {
      const root = mkdtempSync('/tmp/hk-');
      const templatePath = templatePathFor(step);
      const config = configFile(pauseDir, templatePath);
      const id = 'victim';
      arm(step);
      const args = step === 'stop' ? ['true'] : ['sh', '-c', 'echo ready; exec sleep 600'];
      const run = startHako(root, ['run', '--name', id, '--', ...args], { config, env });
      try {
        const hako = step === 'steady' ? (await run.waitForOutput('ready'), run.pid) : await pausedAt(step);
        if (victim === 'hako') kill(hako);
        else kill(await victimPid(victim, step === 'template-build' ? [templatePath] : [root]));
        // The run goes on from its pause: it fails and cleans up on its own,
        // or (a template that could not be made: the VM boots instead) runs
        // its container, which is then ended as a user would.
        disarm();
        await endRun(run);
        await nextStart(config, root);
        assertTemplatesTidy(templatePath);
        assertNoHostTraces([join(root, id)]);
      } finally {
        disarm();
        run.kill('SIGKILL');
      }
    });
  }
}

for (const [step, victims] of MATRIX) {
  for (const victim of victims) {
    test(`OCI relay: kill -9 of ${victim === 'hako' ? 'the relay' : victim} at ${step}, then delete --force: nothing remains`, async () => {
      const root = mkdtempSync('/tmp/hk-');
      const bundle = mkdtempSync('/tmp/hkb-');
      const templatePath = templatePathFor(step);
      const config = configFile(pauseDir, templatePath);
      const id = 'victim';
      makeBundle(bundle, { args: step === 'stop' ? ['true'] : ['sleep', '600'] });
      arm(step);
      try {
        const create = startHako(root, ['create', '--bundle', bundle, id], { config, env, until: 'exit' });
        let relay: number;
        if (step === 'steady' || step === 'stop') {
          await create.result;
          await runHako(root, ['start', id], { config, env });
          relay =
            step === 'stop'
              ? await pausedAt('stop')
              : (JSON.parse(readFileSync(join(root, id, 'relay.json'), 'utf8')) as { pid: number }).pid;
        } else relay = await pausedAt(step);
        if (victim === 'hako') kill(relay);
        else kill(await victimPid(victim, step === 'template-build' ? [templatePath] : [root]));
        disarm();
        await create.result;
        const del = await runHako(root, ['delete', '--force', id], { config });
        assert.equal(del.code, 0, del.stderr);
        await nextStart(config);
        assertTemplatesTidy(templatePath);
        assertNoHostTraces([join(root, id)]);
        await assertClean(root);
      } finally {
        disarm();
        rmSync(bundle, { recursive: true, force: true });
      }
    });
  }
}

let c: Containerd | undefined;
let n = 0;

for (const [step, victims] of MATRIX) {
  for (const victim of victims) {
    test(`shim: kill -9 of ${victim === 'hako' ? 'the shim daemon' : victim} at ${step}, then ctr delete: nothing remains`, async () => {
      c ??= await Containerd.start({ env });
      const templatePath = templatePathFor(step);
      // The shims read the configuration containerd gives them, anew for each sandbox.
      writeFileSync(
        join(c.dir, 'hako.toml'),
        `[runtime]\nstate_dir = "${c.hakoStateDir}"\n[factory]\ntemplate_path = "${templatePath}"\n`,
      );
      const ns = `k${process.pid}-${n++}`;
      await c.importImage(ns);
      const id = `victim${n}`;
      arm(step);
      const args = step === 'stop' ? ['true'] : ['sleep', '600'];
      const ctr = c.ctrBackground(ns, [
        'run',
        ...(step === 'stop' ? ['--rm'] : ['-d']),
        '--runtime',
        'io.containerd.hako.v2',
        IMAGE,
        id,
        ...args,
      ]);
      try {
        let shim: number;
        if (step === 'steady') {
          await new Promise((r) => ctr.child.once('exit', r));
          const daemons = (await commandsNaming(c.hakoStateDir)).filter((p) => p.argv.includes('-socket'));
          assert.equal(daemons.length, 1, 'one shim daemon');
          shim = daemons[0]?.pid ?? NaN;
        } else shim = await pausedAt(step);
        if (victim === 'hako') kill(shim);
        else kill(await victimPid(victim, step === 'template-build' ? [templatePath] : [c.hakoStateDir]));
        disarm();
        if (ctr.child.exitCode === null) {
          const t = setTimeout(() => ctr.child.kill('SIGKILL'), 90_000);
          await new Promise((r) => ctr.child.once('exit', r));
          clearTimeout(t);
        }
        await c.ctr(ns, ['task', 'delete', '--force', id]);
        await c.ctr(ns, ['container', 'delete', id]);
        await assertNoLeaks(c.hakoStateDir, { timeoutMs: 20_000 });
        await nextStart(configFile(pauseDir, templatePath));
        assertTemplatesTidy(templatePath);
        assertNoHostTraces([join(c.hakoStateDir, id)]);
      } finally {
        disarm();
        await c.ctr(ns, ['image', 'rm', IMAGE]);
      }
    });
  }
}

after(async () => {
  await c?.stop();
});
