// The VM template cache ([factory] in the configuration): one saved VM per
// image and configuration, made by the first start that needs it, and a
// private copy of its RAM for each VM started from it. A template is built
// in a directory of its own and published by renaming it into place, so a
// reader never sees half of one and two builders never clash.
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { HakoError, messageOf } from '../errors.js';
import type { VmSpec, VmTemplate } from '../hypervisor/types.js';
import type { SandboxEnv } from './env.js';

/** Bumped when what a template holds changes, so that old ones are not used. */
const FORMAT = 1;
/** Templates kept; older ones are removed once unused for PRUNE_AFTER_MS. */
const KEEP = 4;
const PRUNE_AFTER_MS = 10 * 60_000;
/** How long a template that failed to be made is not tried again. */
const RETRY_AFTER_MS = 5 * 60_000;

type Deps = Pick<SandboxEnv, 'config' | 'hypervisor' | 'runner' | 'procs' | 'log'>;

/** A template VM's spec for a given directory and RAM file. */
export type TemplateSpec = (dir: string, memory: NonNullable<VmSpec['memoryFile']>) => VmSpec;

async function identity(path: string): Promise<string> {
  const s = await stat(path).catch(() => undefined);
  return s ? `${path}:${s.size}:${s.mtimeMs}` : path;
}

/**
 * What a template depends on: the VM's description without its paths and
 * name, and the QEMU binary, kernel and initramfs it was made with.
 */
export async function templateKey(deps: Deps, specFor: TemplateSpec): Promise<string> {
  const spec = specFor('/', { path: '/', shared: true });
  // The paths (all under the template's directory) and the name do not matter.
  const vm = {
    machine: spec.machine,
    accel: spec.accel,
    vcpus: spec.vcpus,
    memoryMiB: spec.memoryMiB,
    kernel: spec.kernel,
    initrd: spec.initrd,
    // Only the template's boot calibrates the TSC: a host whose reported
    // frequency wanders must not make a new template for every start.
    kernelArgs: spec.kernelArgs.filter((a) => !a.startsWith('tsc_early_khz=')),
    devices: spec.devices,
  };
  const files = await Promise.all([deps.config.hypervisor.path, vm.kernel, vm.initrd].map(identity));
  const what = JSON.stringify({ format: FORMAT, vm, files });
  return createHash('sha256').update(what).digest('hex').slice(0, 32);
}

/** The template for `specFor`, made now if there is none yet. */
export async function ensureTemplate(
  deps: Deps,
  specFor: TemplateSpec,
  readyPort: string,
): Promise<VmTemplate> {
  const root = deps.config.factory.templatePath;
  const key = await templateKey(deps, specFor);
  const dir = join(root, key);
  await sweepDead(deps, root);
  if (await isComplete(dir)) {
    const now = new Date();
    await utimes(dir, now, now).catch(() => undefined);
    return { dir };
  }
  // A template that could not be made is not tried again for a while:
  // each start would otherwise pay for a failing boot before its own.
  const failed = join(root, `.failed-${key}`);
  const lastFailure = await stat(failed).catch(() => undefined);
  if (lastFailure && Date.now() - lastFailure.mtimeMs < RETRY_AFTER_MS) {
    throw new HakoError(
      'VM_START_FAILED',
      `making this VM template failed recently: ${await readFile(failed, 'utf8')}`,
    );
  }
  const t0 = performance.now();
  deps.log.log('info', `making a VM template in ${dir} (once per image and configuration)`);
  // Named by its builder's pid (prune() removes a dead builder's) and unique within it.
  const build = join(root, `.build-${key}-${process.pid}-${randomBytes(4).toString('hex')}`);
  await mkdir(build, { recursive: true, mode: 0o700 });
  try {
    const spec = specFor(build, { path: join(build, 'memory'), shared: true });
    await deps.hypervisor.saveTemplate(spec, { dir: build }, readyPort, deps.config.agent.dialTimeoutMs);
    // What the template VM left besides its RAM and state (sockets, logs).
    for (const f of await readdir(build))
      if (f !== 'memory' && f !== 'state') await rm(join(build, f), { force: true });
    await rename(build, dir).catch(async (e: unknown) => {
      // Another start published the same template first: use theirs.
      if (!(await isComplete(dir))) throw e;
      await rm(build, { recursive: true, force: true });
    });
  } catch (e) {
    await rm(build, { recursive: true, force: true });
    await writeFile(failed, messageOf(e).slice(0, 4000)).catch(() => undefined);
    throw e;
  }
  await rm(failed, { force: true });
  deps.log.log('info', `VM template ready in ${Math.round(performance.now() - t0)} ms`);
  await prune(root, key);
  return { dir };
}

async function isComplete(dir: string): Promise<boolean> {
  const sizes = await Promise.all(
    ['memory', 'state'].map((f) =>
      stat(join(dir, f)).then(
        (s) => s.size,
        () => 0,
      ),
    ),
  );
  return sizes.every((n) => n > 0);
}

/**
 * A private copy of the template's RAM for one VM, in the memory-backed
 * template directory: vhost-user (the shared fs) needs the VM's RAM in a file
 * it can map too, so a copy-on-write private mapping of the template will not
 * do. Only the pages the template touched are copied (the file is sparse).
 * The caller removes it once QEMU has it open.
 */
export async function copyMemory(deps: Deps, template: VmTemplate, owner: string): Promise<string> {
  const clones = join(deps.config.factory.templatePath, 'clones');
  await mkdir(clones, { recursive: true, mode: 0o700 });
  const copy = join(clones, `${process.pid}-${owner}`);
  const r = await deps.runner.run(['cp', '--sparse=always', join(template.dir, 'memory'), copy]);
  if (r.code !== 0) {
    await rm(copy, { force: true });
    throw new HakoError('VM_START_FAILED', `cannot copy the VM template's memory: ${r.stderr.trim()}`);
  }
  return copy;
}

/** Removes what processes that died left: half-made templates, RAM copies. */
async function sweepDead(deps: Deps, root: string): Promise<void> {
  const gone = async (name: string) => {
    const pid = Number(/^(\d+)-/.exec(name)?.[1] ?? NaN);
    return Number.isInteger(pid) && pid !== process.pid && (await deps.procs.startTime(pid)) === undefined;
  };
  for (const name of await readdir(root).catch(() => [] as string[])) {
    // .build-<key>-<pid>-<random>
    if (name.startsWith('.build-') && (await gone(name.slice('.build-'.length + 33)))) {
      await rm(join(root, name), { recursive: true, force: true });
    }
  }
  for (const name of await readdir(join(root, 'clones')).catch(() => [] as string[])) {
    if (await gone(name)) await rm(join(root, 'clones', name), { force: true });
  }
}

/**
 * Removes templates beyond the KEEP most recently used that no start has
 * used for a while. A removed template's clones keep running: each has its
 * own copy of the RAM.
 */
async function prune(root: string, keep: string): Promise<void> {
  const templates = await Promise.all(
    (await readdir(root).catch(() => [] as string[]))
      .filter((n) => /^[0-9a-f]{32}$/.test(n) && n !== keep)
      .map(async (n) => ({ n, used: (await stat(join(root, n)).catch(() => undefined))?.mtimeMs ?? 0 })),
  );
  templates.sort((a, b) => b.used - a.used);
  for (const t of templates.slice(KEEP - 1)) {
    if (Date.now() - t.used > PRUNE_AFTER_MS) await rm(join(root, t.n), { recursive: true, force: true });
  }
}
