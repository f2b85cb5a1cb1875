// `hako image build`: the agent, the guest kernel, the initramfs and the
// built-in busybox rootfs, each cached by the hash of its inputs (cache.ts)
// so that a second run, or CI on the same machine, reuses them. Shows
// progress as it goes; idempotent.
import { access, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { HakoError } from '../errors.js';
import type { Runner } from '../sys/runner.js';
import { cached, hashFile, hashTree, keyOf } from './cache.js';
import { currentPath, type CurrentImage } from './guest-image.js';
import { cloudKernel } from './cloud-kernel.js';

export const DEFAULT_KERNEL_SOURCE = '/usr/src/linux-source-6.1.tar.xz';

export interface ImageBuildOptions {
  readonly cacheDir: string;
  /** The Hako source tree (holds agent/ and guest/). */
  readonly repoDir: string;
  readonly kernelSource: string;
}

export interface ImageBuildDeps {
  readonly runner: Runner;
  readonly progress: (line: string) => void;
}

async function exists(p: string): Promise<boolean> {
  return access(p).then(
    () => true,
    () => false,
  );
}

async function findCargo(): Promise<string> {
  for (const c of [process.env['CARGO'], '/root/.cargo/bin/cargo', '/usr/bin/cargo']) {
    if (c && (await exists(c))) return c;
  }
  throw new HakoError('HOST_NOT_READY', 'cargo not found (rustup toolchain or apt-get install cargo)');
}

/** The shared libraries a binary loads, from ldd. */
async function libsOf(runner: Runner, binary: string): Promise<string[]> {
  const r = await runner.run(['ldd', binary]);
  if (r.code !== 0) return [];
  return [...r.stdout.matchAll(/(?:=>\s*)?(\/\S+)\s+\(0x/g)]
    .map((m) => m[1] ?? '')
    .filter((p) => p.length > 0);
}

async function runStep(
  deps: ImageBuildDeps,
  argv: string[],
  what: string,
  opts: { cwd?: string } = {},
): Promise<void> {
  const tail: string[] = [];
  const r = await deps.runner.run(argv, {
    timeoutMs: 3 * 60 * 60 * 1000,
    ...opts,
    onLine: (line) => {
      tail.push(line);
      if (tail.length > 20) tail.shift();
      const l = line.trim();
      if (/^(kernel|initramfs|rootfs):|^\s*(Compiling|Finished)/.test(l)) deps.progress(`  ${l}`);
    },
  });
  if (r.code !== 0) {
    throw new HakoError('IMAGE_BUILD_FAILED', `${what} failed (exit ${r.code}):\n${tail.join('\n')}`);
  }
}

export async function buildAgent(deps: ImageBuildDeps, repoDir: string): Promise<string> {
  const cargo = await findCargo();
  await runStep(deps, [cargo, 'build', '--release', '--locked'], 'cargo build of the agent', {
    cwd: join(repoDir, 'agent'),
  });
  return join(repoDir, 'agent', 'target', 'x86_64-unknown-linux-gnu', 'release', 'hako-agent');
}

interface KernelResult {
  readonly kernel: string;
  readonly release: string;
  readonly source: CurrentImage['kernelSource'];
  /** Modules the initramfs must carry (fallback kernel only). */
  readonly modules: readonly string[];
}

async function buildKernel(deps: ImageBuildDeps, opts: ImageBuildOptions): Promise<KernelResult> {
  const script = join(opts.repoDir, 'guest', 'kernel', 'build.sh');
  const fragment = join(opts.repoDir, 'guest', 'kernel', 'hako.config');
  try {
    if (!(await exists(opts.kernelSource))) {
      throw new HakoError(
        'IMAGE_BUILD_FAILED',
        `${opts.kernelSource} is missing (apt-get install linux-source-6.1)`,
      );
    }
    const key = keyOf([
      ['script', await hashFile(script)],
      ['fragment', await hashFile(fragment)],
      ['source', await hashFile(opts.kernelSource)],
    ]);
    const entry = await cached(opts.cacheDir, 'kernel', key, (dir) =>
      runStep(deps, ['sh', script, opts.kernelSource, dir], 'kernel build'),
    );
    deps.progress(`  kernel: ${entry.reused ? 'reused' : 'built'} ${entry.dir}`);
    const release = (await readFile(join(entry.dir, 'release'), 'utf8')).trim();
    return { kernel: join(entry.dir, 'vmlinux'), release, source: 'built', modules: [] };
  } catch (e) {
    deps.progress(`WARNING: the minimal kernel could not be built: ${(e as Error).message.split('\n')[0]}`);
    deps.progress("WARNING: falling back to Debian's cloud kernel: boots about 2x slower, 9p unavailable");
    return cloudKernel(deps, opts);
  }
}

function modulesDir(kernel: KernelResult): string[] {
  const first = kernel.modules[0];
  return first === undefined ? [] : [first.slice(0, first.lastIndexOf('/'))];
}

async function buildInitramfs(
  deps: ImageBuildDeps,
  opts: ImageBuildOptions,
  agent: string,
  kernel: KernelResult,
) {
  const script = join(opts.repoDir, 'guest', 'initramfs', 'build.sh');
  // The agent enters the key by its sources (the binary embeds build paths).
  const agentSources = [
    ...(await hashTree(join(opts.repoDir, 'agent'), ['target'])),
    ...(await hashTree(join(opts.repoDir, 'proto'))),
  ];
  const binaries = ['/usr/bin/crun', '/bin/busybox'];
  const stub = join(opts.repoDir, 'guest', 'initramfs', 'sdstub');
  const parts: [string, string][] = [
    ['script', await hashFile(script)],
    ['sd-stub.c', await hashFile(join(stub, 'sd-stub.c'))],
    ['sd-stub.map', await hashFile(join(stub, 'sd-stub.map'))],
    ...agentSources,
  ];
  for (const b of binaries) {
    parts.push([b, await hashFile(b)]);
    for (const lib of await libsOf(deps.runner, b)) parts.push([lib, await hashFile(lib)]);
  }
  for (const m of kernel.modules) parts.push([m, await hashFile(m)]);
  const entry = await cached(opts.cacheDir, 'initramfs', keyOf(parts), (dir) =>
    runStep(
      deps,
      ['sh', script, agent, join(dir, 'initramfs.cpio'), ...modulesDir(kernel)],
      'initramfs build',
    ),
  );
  deps.progress(`  initramfs: ${entry.reused ? 'reused' : 'built'} ${entry.dir}`);
  return join(entry.dir, 'initramfs.cpio');
}

async function buildRootfs(deps: ImageBuildDeps, opts: ImageBuildOptions): Promise<string> {
  const script = join(opts.repoDir, 'guest', 'rootfs', 'build.sh');
  const key = keyOf([
    ['script', await hashFile(script)],
    ['busybox', await hashFile('/bin/busybox')],
  ]);
  const entry = await cached(opts.cacheDir, 'rootfs', key, (dir) =>
    runStep(deps, ['sh', script, join(dir, 'rootfs')], 'rootfs build'),
  );
  deps.progress(`  rootfs: ${entry.reused ? 'reused' : 'built'} ${entry.dir}`);
  return join(entry.dir, 'rootfs');
}

export async function buildImage(deps: ImageBuildDeps, opts: ImageBuildOptions): Promise<CurrentImage> {
  const t0 = Date.now();
  const step = (n: number, what: string) =>
    deps.progress(`[${n}/4] ${what} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  step(1, 'agent: cargo build --release');
  const agent = await buildAgent(deps, opts.repoDir);
  step(2, 'kernel: minimal guest kernel from linux-source-6.1');
  const kernel = await buildKernel(deps, opts);
  step(3, 'initramfs: agent, crun, busybox');
  const initrd = await buildInitramfs(deps, opts, agent, kernel);
  step(4, 'rootfs: built-in busybox image');
  const rootfs = await buildRootfs(deps, opts);
  const current: CurrentImage = {
    kernel: kernel.kernel,
    initrd,
    rootfs,
    kernelRelease: kernel.release,
    kernelSource: kernel.source,
  };
  await writeFile(currentPath(opts.cacheDir), JSON.stringify(current, null, 1));
  deps.progress(`image ready in ${((Date.now() - t0) / 1000).toFixed(1)} s: ${currentPath(opts.cacheDir)}`);
  return current;
}
