// The VM template cache ([factory] in the configuration): one saved VM per
// image and configuration, made by the first start that needs it, and a
// private copy of its RAM for each VM started from it. A template is built
// in a directory of its own, under a lock, and published by renaming it
// into place, so a reader never sees half of one.
import { createHash, randomBytes } from 'node:crypto';
import { link, mkdir, readdir, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { HakoError, messageOf } from '../errors.js';
import type { VmSpec, VmTemplate } from '../hypervisor/types.js';
import { jailedArgv, type JailPlan } from '../confinement/jail.js';
import type { SandboxEnv } from './env.js';
import { withBuildLock } from './build-lock.js';
import { pausePoint } from '../test-pause.js';
import { ownTag } from './owner-tag.js';
import { discard, freeBytes, RETRY_AFTER_MS, secureRoot, tidy } from './template-dir.js';

/** Bumped when what a template holds changes, so that old ones are not used. */
const FORMAT = 1;

type Deps = Pick<SandboxEnv, 'config' | 'hypervisor' | 'runner' | 'procs' | 'log' | 'helper'>;

/** A template VM's spec for a given directory and RAM file. */
export type TemplateSpec = (dir: string, memory: NonNullable<VmSpec['memoryFile']>) => VmSpec;

async function identity(path: string): Promise<string> {
  const s = await stat(path).catch(() => undefined);
  return s ? `${path}:${s.ino}:${s.size}:${s.mtimeMs}:${s.ctimeMs}` : path;
}

/**
 * What a template depends on: the VM's description without its paths and
 * name, and the QEMU binary, kernel and initramfs it was made with.
 */
export async function templateKey(deps: Deps, specFor: TemplateSpec): Promise<string> {
  const spec = specFor('/', { path: '/' });
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
    growth: spec.growth,
  };
  const files = await Promise.all([deps.config.hypervisor.path, vm.kernel, vm.initrd].map(identity));
  const what = JSON.stringify({ format: FORMAT, vm, files });
  return createHash('sha256').update(what).digest('hex').slice(0, 32);
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

/** The template for `specFor`, made now if there is none yet. */
export async function ensureTemplate(
  deps: Deps,
  specFor: TemplateSpec,
  readyPort: string,
): Promise<VmTemplate> {
  const root = deps.config.factory.templatePath;
  await secureRoot(root);
  const key = await templateKey(deps, specFor);
  const dir = join(root, key);
  await tidy(deps.procs, root, key);
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
  return withBuildLock(deps.procs, root, key, async () => {
    if (!(await isComplete(dir))) {
      try {
        await make(deps, specFor, readyPort, root, key);
      } catch (e) {
        await writeFile(failed, messageOf(e).slice(0, 4000)).catch(() => undefined);
        throw e;
      }
      await rm(failed, { force: true });
    }
    return { dir };
  });
}

/** Room for a whole VM's RAM, which a template or a clone can fill (a full tmpfs kills QEMU: SIGBUS). */
async function needRoom(deps: Deps, root: string): Promise<void> {
  const need = deps.config.hypervisor.memoryMiB * (1 << 20);
  const free = await freeBytes(root);
  if (free < need) {
    throw new HakoError(
      'HOST_NOT_READY',
      `${root} has ${Math.floor(free / (1 << 20))} MiB free, less than a VM's ${need / (1 << 20)} MiB of RAM`,
    );
  }
}

async function make(
  deps: Deps,
  specFor: TemplateSpec,
  readyPort: string,
  root: string,
  key: string,
): Promise<void> {
  const t0 = performance.now();
  const dir = join(root, key);
  await needRoom(deps, root);
  deps.log.log('info', `making a VM template in ${dir} (once per image and configuration)`);
  // Named by its builder (tidy() removes a dead builder's).
  const build = join(root, `.build-${await ownTag(deps.procs)}-${key}-${randomBytes(4).toString('hex')}`);
  await mkdir(build, { mode: 0o700 });
  try {
    const spec = specFor(build, { path: join(build, 'memory') });
    await deps.hypervisor.saveTemplate(spec, { dir: build }, readyPort, deps.config.agent.dialTimeoutMs);
    // What the template VM left besides its RAM and state (sockets, logs).
    for (const f of await readdir(build)) {
      if (f !== 'memory' && f !== 'state') await rm(join(build, f), { force: true });
    }
    // A complete template is never replaced (a start may be copying it); an
    // incomplete one in the way (a removal cut short) goes first.
    if (!(await isComplete(dir))) {
      await discard(root, dir);
      await rename(build, dir);
    }
  } finally {
    await rm(build, { recursive: true, force: true });
  }
  deps.log.log('info', `VM template ready in ${Math.round(performance.now() - t0)} ms`);
}

/** What one VM starts from: its own copy of a template's RAM and that template's state. */
export interface CloneFiles extends VmTemplate {
  /** The template it was taken from. */
  readonly from: VmTemplate;
}

/**
 * A VM's own copy of the template's RAM, with the template's state linked
 * beside it, in clones/<tag>-<owner>/: vhost-user (the shared fs) needs the
 * VM's RAM in a file it can map too, so a copy-on-write private mapping of
 * the template will not do. Only the pages the template touched are copied
 * (the file is sparse). The state is linked first and checked after the
 * copy, so RAM and state always come from the same template. The caller
 * removes the directory once QEMU has loaded it.
 */
export async function cloneFiles(
  deps: Deps,
  template: VmTemplate,
  owner: string,
  jail: JailPlan,
): Promise<CloneFiles> {
  const root = deps.config.factory.templatePath;
  await needRoom(deps, root);
  const clones = join(root, 'clones');
  await mkdir(clones, { mode: 0o700 }).catch((e: NodeJS.ErrnoException) => {
    if (e.code !== 'EEXIST') throw e;
  });
  const tag = await ownTag(deps.procs);
  const dir = join(clones, `${tag}-${owner}`);
  await mkdir(dir, { mode: 0o700 });
  try {
    await link(join(template.dir, 'state'), join(dir, 'state'));
    // In the sandbox's cgroup: the copy is its RAM, charged to it.
    const cp = ['cp', '--sparse=always', join(template.dir, 'memory'), join(dir, 'memory')];
    const r = await deps.runner.run(jailedArgv(deps.helper, jail, { dieWithParent: false }, cp));
    if (r.code !== 0)
      throw new HakoError('VM_START_FAILED', `cannot copy the VM template's memory: ${r.stderr.trim()}`);
    await pausePoint('clone-copy');
    if (!(await sameState(template, { dir }))) {
      throw new HakoError('VM_START_FAILED', 'the VM template was replaced while its memory was copied');
    }
    return { dir, from: template };
  } catch (e) {
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
}

async function sameState(a: VmTemplate, b: VmTemplate): Promise<boolean> {
  const [x, y] = await Promise.all([a, b].map((t) => stat(join(t.dir, 'state')).catch(() => undefined)));
  return x !== undefined && y !== undefined && x.ino === y.ino && x.dev === y.dev;
}

/**
 * Removes the template a clone's state came from, when that state cannot be
 * loaded, so that the next start makes a new one; a template made anew
 * meanwhile (another state) is kept.
 */
export async function discardTemplate(deps: Deps, clone: CloneFiles): Promise<void> {
  if (await sameState(clone.from, clone)) await discard(deps.config.factory.templatePath, clone.from.dir);
}
